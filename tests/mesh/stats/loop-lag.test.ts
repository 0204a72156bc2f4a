/**
 * Event-loop lag (mesh/stats/loop-lag.ts) on the simulated clock: a paused
 * process's timer runs late by its pause, which is the lag; the window
 * forgets it, the longest stall does not; stop() ends the timer.
 */
import { describe, expect, test } from "bun:test";
import { BEHIND_MS, startLoopLag } from "../../../mesh/stats/loop-lag.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";

describe("event-loop lag", () => {
  test("a loop that keeps up has no lag, and ticks every interval", () => {
    const world = new SimClock();
    const lag = startLoopLag(world.view(), { intervalMs: 100, windowMs: 1_000 });
    world.advance(1_000);
    expect(lag.stats()).toMatchObject({ lastMs: 0, windowMaxMs: 0, maxMs: 0, ticks: 10 });
    lag.stop();
  });

  test("behind: while a stall of BEHIND_MS or more goes on, and after it for as long as it lasted (at least 1 s); not for shorter lags", () => {
    const world = new SimClock();
    const clock = world.view();
    const lag = startLoopLag(clock, { intervalMs: 20 });
    world.advance(50);
    expect(lag.behind()).toBe(false);
    clock.stall(BEHIND_MS - 50); // a shorter stall: not behind, during or after
    world.advance(BEHIND_MS - 60);
    expect(lag.behind()).toBe(false);
    world.advance(100);
    expect(lag.behind()).toBe(false);
    clock.stall(1_500);
    world.advance(BEHIND_MS + 20); // overdue by BEHIND_MS: behind already, before any tick
    expect(lag.behind()).toBe(true);
    world.advance(1_500 - BEHIND_MS - 20); // the stall ends: its tick runs, 1.5 s late
    expect(lag.stats().lastMs).toBeGreaterThanOrEqual(1_400);
    expect(lag.behind()).toBe(true);
    world.advance(1_400); // ticks on time since, but still within the stall's own length
    expect(lag.behind()).toBe(true);
    world.advance(100);
    expect(lag.behind()).toBe(false);
    lag.stop();
  });

  test("a 2 s stall shows as the last and window lag, then leaves the window but stays the longest stall", () => {
    const world = new SimClock();
    const clock = world.view();
    const lag = startLoopLag(clock, { intervalMs: 100, windowMs: 1_000 });
    world.advance(250);
    clock.stall(2_000);
    world.advance(1_000);
    // Still stalled: the overdue tick already counts.
    expect(lag.stats().windowMaxMs).toBeGreaterThanOrEqual(900);
    world.advance(1_050);
    const after = lag.stats();
    // The tick due at 300 ms ran when the stall ended at 2,250 ms.
    expect(after.maxMs).toBe(1_950);
    expect(after.windowMaxMs).toBe(1_950);
    world.advance(1_200);
    expect(lag.stats()).toMatchObject({ lastMs: 0, windowMaxMs: 0, maxMs: 1_950 });
    lag.stop();
  });

  test("the longest stall notes, from the tick before it to its end, the process's CPU and major page faults and the loop thread's time on a CPU and waiting for one; the own stall leaves the waiting out; without a source, -1", () => {
    const world = new SimClock();
    const clock = world.view();
    const start = world.now();
    const since = () => world.now() - start;
    const lag = startLoopLag(clock, {
      intervalMs: 100,
      windowMs: 1_000,
      cpuMs: () => since() / 3, // a process that used a third of the wall time (a loaded machine)
      faults: () => Math.floor(since() / 50), // a major page fault every 50 ms
      thread: () => ({ ranMs: since() / 4, waitedMs: since() / 2 }), // its loop thread on a CPU a quarter of the time, waiting for one half of it
    });
    const bare = startLoopLag(clock, { intervalMs: 100, windowMs: 1_000 });
    world.advance(250);
    clock.stall(300);
    world.advance(1_000);
    const st = lag.stats();
    // The tick due at 300 ran at 550: 250 ms late, over 350 ms of wall time since the tick before.
    expect(st.maxMs).toBe(250);
    expect(st.maxCpuMs).toBeCloseTo(350 / 3, 6);
    expect(st.maxFaults).toBe(7); // read at the tick before (200 ms: 4 so far) and at its end (550 ms: 11)
    expect(st.maxRanMs).toBeCloseTo(350 / 4, 6);
    expect(st.maxWaitedMs).toBeCloseTo(350 / 2, 6);
    // Had it had a core throughout, it would have been 175 ms less late (75 ms); but it ran 87.5 ms in that span.
    expect(st.ownMaxMs).toBeCloseTo(87.5, 6);
    expect(bare.stats()).toMatchObject({ maxCpuMs: -1, maxFaults: -1, maxRanMs: -1, maxWaitedMs: -1, ownMaxMs: -1 });
    lag.stop();
    bare.stop();
  });

  /** A 100 ms lag timer whose loop thread's times the test sets (`times`), 150 ms in; `stall(ran, waited, ms)` stalls it so. */
  function threaded() {
    const world = new SimClock();
    const clock = world.view();
    const times = { ranMs: 0, waitedMs: 0 };
    const lag = startLoopLag(clock, { intervalMs: 100, windowMs: 1_000, thread: () => ({ ...times }) });
    world.advance(150);
    const stall = (ran: number, waited: number, ms: number): void => {
      times.ranMs += ran;
      times.waitedMs += waited;
      clock.stall(ms);
      world.advance(1_000);
    };
    return { lag, stall };
  }

  test("a callback that ran long while also waiting for a core counts its whole run", () => {
    const { lag, stall } = threaded();
    stall(60, 40, 100); // 60 ms of running and 40 ms of waiting for a core, in one callback
    expect(lag.stats().maxMs).toBe(50);
    // The lag less the wait would say 10 ms; the callback held the loop for its 60 ms of running, 50 of them late.
    expect(lag.stats().ownMaxMs).toBe(50);
    lag.stop();
  });

  test("a stall spent waiting for a core is no own stall; one spent running is", () => {
    const { lag, stall } = threaded();
    stall(0, 400, 400); // the whole stall off a CPU
    expect(lag.stats().maxMs).toBe(350);
    expect(lag.stats().ownMaxMs).toBe(0);
    stall(120, 0, 120); // a 120 ms callback on a CPU
    expect(lag.stats().maxMs).toBe(350);
    expect(lag.stats().ownMaxMs).toBeGreaterThanOrEqual(20);
    expect(lag.stats().ownMaxMs).toBeLessThanOrEqual(120);
    lag.stop();
  });

  test("a smaller lag later does not hide a larger one still inside the window", () => {
    const world = new SimClock();
    const clock = world.view();
    const lag = startLoopLag(clock, { intervalMs: 100, windowMs: 5_000 });
    world.advance(50);
    clock.stall(800);
    world.advance(1_000);
    clock.stall(300);
    world.advance(1_000);
    const s = lag.stats();
    expect(s.windowMaxMs).toBe(750);
    expect(s.lastMs).toBe(0);
    lag.stop();
  });

  test("stop() ends the timer: no more ticks, nothing left queued", () => {
    const world = new SimClock();
    const lag = startLoopLag(world.view(), { intervalMs: 100 });
    world.advance(500);
    lag.stop();
    const ticks = lag.stats().ticks;
    world.advance(5_000);
    expect(lag.stats().ticks).toBe(ticks);
    expect(world.step()).toBe(false);
  });
});
