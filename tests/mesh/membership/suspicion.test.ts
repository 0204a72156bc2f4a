import { describe, expect, test } from "bun:test";
import { Suspicion, suspicionTimeout } from "../../../mesh/membership/suspicion.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";

describe("suspicion timeout (Lifeguard)", () => {
  test("starts at the maximum and reaches the minimum after k confirmations", () => {
    expect(suspicionTimeout(0, 3, 1000, 6000)).toBe(6000);
    expect(suspicionTimeout(3, 3, 1000, 6000)).toBe(1000);
    expect(suspicionTimeout(10, 3, 1000, 6000)).toBe(1000);
  });

  test("shrinks as the log of confirmations: max - (max - min) * log(c + 1) / log(k + 1)", () => {
    // k = 3: c = 1 -> log 2 / log 4 = 0.5 of the way down.
    expect(suspicionTimeout(1, 3, 1000, 6000)).toBe(3500);
    const c2 = Math.floor(6000 - 5000 * (Math.log(3) / Math.log(4)));
    expect(suspicionTimeout(2, 3, 1000, 6000)).toBe(c2);
    // Monotonically non-increasing.
    let prev = Infinity;
    for (let c = 0; c <= 5; c++) {
      const t = suspicionTimeout(c, 4, 800, 5000);
      expect(t).toBeLessThanOrEqual(prev);
      prev = t;
    }
  });

  test("with no confirmations expected (k = 0) the timeout is the minimum", () => {
    expect(suspicionTimeout(0, 0, 1000, 6000)).toBe(1000);
  });

  test("a timer fires at the maximum when unconfirmed", () => {
    const clock = new SimClock(0);
    let firedAt = -1;
    new Suspicion(clock, "a", 2, 1000, 2000, () => {
      firedAt = clock.now();
    });
    clock.advance(1999);
    expect(firedAt).toBe(-1);
    clock.advance(1);
    expect(firedAt).toBe(2000);
  });

  test("confirmations from distinct members shorten the running timer; repeats and the originator do not count", () => {
    const clock = new SimClock(0);
    let firedAt = -1;
    const s = new Suspicion(clock, "a", 2, 1000, 2000, () => {
      firedAt = clock.now();
    });
    expect(s.confirm("a")).toBe(false); // the originator
    clock.advance(100);
    expect(s.confirm("b")).toBe(true);
    expect(s.confirm("b")).toBe(false);
    expect(s.confirmations).toBe(1);
    // 1 of 2: 2000 - 1000 * log 2 / log 3 = 1369.
    expect(s.timeoutMs).toBe(1369);
    clock.advance(1268);
    expect(firedAt).toBe(-1);
    clock.advance(1);
    expect(firedAt).toBe(1369);
  });

  test("a confirmation that brings the timeout below the elapsed time fires at once", () => {
    const clock = new SimClock(0);
    let fired = 0;
    const s = new Suspicion(clock, "a", 1, 500, 3000, () => fired++);
    clock.advance(800);
    s.confirm("b");
    clock.advance(0);
    expect(fired).toBe(1);
  });

  test("a cancelled suspicion never fires", () => {
    const clock = new SimClock(0);
    let fired = 0;
    const s = new Suspicion(clock, "a", 1, 500, 1000, () => fired++);
    s.cancel();
    clock.advance(5000);
    expect(fired).toBe(0);
    expect(s.confirm("b")).toBe(false);
  });
});
