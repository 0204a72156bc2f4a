/** The model that judges final states: sound (allows what may happen) and strong (flags what may not). */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../core/errors.ts";
import { History, type OpKind } from "./history.ts";

const T = 1000; // call timeout

/** An op on key(s), attempted once, settled at `end` with `outcome`. */
function op(h: History, kind: OpKind, target: string, keys: string[], start: number, end: number, outcome: "ok" | string) {
  const o = h.begin(kind, target, keys, start, 10_000);
  h.attempt(o, "n1", 0, start);
  const r = outcome === "ok" ? { ok: true as const, value: undefined } : { ok: false as const, error: new RoomyError(outcome as "unavailable", outcome) };
  if (h.attemptDone(o, r, end) === "retry") h.giveUp(o, end);
  return o;
}

function judge(h: History, people: Record<string, string | null>, parked: string[] = []) {
  return h.judge((p) => people[p] ?? null, (x) => parked.includes(x));
}

describe("history model", () => {
  test("the last acknowledged write must be what remains", () => {
    const h = new History(T);
    op(h, "walk", "den", ["al"], 0, 5, "ok");
    op(h, "walk", "hall", ["al"], 10, 15, "ok");
    expect(judge(h, { al: "hall" }).violations).toEqual([]);
    expect(judge(h, { al: "den" }).violations).toHaveLength(1);
    expect(judge(h, { al: null }).violations).toHaveLength(1);
    expect(judge(h, { al: "hall" }).determined).toBe(1);
  });

  test("overlapping acknowledged writes may end either way", () => {
    const h = new History(T);
    op(h, "walk", "den", ["al"], 0, 20, "ok");
    op(h, "leave", "", ["al"], 10, 15, "ok");
    expect(judge(h, { al: "den" }).violations).toEqual([]);
    expect(judge(h, { al: null }).violations).toEqual([]);
    expect(judge(h, { al: "hall" }).violations).toHaveLength(1);
  });

  test("an unknown outcome may win only within its window", () => {
    const h = new History(T);
    op(h, "walk", "den", ["al"], 0, 5, "unavailable"); // may take effect until 0 + T
    op(h, "walk", "hall", ["al"], 100, 105, "ok");
    expect(judge(h, { al: "den" }).violations).toEqual([]);
    const late = new History(T);
    op(late, "walk", "den", ["al"], 0, 5, "unavailable");
    op(late, "walk", "hall", ["al"], 5000, 5005, "ok"); // invoked after den's window closed
    expect(judge(late, { al: "den" }).violations).toHaveLength(1);
  });

  test("a leave's write is stamped when it is made: its window is its invocation", () => {
    const h = new History(T);
    op(h, "leave", "", ["al"], 0, 3000, "unavailable");
    op(h, "walk", "hall", ["al"], 500, 505, "ok");
    expect(judge(h, { al: null }).violations).toHaveLength(1);
  });

  test("definite refusals took no effect; a refusal after an uncertain attempt proves nothing", () => {
    const h = new History(T);
    op(h, "walk", "den", ["al"], 0, 5, "ok");
    op(h, "walk", "attic", ["al"], 10, 15, "room_full");
    expect(judge(h, { al: "attic" }).violations).toHaveLength(1);

    const u = new History(T);
    op(u, "park", "1", ["AB 1"], 0, 5, "ok");
    const o = u.begin("unpark", "1", ["AB 1"], 10, 10_000);
    u.attempt(o, "n1", 0, 10);
    expect(u.attemptDone(o, { ok: false, error: new RoomyError("unavailable", "x") }, 20)).toBe("retry");
    u.attempt(o, "n2", 0, 30);
    u.attemptDone(o, { ok: false, error: new RoomyError("not_parked", "x") }, 35);
    expect(o.status).toBe("unknown");
    expect(judge(u, {}, []).violations).toEqual([]); // the first attempt may have let it out
  });

  test("a walk-into acknowledged as a no-op on a stale replica is caught", () => {
    const h = new History(T);
    op(h, "walk", "den", ["al"], 0, 5, "ok");
    op(h, "leave", "", ["al"], 10, 15, "ok");
    op(h, "walk", "den", ["al"], 20, 25, "ok"); // answered ok without writing: the owner had not seen the leave
    expect(judge(h, { al: null }).violations).toHaveLength(1);
  });

  test("a key never written by an acknowledged op may keep its initial value", () => {
    const h = new History(T);
    op(h, "park", "1", ["AB 1"], 0, 5, "unavailable");
    expect(judge(h, {}, []).violations).toEqual([]);
    expect(judge(h, {}, ["AB 1"]).violations).toEqual([]);
    op(h, "park", "2", ["AB 1"], 6000, 6005, "ok");
    expect(judge(h, {}, []).violations).toHaveLength(1);
  });

  test("ops on a crashed node are retried and judged by their whole span", () => {
    const h = new History(T);
    const o = h.begin("walk", "den", ["al"], 0, 10_000);
    h.attempt(o, "n1", 0, 0);
    expect(h.attemptDone(o, null, 50)).toBe("retry"); // its node died
    h.attempt(o, "n2", 0, 300);
    h.attemptDone(o, { ok: true, value: undefined }, 310);
    expect(o.status).toBe("ok");
    expect(judge(h, { al: "den" }).violations).toEqual([]);
    expect(judge(h, { al: null }).violations).toHaveLength(1);
  });
});
