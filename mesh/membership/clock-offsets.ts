/**
 * How far each peer's clock is from ours, measured on direct probes (NTP's
 * way): our ping leaves at t0, the target's ack carries its clock w, it
 * arrives at t2; then its clock is ours + (w - (t0 + t2) / 2), give or take
 * (t2 - t0) / 2. The registry reads it to put a call's "given up at"
 * (stamped on the caller's clock) on ours: a node started with its clock
 * 10 s ahead dropped every call sent to it as past its caller's deadline.
 *
 * Each node's clock is its wall clock at start advanced by the monotonic
 * clock (adapter/clock.ts), so an offset stays put while both processes
 * live: the tightest sample is kept, refreshed after STALE_MS (rates drift
 * by ppm) or at once when a new sample contradicts it (their error bounds do
 * not overlap: one of the clocks jumped), and a new process at an address
 * starts afresh (membership tells us of it before its first probe is back).
 */
import type { Address } from "../types.ts";

/** A kept sample is replaced by any newer one after this long. */
export const STALE_MS = 60_000;
/** Addresses kept at most: a new one past it evicts the longest unmeasured (pods come and go under new addresses). */
export const MAX_ADDRESSES = 1024;

interface Sample {
  id: string;
  /** peer's clock minus ours */
  offset: number;
  /** half the round trip, plus a millisecond for whole-ms clocks */
  err: number;
  at: number;
}

export class ClockOffsets {
  readonly #by = new Map<Address, Sample>();

  /** A direct probe of process `id` at `address`: sent at `sentAt`, answered with `theirs`, back at `now` (all but `theirs` on our clock). */
  observe(address: Address, id: string, sentAt: number, theirs: number, now: number): void {
    if (!Number.isFinite(theirs) || now < sentAt) return;
    const err = (now - sentAt) / 2 + 1;
    const sample: Sample = { id, offset: theirs - (sentAt + now) / 2, err, at: now };
    const kept = this.#by.get(address);
    if (kept === undefined && this.#by.size >= MAX_ADDRESSES) this.#evictOldest();
    if (kept === undefined || kept.id !== id || err <= kept.err || now - kept.at > STALE_MS || Math.abs(sample.offset - kept.offset) > err + kept.err) {
      this.#by.set(address, sample);
    }
  }

  /** The process at `address` is now `id`: a sample of another process there no longer holds. */
  current(address: Address, id: string): void {
    const kept = this.#by.get(address);
    if (kept !== undefined && kept.id !== id) this.#by.delete(address);
  }

  get size(): number {
    return this.#by.size;
  }

  #evictOldest(): void {
    let oldest: Address | undefined;
    let at = Infinity;
    for (const [a, s] of this.#by) {
      if (s.at < at) {
        at = s.at;
        oldest = a;
      }
    }
    if (oldest !== undefined) this.#by.delete(oldest);
  }

  /**
   * How much to take off a time read on the clock of the node at `address`
   * to have the earliest our clock could then read: offset + error; 0 while
   * unmeasured (clocks then taken as equal, as before measuring).
   */
  correction(address: Address): number {
    const s = this.#by.get(address);
    return s === undefined ? 0 : s.offset + s.err;
  }

  /** The estimate for `address`, if measured (metrics, tests). */
  of(address: Address): { offset: number; err: number } | undefined {
    const s = this.#by.get(address);
    return s === undefined ? undefined : { offset: s.offset, err: s.err };
  }
}
