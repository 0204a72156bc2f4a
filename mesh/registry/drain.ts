/**
 * A draining node's wait before it leaves: its processes handed to their
 * next owners (or ended, when nobody is left to take them), and the
 * committed configuration no longer holding it while someone is left to
 * take over. The second matters for voters: a voter that leaves before the
 * configuration drops it counts against the majority of those that stay,
 * and two of three told to stop at once then left the third with voters
 * {n1, n2, n3}, one alive, for good. Bounded by the drain timeout, which
 * each new committed configuration stretches (several drained at once are
 * dropped one after another, each a commit) up to half as much again: a
 * draining voter that left before acknowledging the configuration dropping
 * another would leave one that can never commit.
 */
import type { Clock, Logger } from "../types.ts";

export interface DrainWaitOptions {
  self: string;
  clock: Clock;
  logger: Logger;
  timeoutMs: number;
  /** How often to look again, ms. */
  everyMs: number;
  /** Names of the committed configuration's holders (voters and learners). */
  holders(): readonly string[];
  /** The committed configuration's epoch, as this node knows it. */
  epoch(): number;
  /** Whether a holder could take over: live and not draining itself. */
  mayTake(name: string): boolean;
  /** Processes still here, and handoffs not yet acknowledged. */
  left(): { processes: number; inFlight: number };
  /** Nobody to hand anything to: end the processes here. */
  endAll(): void;
  stopped(): boolean;
}

export function awaitDrained(o: DrainWaitOptions): Promise<void> {
  const start = o.clock.now();
  let deadline = start + o.timeoutMs;
  let epoch = o.epoch();
  return new Promise<void>((resolve) => {
    const check = (): void => {
      if (o.epoch() !== epoch) {
        epoch = o.epoch();
        deadline = Math.min(Math.max(deadline, o.clock.now() + o.timeoutMs / 2), start + 1.5 * o.timeoutMs);
      }
      const holders = o.holders();
      const takers = holders.filter((h) => h !== o.self && o.mayTake(h));
      if (takers.length === 0 && o.left().inFlight === 0) o.endAll();
      const { processes, inFlight } = o.left();
      const inConfig = takers.length > 0 && holders.includes(o.self);
      const done = processes === 0 && inFlight === 0 && !inConfig;
      if (done || o.stopped() || o.clock.now() >= deadline) {
        if (processes > 0 || inFlight > 0) {
          o.logger.warn("drain: handoffs not acknowledged in time", { left: processes, inFlight });
        } else if (inConfig && !o.stopped()) {
          o.logger.warn("drain: the committed configuration still holds this node; leaving anyway", { waitedMs: o.clock.now() - start });
        }
        resolve();
        return;
      }
      o.clock.setTimer(o.everyMs, check);
    };
    check();
  });
}
