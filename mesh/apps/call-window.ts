/**
 * At most `size` calls in flight at once, node-wide; the rest wait their
 * turn, first come first served. Add-rooms fans one request out into a call
 * per room: twelve concurrent creates of 3,500 rooms each put 42,000 calls
 * on the mesh in a second, and the membership probes queued behind them on
 * the same connections came back seconds late, so healthy nodes declared
 * each other dead (found by a hostile-input probe, 3 runs of 3).
 */
import { RoomyError } from "../../core/errors.ts";

export class CallWindow {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  /** The first waiter not yet let in (a queue without shift()'s copying). */
  private head = 0;

  constructor(private readonly size: number) {}

  /** undefined: a place was free and is taken; else a promise that resolves once one is handed over. */
  take(): Promise<void> | undefined {
    if (this.inFlight < this.size && this.head === this.waiting.length) {
      this.inFlight++;
      return undefined;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Give a place back: to the longest waiter if any (the count stays), else to the window. */
  release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = noop;
      if (this.head === this.waiting.length) {
        this.waiting.length = 0;
        this.head = 0;
      }
      next();
      return;
    }
    this.inFlight--;
  }

  get busy(): number {
    return this.inFlight;
  }
  get queued(): number {
    return this.waiting.length - this.head;
  }
}

const noop = (): void => {};

/**
 * Start `start(i)` for each i below `n` through `window`, yielding a turn
 * after every `slice` started without a wait (thousands started in one turn
 * held the event loop 50-70 ms). Once one call failed no more are started:
 * the request fails anyway (a node with no configuration holds each call
 * for the activation timeout, and 3,500 of them through the window took
 * 35 s to say so). Resolves with the outcome of every call started.
 */
export async function throughWindow(n: number, start: (i: number) => Promise<unknown>, window: CallWindow, nextTurn: () => Promise<void>, slice: number): Promise<PromiseSettledResult<unknown>[]> {
  const calls: Promise<unknown>[] = [];
  let failed = false;
  const release = (): void => window.release();
  const refused = (): void => {
    failed = true;
    window.release();
  };
  let sinceTurn = 0;
  for (let i = 0; i < n && !failed; i++) {
    const wait = window.take();
    if (wait !== undefined) {
      await wait;
      sinceTurn = 0;
    } else if (++sinceTurn > slice) {
      await nextTurn();
      sinceTurn = 0;
    }
    if (failed) {
      window.release(); // a call failed while this one waited: its place goes back unused
      break;
    }
    const call = start(i);
    call.then(release, refused);
    calls.push(call);
  }
  return Promise.allSettled(calls);
}

/**
 * One answer for many calls that all had to succeed: the first failure, in
 * call order. It keeps `no_effect` only when every call was refused unrun;
 * if any succeeded or may have run, the request as a whole had an effect.
 */
export function firstFailure(results: readonly PromiseSettledResult<unknown>[]): unknown | undefined {
  let first: unknown;
  let failed = false;
  let allRefused = true;
  for (const r of results) {
    if (r.status === "fulfilled") {
      allRefused = false;
      continue;
    }
    if (!failed) {
      failed = true;
      first = r.reason;
    }
    if (!(r.reason instanceof RoomyError && r.reason.noEffect)) allRefused = false;
  }
  if (!failed) return undefined;
  return allRefused || !(first instanceof RoomyError) || !first.noEffect ? first : new RoomyError(first.code, first.message);
}
