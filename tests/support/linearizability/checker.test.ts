/**
 * The lot's linearizability checker on hand-written histories: what it must
 * accept, and negative controls it must reject, each next to the smallest
 * change that makes it linearizable again (so a rejection is for the
 * reason named, not for something else in the history).
 */
import { describe, expect, test } from "bun:test";
import { checkLot, historyRecorder, type LotHistory, type LotOp, type LotResult } from "./index.ts";

const OK: LotResult = { ok: true };
const FULL: LotResult = { ok: false, code: "lot_full" };
const NOT_PARKED: LotResult = { ok: false, code: "not_parked" };
const UNAVAILABLE: LotResult = { ok: false, code: "unavailable" };

let nextId = 0;
function op(client: number, kind: LotOp["kind"], plate: string | undefined, call: number, ret: number | null, result: LotResult | null): LotOp {
  return { id: nextId++, client, kind, plate, call, ret, result };
}
const park = (c: number, plate: string, call: number, ret: number | null, r: LotResult | null = OK) => op(c, "park", plate, call, ret, r);
const unpark = (c: number, plate: string, call: number, ret: number | null, r: LotResult | null = OK) => op(c, "unpark", plate, call, ret, r);
const read = (c: number, call: number, ret: number, cars: string[]) => op(c, "read", undefined, call, ret, { ok: true, cars, occupied: cars.length });

function accepts(h: LotHistory, spaces: number): void {
  const r = checkLot(h, spaces);
  if (r.ok !== true) throw new Error(`expected linearizable, got ${r.ok}: ${"reason" in r ? r.reason : ""}`);
}
function rejects(h: LotHistory, spaces: number): void {
  const r = checkLot(h, spaces);
  expect(r.ok).toBe(false);
}

describe("accepts", () => {
  test("a sequential history exercising every outcome of the model", () => {
    accepts(
      [
        park(1, "A", 0, 1),
        park(1, "B", 2, 3),
        read(1, 4, 5, ["A", "B"]),
        park(1, "C", 6, 7, FULL),
        park(1, "B", 8, 9), // already parked: ok, a no-op
        unpark(1, "A", 10, 11),
        unpark(1, "A", 12, 13, NOT_PARKED),
        read(1, 14, 15, ["B"]),
        park(1, "C", 16, 17),
        read(1, 18, 19, ["B", "C"]),
      ],
      2,
    );
  });

  test("overlapping parks into the last space: exactly one wins, whichever was called first", () => {
    const h = (bWins: boolean) => [
      park(1, "A", 0, 1),
      park(2, "B", 10, 20, bWins ? OK : FULL),
      park(3, "C", 12, 22, bWins ? FULL : OK),
      read(1, 30, 31, bWins ? ["A", "B"] : ["A", "C"]),
    ];
    accepts(h(true), 2);
    accepts(h(false), 2);
  });

  test("an indeterminate park that a later read sees, and that takes the last space", () => {
    accepts([park(1, "A", 0, null, null), read(2, 10, 11, ["A"]), park(2, "B", 12, 13, FULL)], 1);
    accepts([park(1, "A", 0, 3, UNAVAILABLE), read(2, 5, 6, []), read(2, 10, 11, ["A"])], 1);
  });

  test("an indeterminate park that is never seen", () => {
    accepts([park(1, "A", 0, 2, UNAVAILABLE), read(2, 10, 11, []), park(2, "B", 12, 13), read(2, 14, 15, ["B"])], 1);
  });

  test("intervals that touch (one returns when the next is called) count as concurrent", () => {
    accepts([park(1, "A", 0, 2), read(2, 2, 3, [])], 1);
  });

  test("a read order that needs the checker to reorder three clients' operations", () => {
    // C's park is called last but must take effect first for both reads to hold.
    accepts([park(1, "A", 0, 50), park(2, "B", 1, 50), park(3, "C", 2, 50), read(4, 3, 10, ["C"]), read(4, 11, 20, ["B", "C"])], 3);
  });
});

describe("rejects (negative controls)", () => {
  test("a read that misses a park acknowledged before the read began", () => {
    rejects([park(1, "A", 0, 1), read(2, 2, 3, [])], 1);
    accepts([park(1, "A", 0, 2.5), read(2, 2, 3, [])], 1); // overlapping: fine
  });

  test("two parks both ok into one space with no unpark", () => {
    rejects([park(1, "A", 0, 5), park(2, "B", 1, 6)], 1);
    accepts([park(1, "A", 0, 5), unpark(3, "A", 2, 4), park(2, "B", 1, 6)], 1);
  });

  test("lot_full when the lot provably had room", () => {
    rejects([park(1, "A", 0, 1), park(2, "B", 2, 3, FULL)], 2);
    accepts([park(1, "A", 0, 1), park(3, "C", 2, 4), park(2, "B", 2, 3, FULL)], 2); // C may have taken the room
  });

  test("a stale read: the unpark returned, the read still shows the car", () => {
    rejects([park(1, "A", 0, 1), unpark(1, "A", 2, 3), read(2, 4, 5, ["A"])], 1);
    accepts([park(1, "A", 0, 1), unpark(1, "A", 2, 4.5), read(2, 4, 5, ["A"])], 1);
  });

  test("not_parked for a car that was parked and acknowledged", () => {
    rejects([park(1, "A", 0, 1), unpark(2, "A", 2, 3, NOT_PARKED)], 1);
    accepts([park(1, "A", 0, 1), unpark(2, "A", 0.5, 3, NOT_PARKED)], 1);
  });

  test("a read showing a car whose park never happened", () => {
    rejects([read(1, 0, 1, ["A"])], 1);
    rejects([read(1, 0, 1, ["A"]), park(2, "A", 2, 3)], 1); // parked only after the read
    rejects([read(1, 0, 1, ["A"]), park(2, "A", 2, null, null)], 1); // an indeterminate op acts only after its call
    rejects([park(2, "A", 0, 1, FULL), read(1, 2, 3, ["A"])], 0); // a refused park never parks
    accepts([read(1, 0, 1, ["A"]), park(2, "A", 0.5, 3)], 1);
  });

  test("an indeterminate park cannot both have happened and not have happened", () => {
    // B was refused for lack of room, so A's lost park took effect before it;
    // nothing unparks A, yet the last read has an empty lot.
    rejects([park(1, "A", 0, null, null), read(2, 1, 2, []), park(2, "B", 3, 4, FULL), read(2, 5, 6, [])], 1);
    accepts([park(1, "A", 0, null, null), read(2, 1, 2, []), park(2, "B", 3, 4, FULL), read(2, 5, 6, ["A"])], 1);
  });

  test("a read with more cars than spaces, a plate twice, or a count that disagrees", () => {
    rejects([park(1, "A", 0, 10), park(2, "B", 0, 10), read(3, 20, 21, ["A", "B"])], 1);
    rejects([park(1, "A", 0, 1), read(3, 20, 21, ["A", "A"])], 2);
    rejects([park(1, "A", 0, 1), op(3, "read", undefined, 20, 21, { ok: true, cars: ["A"], occupied: 2 })], 2);
    accepts([park(1, "A", 0, 1), op(3, "read", undefined, 20, 21, { ok: true, cars: ["A"], occupied: 1 })], 2);
  });

  test("park answering already when the car was not there, or admitted when it was", () => {
    rejects([park(1, "A", 0, 1, { ok: true, already: true })], 1);
    rejects([park(1, "A", 0, 1), park(1, "A", 2, 3, { ok: true, already: false })], 1);
    accepts([park(1, "A", 0, 1, { ok: true, already: false }), park(1, "A", 2, 3, { ok: true, already: true })], 1);
  });

  test("answers the model never gives: park -> not_parked, unpark -> lot_full", () => {
    rejects([park(1, "A", 0, 1, NOT_PARKED)], 1);
    rejects([park(1, "A", 0, 1), unpark(1, "A", 2, 3, FULL)], 1);
  });
});

describe("reporting and options", () => {
  test("a rejection names the stuck op, the longest prefix and the lot after it", () => {
    const a = park(1, "A", 0, 1);
    const b = park(1, "B", 2, 3);
    const r1 = read(2, 4, 5, ["A"]);
    const r = checkLot([a, b, r1], 2);
    if (r.ok !== false) throw new Error("expected a rejection");
    expect(r.stuck).toBe(r1);
    expect(r.longestPrefix).toEqual([a, b]);
    expect(r.carsAfterPrefix).toEqual(["A", "B"]);
    expect(r.reason).toContain(`#${r1.id} client 2 read() -> ok [A] occupied 1`);
    expect(r.reason).toContain("the lot holds [A, B] (2 of 2 spaces)");
  });

  test("a refusal before any effect (invalid_name...) is dropped; an unknown code is indeterminate", () => {
    const h = [park(1, "A", 0, 1, { ok: false, code: "unknown_gate" }), read(2, 5, 6, ["A"])];
    rejects(h, 1); // unknown_gate: the park did nothing
    expect(checkLot(h, 1, { noEffectCodes: [] }).ok).toBe(true); // may have parked A
    const internal = [park(1, "A", 0, 1, { ok: false, code: "internal" }), read(2, 5, 6, ["A"])];
    accepts(internal, 1);
  });

  test("an exhausted budget answers unknown instead of searching on", () => {
    // 12 acknowledged parks into 6 spaces: refuting it means trying every
    // way to fill the lot (about 20,000 steps).
    const h: LotOp[] = [];
    for (let c = 0; c < 12; c++) h.push(park(c, `P${c}`, 0, 100));
    const full = checkLot(h, 6);
    expect(full.ok).toBe(false);
    expect(full.steps).toBeGreaterThan(5000);
    expect(checkLot(h, 6, { maxSteps: 2000 }).ok).toBe("unknown");
    let t = 0;
    const timed = checkLot(h, 6, { maxMs: 5, now: () => (t += 1) }); // this clock ticks 1 ms per look (every 1,024 steps)
    expect(timed.ok).toBe("unknown");
    expect(timed.steps).toBeLessThan(full.steps);
  });

  test("malformed histories are refused loudly", () => {
    expect(() => checkLot([park(1, "A", 5, 4)], 1)).toThrow(/ret must be/);
    expect(() => checkLot([op(1, "park", undefined, 0, 1, OK)], 1)).toThrow(/needs a plate/);
    expect(() => checkLot([], -1)).toThrow(/spaces/);
  });
});

describe("historyRecorder", () => {
  test("records call and return times on the given clock; a throw is an unanswered op", async () => {
    let now = 0;
    const rec = historyRecorder(() => now);
    const done = rec.invoke("g1", "park", "A");
    now = 5;
    const pending = rec.run("g2", "read", undefined, async () => ({ ok: true, cars: [] }));
    now = 7;
    done(OK);
    await pending;
    now = 9;
    const failed = await rec.run("g3", "unpark", "A", async () => {
      throw new Error("connection reset");
    });
    expect(failed).toMatchObject({ ok: false, code: "unavailable" });
    rec.invoke("g4", "park", "B"); // never completes
    const h = rec.history();
    expect(h.map((o) => [o.client, o.call, o.ret])).toEqual([
      ["g1", 0, 7],
      ["g2", 5, 7],
      ["g3", 9, null],
      ["g4", 9, null],
    ]);
    expect(() => done(OK)).toThrow(/twice/);
    // The read (5..7) overlaps the park (0..7): an empty lot is a fine answer.
    expect(checkLot(h, 1).ok).toBe(true);
  });
});
