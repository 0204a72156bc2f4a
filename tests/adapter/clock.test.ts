/**
 * adapter/clock.ts: the protocols' clock is wall time read once, advanced
 * by the monotonic clock, so a stepped system clock changes no duration a
 * node measures (leases, grants, deadlines). The real-process twin, a node's
 * wall clock stepped 30 s under load: tests/cluster/clock-step.test.ts.
 */
import { afterEach, expect, test } from "bun:test";
import { realClock } from "../../adapter/clock.ts";

const realDateNow = Date.now;
afterEach(() => {
  Date.now = realDateNow;
});

test("the clock starts at wall time, in whole milliseconds", () => {
  const t = realClock.now();
  expect(Number.isInteger(t)).toBe(true);
  expect(Math.abs(t - Date.now())).toBeLessThan(50);
});

test("a step of the system clock, forward or back, moves the protocols' clock not at all", () => {
  const before = realClock.now();
  Date.now = () => realDateNow() + 30_000;
  const ahead = realClock.now();
  Date.now = () => realDateNow() - 30_000;
  const behind = realClock.now();
  expect(ahead - before).toBeLessThan(50);
  expect(behind).toBeGreaterThanOrEqual(ahead);
  expect(behind - before).toBeLessThan(50);
});

test("it never runs backwards, and follows elapsed time", async () => {
  let last = realClock.now();
  const start = last;
  const t0 = performance.now();
  for (let i = 0; i < 100_000; i++) {
    const t = realClock.now();
    expect(t >= last).toBe(true);
    last = t;
  }
  await new Promise((r) => setTimeout(r, 30));
  const elapsed = performance.now() - t0;
  expect(Math.abs(realClock.now() - start - elapsed)).toBeLessThan(2);
});
