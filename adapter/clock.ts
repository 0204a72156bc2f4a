/**
 * Real time for the injected Clock (mesh/types.ts): the only module that
 * reads the runtime's wall clock and arms its timers for the protocols.
 */
import type { Clock, Timer } from "../mesh/types.ts";

/**
 * The wall clock read once at start, then advanced by the monotonic clock.
 * Every duration the protocols measure with now() (leases, read grants,
 * deadlines, suspicion) then follows real elapsed time even when the system
 * clock is stepped (an NTP step, `date -s`, a hypervisor's correction):
 * stepped 30 s on one node, Date.now() made its calls wait out deadlines
 * (3 s timeouts of walk-ins routed to it) and could end a read grant at its
 * grantor while the reader still counted it. CLOCK_MONOTONIC is slewed by
 * NTP as the wall clock is, so between steps the two advance alike and the
 * HLC's physical part stays wall time plus or minus the steps since start.
 */
const anchor = Date.now() - performance.now();

export const realClock: Clock = {
  now: () => Math.floor(anchor + performance.now()),
  setTimer(delayMs: number, fn: () => void): Timer {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    // Timers of the protocols must not keep a draining process alive.
    (handle as { unref?: () => void }).unref?.();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** The system's wall clock as it reads now, steps and all: for log lines an operator matches with other logs, never for a duration. */
export const wallNow = (): number => Date.now();

/** A high-resolution monotonic reading in milliseconds, for measuring durations (request latency). */
export const monotonicMs = (): number => performance.now();

/** Resolves after `ms` of real time (a client's backoff between retries). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `fn` every `ms` until the returned function is called. */
export function every(ms: number, fn: () => void): () => void {
  const handle = setInterval(fn, ms);
  return () => clearInterval(handle);
}
