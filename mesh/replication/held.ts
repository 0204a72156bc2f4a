/**
 * The promise a replicator's write() returns when the write is already held
 * by as many nodes as its concern asks (a cluster of one, a concern of 1).
 * One shared, settled promise: a caller that finds it (`p === HELD`) may go
 * on synchronously instead of waiting a turn of the microtask queue, which
 * on the walk-into path is a handful of promise hops per request.
 */
export const HELD: Promise<void> = Promise.resolve();

/** `then()` now when the write is held, else once it is. */
export function whenHeld<T>(p: Promise<void>, then: () => T): T | Promise<T> {
  return p === HELD ? then() : p.then(then);
}
