/**
 * Run `fn` soon, after the current burst of I/O callbacks, without a timer's
 * millisecond floor (setTimeout(0) waits ~1 ms in Bun): setImmediate where
 * the runtime has it, else a microtask. The consensus driver batches a
 * turn's messages into one flush with it; long passes yield with it.
 */
export function runtimeDefer(fn: () => void): void {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  if (typeof g.setImmediate === "function") g.setImmediate(fn);
  else queueMicrotask(fn);
}

/** Run `fn` at the end of the current turn, before any I/O (a batch flushes once per turn). */
export function atEndOfTurn(fn: () => void): void {
  queueMicrotask(fn);
}
