/**
 * Virtual time for the simulator. One world clock holds a timer heap; nothing
 * happens until a test advances it, so a run is a pure function of its seed.
 * Timers due at the same instant run in the order they were set.
 *
 * Each simulated process gets a NodeClock view on the world clock. A view can
 * be paused (SIGSTOP, a long GC pause): its callbacks that come due meanwhile
 * are held and run, late and in due order, when it resumes. A killed view
 * drops its callbacks for good (the process is gone).
 */
import type { Clock, Timer } from "../types.ts";

interface TimerEntry {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A binary min-heap of entries ordered by (at, seq). */
class TimerHeap {
  #items: TimerEntry[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): TimerEntry | undefined {
    return this.#items[0];
  }

  push(e: TimerEntry): void {
    const a = this.#items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      const t = a[i]!;
      a[i] = a[p]!;
      a[p] = t;
      i = p;
    }
  }

  pop(): TimerEntry | undefined {
    const a = this.#items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        const t = a[i]!;
        a[i] = a[m]!;
        a[m] = t;
        i = m;
      }
    }
    return top;
  }
}

function before(x: TimerEntry, y: TimerEntry): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

/** Default epoch: a plausible wall time, so ids built from now() look real. */
export const SIM_EPOCH_MS = 1_700_000_000_000;

export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  #heap = new TimerHeap();
  #fired = 0;

  constructor(startMs: number = SIM_EPOCH_MS) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Timers run so far (a cheap progress measure for benchmarks). */
  get fired(): number {
    return this.#fired;
  }

  /** Timers queued, including cancelled ones not yet discarded. */
  get pending(): number {
    return this.#heap.size;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const e: TimerEntry = {
      at: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    this.#heap.push(e);
    return {
      cancel: () => {
        e.cancelled = true;
      },
    };
  }

  /** Run the next live timer, moving time to it. False when none is left. */
  step(limitAt: number = Infinity): boolean {
    for (;;) {
      const e = this.#heap.peek();
      if (e === undefined || e.at > limitAt) return false;
      this.#heap.pop();
      if (e.cancelled) continue;
      this.#now = e.at;
      this.#fired++;
      e.fn();
      return true;
    }
  }

  /** Run every timer due within `ms`, in order; then time is now + ms. */
  advance(ms: number): void {
    const end = this.#now + Math.max(0, ms);
    while (this.step(end)) {
      // each step runs one timer
    }
    this.#now = end;
  }

  /** Same as advance: reads better in tests ("run the cluster for 5 s"). */
  runFor(ms: number): void {
    this.advance(ms);
  }

  /**
   * Advance in slices of `sliceMs` until `done()` holds or `maxMs` has
   * passed. Returns the virtual time it took, or -1 when it never held.
   */
  runUntil(done: () => boolean, maxMs: number, sliceMs = 10): number {
    const start = this.#now;
    if (done()) return 0;
    while (this.#now - start < maxMs) {
      this.advance(Math.min(sliceMs, maxMs - (this.#now - start)));
      if (done()) return this.#now - start;
    }
    return -1;
  }

  /** A per-process view of this clock that can be paused or killed. */
  view(): NodeClock {
    return new NodeClock(this);
  }
}

interface Held {
  fn: () => void;
  cancelled: boolean;
}

/** One simulated process's clock; see the file comment. */
export class NodeClock implements Clock {
  readonly world: SimClock;
  #paused = false;
  #dead = false;
  #held: Held[] = [];
  #resumeTimer: Timer | undefined;
  /** How far this process's clock reads ahead of the world's (negative: behind); timers still run on elapsed time. */
  skewMs = 0;

  constructor(world: SimClock) {
    this.world = world;
  }

  now(): number {
    return this.world.now() + this.skewMs;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get dead(): boolean {
    return this.#dead;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    if (this.#dead) return { cancel() {} };
    const h: Held = { fn, cancelled: false };
    const t = this.world.setTimer(delayMs, () => this.#fire(h));
    return {
      cancel: () => {
        h.cancelled = true;
        t.cancel();
      },
    };
  }

  #fire(h: Held): void {
    if (h.cancelled || this.#dead) return;
    if (this.#paused) {
      this.#held.push(h);
      return;
    }
    h.fn();
  }

  /** Stop running callbacks (SIGSTOP). Idempotent. */
  pause(): void {
    if (this.#dead) return;
    this.#paused = true;
  }

  /** Run what came due while paused, late, in due order; then carry on. */
  resume(): void {
    if (this.#dead || !this.#paused) return;
    this.#paused = false;
    this.#resumeTimer?.cancel();
    this.#resumeTimer = undefined;
    const held = this.#held;
    this.#held = [];
    for (const h of held) this.world.setTimer(0, () => this.#fire(h));
  }

  /** Pause for `ms` of virtual time, then resume. */
  stall(ms: number): void {
    this.pause();
    this.#resumeTimer?.cancel();
    this.#resumeTimer = this.world.setTimer(ms, () => this.resume());
  }

  /** The process is gone: drop everything, now and later. */
  kill(): void {
    this.#dead = true;
    this.#paused = false;
    this.#held = [];
    this.#resumeTimer?.cancel();
  }
}
