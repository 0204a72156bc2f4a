/**
 * The production wiring of the injected interfaces: real time and crypto
 * randomness. The only place in mesh/ that touches the runtime's timers.
 */
import type { Clock, Random, Timer } from "./types.ts";

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs: number, fn: () => void): Timer {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    // Timers of the protocols must not keep a draining process alive.
    (handle as { unref?: () => void }).unref?.();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** crypto.getRandomValues, drawn in blocks to keep the per-call cost low. */
export function cryptoRandom(): Random {
  const block = new Uint32Array(256);
  let i = block.length;
  return {
    float(): number {
      if (i >= block.length) {
        crypto.getRandomValues(block);
        i = 0;
      }
      return block[i++]! / 4294967296;
    },
  };
}

/**
 * Run `fn` soon, after the current burst of I/O callbacks, without a timer's
 * millisecond floor (setTimeout(0) waits ~1 ms in Bun): setImmediate where
 * the runtime has it, else a microtask. The consensus driver batches a
 * turn's messages into one flush with it.
 */
export function runtimeDefer(fn: () => void): void {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  if (typeof g.setImmediate === "function") g.setImmediate(fn);
  else queueMicrotask(fn);
}
