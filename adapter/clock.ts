/**
 * Real time for the injected Clock (mesh/types.ts): the only module that
 * reads the runtime's wall clock and arms its timers for the protocols.
 */
import type { Clock, Timer } from "../mesh/types.ts";

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs: number, fn: () => void): Timer {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    // Timers of the protocols must not keep a draining process alive.
    (handle as { unref?: () => void }).unref?.();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** A high-resolution monotonic reading in milliseconds, for measuring durations (request latency). */
export const monotonicMs = (): number => performance.now();

/** Resolves after `ms` of real time (a client's backoff between retries). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `fn` every `ms` until the returned function is called. */
export function every(ms: number, fn: () => void): () => void {
  const handle = setInterval(fn, ms);
  return () => clearInterval(handle);
}
