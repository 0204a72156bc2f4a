import { describe, expect, test } from "bun:test";
import { compareIds, idStartTime, newMemberId } from "../../../mesh/membership/identity.ts";
import { ALIVE, DEAD, LEFT, SUSPECT, type Update } from "../../../mesh/membership/messages.ts";
import { judge, MemberTable, type MemberRecord, type Verdict } from "../../../mesh/membership/state.ts";
import type { MemberState } from "../../../mesh/membership/types.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import { SeededRandom } from "../../../mesh/sim/random.ts";

const OLD = "018bcfe56800aaaaaaaa";
const NEW = "018bcfe5f000bbbbbbbb";
const rec = (state: MemberState, incarnation: number, id = OLD): MemberRecord => ({
  name: "x",
  id,
  address: "x:1",
  state,
  incarnation,
  since: 0,
});
const news = (k: Update["k"], c: number, i = OLD): Update => ({ k, n: "x", i, a: "x:1", c });
const K = { alive: ALIVE, suspect: SUSPECT, dead: DEAD, left: LEFT } as const;

describe("identities", () => {
  test("ids order by process start time, then randomness", () => {
    const clock = new SimClock(1_700_000_000_000);
    const a = newMemberId(clock, new SeededRandom(1));
    clock.advance(1);
    const b = newMemberId(clock, new SeededRandom(1));
    expect(compareIds(a, b)).toBeLessThan(0);
    expect(compareIds(b, a)).toBeGreaterThan(0);
    expect(compareIds(a, a)).toBe(0);
    expect(idStartTime(a)).toBe(1_700_000_000_000);
    const c = newMemberId(clock, new SeededRandom(2));
    expect(c).not.toBe(b);
    expect(c.slice(0, 12)).toBe(b.slice(0, 12));
  });
});

describe("precedence: same identity", () => {
  // [held state, held inc, news kind, news inc, verdict]
  const table: Array<[MemberState, number, keyof typeof K, number, Verdict]> = [
    ["alive", 3, "alive", 4, "update"],
    ["alive", 3, "alive", 3, "ignore"],
    ["alive", 3, "alive", 2, "ignore"],
    ["alive", 3, "suspect", 3, "update"],
    ["alive", 3, "suspect", 2, "ignore"],
    ["alive", 3, "dead", 3, "update"],
    ["alive", 3, "dead", 2, "ignore"],
    ["alive", 3, "left", 3, "update"],
    ["suspect", 3, "alive", 4, "update"],
    ["suspect", 3, "alive", 3, "ignore"],
    ["suspect", 3, "suspect", 3, "confirm"],
    ["suspect", 3, "suspect", 4, "confirm"],
    ["suspect", 3, "suspect", 2, "ignore"],
    ["suspect", 3, "dead", 3, "update"],
    ["suspect", 3, "left", 3, "update"],
    ["dead", 3, "alive", 4, "update"],
    ["dead", 3, "alive", 3, "ignore"],
    ["dead", 3, "suspect", 9, "ignore"],
    ["dead", 3, "dead", 9, "ignore"],
    ["dead", 3, "left", 3, "update"],
    ["left", 3, "alive", 9, "ignore"],
    ["left", 3, "suspect", 9, "ignore"],
    ["left", 3, "dead", 9, "ignore"],
    ["left", 3, "left", 9, "ignore"],
  ];
  for (const [st, c, k, u, want] of table) {
    test(`held ${st}(${c}) + ${k}(${u}) -> ${want}`, () => {
      expect(judge(rec(st, c), news(K[k], u))).toBe(want);
    });
  }
});

describe("precedence: identities of one name", () => {
  test("news about an older identity is ignored, whatever it says", () => {
    for (const st of ["alive", "suspect", "dead", "left"] as const) {
      for (const k of [ALIVE, SUSPECT, DEAD, LEFT] as const) {
        expect(judge(rec(st, 0, NEW), news(k, 1000, OLD))).toBe("ignore");
      }
    }
  });

  test("a newer identity alive or suspect replaces any record", () => {
    for (const st of ["alive", "suspect", "dead", "left"] as const) {
      expect(judge(rec(st, 7, OLD), news(ALIVE, 0, NEW))).toBe("replace");
      expect(judge(rec(st, 7, OLD), news(SUSPECT, 0, NEW))).toBe("replace");
    }
  });

  test("a newer identity's death cannot remove a live record; it updates a tombstone", () => {
    expect(judge(rec("alive", 0, OLD), news(DEAD, 0, NEW))).toBe("ignore");
    expect(judge(rec("suspect", 0, OLD), news(LEFT, 0, NEW))).toBe("ignore");
    expect(judge(rec("dead", 0, OLD), news(DEAD, 0, NEW))).toBe("replace");
    expect(judge(rec("left", 0, OLD), news(LEFT, 0, NEW))).toBe("replace");
  });

  test("an unknown name is recorded", () => {
    expect(judge(undefined, news(ALIVE, 0))).toBe("new");
    expect(judge(undefined, news(DEAD, 0))).toBe("new");
  });
});

describe("member table", () => {
  test("indexes of live and dead members follow every change", () => {
    const rng = new SeededRandom(7);
    const mk = (name: string, state: MemberState): MemberRecord => ({ name, id: OLD, address: name, state, incarnation: 0, since: 0 });
    const t = new MemberTable(mk("self", "alive"));
    const states = ["alive", "suspect", "dead", "left"] as const;
    for (let i = 0; i < 5000; i++) {
      const name = `m${rng.int(20)}`;
      const st = states[rng.int(4)]!;
      const op = rng.int(3);
      if (op === 0) t.set(mk(name, st));
      else if (op === 1) {
        const r = t.get(name);
        if (r) t.change(r, st, r.incarnation + 1, i);
      } else t.delete(name);
      const all = [...t.values()].filter((r) => r.name !== "self");
      const live = all.filter((r) => r.state === "alive" || r.state === "suspect").map((r) => r.name).sort();
      expect(t.others.map((r) => r.name).sort()).toEqual(live);
      expect(t.dead.map((r) => r.name).sort()).toEqual(all.filter((r) => r.state === "dead").map((r) => r.name).sort());
      expect(t.liveCount).toBe(live.length + 1);
    }
  });

  test("sampling returns distinct members passing the filter, recent dead ones only when asked", () => {
    const rng = new SeededRandom(3);
    const t = new MemberTable({ name: "self", id: OLD, address: "s", state: "alive", incarnation: 0, since: 0 });
    for (let i = 0; i < 50; i++) t.set({ name: `a${i}`, id: OLD, address: `a${i}`, state: "alive", incarnation: 0, since: 0 });
    t.set({ name: "d-old", id: OLD, address: "d1", state: "dead", incarnation: 0, since: 10 });
    t.set({ name: "d-new", id: OLD, address: "d2", state: "dead", incarnation: 0, since: 1000 });
    for (let i = 0; i < 200; i++) {
      const s = t.sample(rng, 3, (r) => r.name !== "a0", 500);
      expect(new Set(s.map((r) => r.name)).size).toBe(s.length);
      for (const r of s) {
        expect(r.name).not.toBe("a0");
        expect(r.name).not.toBe("d-old");
        expect(r.name).not.toBe("self");
      }
    }
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) for (const r of t.sample(rng, 3, undefined, 500)) seen.add(r.name);
    expect(seen.has("d-new")).toBe(true);
    expect(seen.has("d-old")).toBe(false);
    expect(t.sample(rng, 3).some((r) => r.state === "dead")).toBe(false);
  });
});
