/**
 * The Raft lot's state machine (core/parking/lot-machine.ts): the rules, refusals
 * that change nothing, snapshots that round-trip every plate, and the same
 * decisions on every replica even when nodes were started with different
 * --spaces (the lot's size travels in the commands).
 */
import { describe, expect, test } from "bun:test";
import { LotMachine } from "../../../core/parking/lot-machine.ts";

const park = (plate: string, spaces?: number) => ({ t: "park", gate: 1, plate, at: "2026-12-02T00:00:00.000Z", node: "a", ...(spaces === undefined ? {} : { spaces }) });
const unpark = (plate: string) => ({ t: "unpark", gate: 2, plate });
const codeOf = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    return (e as { code: string }).code;
  }
};

describe("the lot machine", () => {
  test("parks, parks again as a no-op, refuses a full lot, unparks, refuses a car not parked; counts per gate", () => {
    const m = new LotMachine(2);
    expect(m.apply(park("A"))).toEqual({ parked: true });
    expect(m.apply(park("A"))).toEqual({ parked: false });
    expect(m.apply(park("B"))).toEqual({ parked: true });
    expect(codeOf(() => m.apply(park("C")))).toBe("lot_full");
    expect(m.apply(unpark("A"))).toEqual({ unparked: true });
    expect(codeOf(() => m.apply(unpark("A")))).toBe("not_parked");
    expect(m.info()).toMatchObject({ spaces: 2, occupied: 1, available: 1 });
    expect(m.counters(1)).toEqual({ entries: 2, exits: 0 });
    expect(m.counters(2)).toEqual({ entries: 0, exits: 1 });
  });

  test("malformed commands are refused and change nothing", () => {
    const m = new LotMachine(5);
    for (const bad of [null, 7, {}, { t: "park", gate: 0, plate: "A", at: "t", node: "a" }, { t: "park", gate: 1, plate: "", at: "t", node: "a" }, { t: "park", gate: 1, plate: "A" }, { t: "fly", gate: 1, plate: "A" }]) {
      expect(codeOf(() => m.apply(bad))).not.toBeNull();
    }
    expect(m.info().occupied).toBe(0);
  });

  test("a snapshot restores every car, counter and the lot's size; __proto__ and friends included", () => {
    const m = new LotMachine(10);
    for (const p of ["__proto__", "constructor", "toString", "A 1"]) m.apply(park(p, 4));
    const r = new LotMachine(99);
    r.restore(m.snapshot());
    expect(r.info()).toEqual(m.info());
    expect(Object.keys(r.info().vehicles)).toEqual(["A 1", "__proto__", "constructor", "toString"]);
    expect(r.spaces).toBe(4);
    r.reset();
    expect(r.info()).toMatchObject({ spaces: 99, occupied: 0 });
  });

  test("replicas started with different --spaces decide alike: the size comes with each park", () => {
    const small = new LotMachine(1);
    const big = new LotMachine(100);
    const cmds = [park("A", 2), park("B", 2), park("C", 2), unpark("A"), park("C", 3), park("D", 3)];
    const outcome = (m: LotMachine) => cmds.map((c) => codeOf(() => m.apply(c)) ?? "ok");
    expect(outcome(small)).toEqual(outcome(big));
    expect(small.info()).toEqual(big.info());
    expect(big.info()).toMatchObject({ spaces: 3, occupied: 3 });
  });
});
