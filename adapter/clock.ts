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
