/**
 * A simulated clock that the work of a turn moves on: a test spends virtual
 * ms for the work it models (per entry merged, per slot looked at), and the
 * length of every timer turn is recorded. Budget tests use it to check no
 * turn runs much past its budget.
 */
import { SimClock } from "../../mesh/sim/clock.ts";
import type { Clock } from "../../mesh/types.ts";

export interface WorkClock {
  sim: SimClock;
  clock: Clock;
  /** The length of each timer turn (only turns that did work, with `busyOnly`). */
  turns: number[];
  /** Work done now: the clock moves on by `ms`. */
  spend(ms: number): void;
  /** Work spent so far (to time a turn run outside a timer, such as a socket read). */
  spent(): number;
}

export function workClock(busyOnly = false): WorkClock {
  const sim = new SimClock(0);
  let work = 0;
  const turns: number[] = [];
  const clock: Clock = {
    now: () => sim.now() + work,
    setTimer: (ms, fn) =>
      sim.setTimer(ms, () => {
        const at = work;
        fn();
        if (!busyOnly || work > at) turns.push(work - at);
      }),
  };
  return { sim, clock, turns, spend: (ms) => void (work += ms), spent: () => work };
}
