/**
 * StalledCalls (mesh/registry/stalled-calls.ts) on a virtual clock: a call
 * that arrives while the node is behind waits HOLD_MS; one whose caller
 * cancels it meanwhile is refused, once, and the others run in the order
 * they came; nothing is held while the node keeps up.
 */
import { describe, expect, test } from "bun:test";
import { HOLD_MS, StalledCalls } from "../../../mesh/registry/stalled-calls.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";

describe("calls held after a stall", () => {
  test("while the node keeps up, nothing is held", () => {
    const clock = new SimClock();
    const s = new StalledCalls(clock.view(), () => false);
    expect(s.hold("a", 1, () => {}, () => {})).toBe(false);
  });

  test("held HOLD_MS while behind; a cancelled one is refused once, the rest run in arrival order; a cancel for another call changes nothing", () => {
    const clock = new SimClock();
    const s = new StalledCalls(clock.view(), () => true);
    const seen: string[] = [];
    for (const [origin, id] of [["a", 1], ["b", 1], ["a", 2]] as const) {
      expect(s.hold(origin, id, () => seen.push(`run ${origin}:${id}`), () => seen.push(`refuse ${origin}:${id}`))).toBe(true);
    }
    s.cancel("b", 1);
    s.cancel("c", 9); // not held here: nothing
    clock.advance(HOLD_MS - 1);
    expect(seen).toEqual([]);
    clock.advance(1);
    expect(seen).toEqual(["run a:1", "refuse b:1", "run a:2"]);
    expect(s.refused).toBe(1);
    s.cancel("a", 1); // too late: it ran
    clock.advance(10 * HOLD_MS);
    expect(seen.length).toBe(3);
  });

  test("each call waits its own HOLD_MS: one that came later is not released with the first", () => {
    const clock = new SimClock();
    const s = new StalledCalls(clock.view(), () => true);
    const seen: string[] = [];
    s.hold("a", 1, () => seen.push("a1"), () => seen.push("refused a1"));
    clock.advance(HOLD_MS - 10);
    s.hold("a", 2, () => seen.push("a2"), () => seen.push("refused a2"));
    clock.advance(10);
    expect(seen).toEqual(["a1"]);
    clock.advance(HOLD_MS - 20);
    s.cancel("a", 2); // still held: refused
    clock.advance(20);
    expect(seen).toEqual(["a1", "refused a2"]);
  });

  test("stop answers what is held unrun (refused, saying the registry stopped); nothing runs after", () => {
    const clock = new SimClock();
    const s = new StalledCalls(clock.view(), () => true);
    const seen: string[] = [];
    s.hold("a", 1, () => seen.push("ran"), (why) => seen.push(why));
    s.stop();
    clock.advance(10 * HOLD_MS);
    expect(seen).toEqual(["registry stopped"]);
  });
});
