/**
 * Lifeguard suspicion timers. A suspicion starts at the maximum timeout and
 * shrinks, as the log of the number of independent confirmations (other
 * members that suspected the same incarnation on their own), down to the
 * minimum once `k` confirmations are in:
 *
 *   timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1))
 *
 * So a member many peers cannot reach is declared dead quickly, while a lone
 * suspicion (perhaps from a slow suspecter) waits long enough for the suspect
 * to hear of it and refute.
 */
import type { Clock, Timer } from "../types.ts";

/** The timeout after `confirmations` independent confirmations. */
export function suspicionTimeout(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1 || confirmations >= k) return minMs;
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = Math.floor(maxMs - frac * (maxMs - minMs));
  return Math.max(minMs, raw);
}

export class Suspicion {
  readonly startedAt: number;
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  #clock: Clock;
  #confirmers = new Set<string>();
  #timer: Timer | undefined;
  #onTimeout: () => void;
  #done = false;

  /**
   * `from` is the member whose suspicion started this one: it does not count
   * as a confirmation of itself.
   */
  constructor(clock: Clock, from: string, k: number, minMs: number, maxMs: number, onTimeout: () => void) {
    this.#clock = clock;
    this.startedAt = clock.now();
    this.k = k;
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.#onTimeout = onTimeout;
    this.#confirmers.add(from);
    this.#arm(this.timeoutMs);
  }

  /** Independent confirmations so far. */
  get confirmations(): number {
    return this.#confirmers.size - 1;
  }

  /** The current total timeout, measured from startedAt. */
  get timeoutMs(): number {
    return suspicionTimeout(this.confirmations, this.k, this.minMs, this.maxMs);
  }

  /** When the timer will fire. */
  get deadline(): number {
    return this.startedAt + this.timeoutMs;
  }

  /**
   * Record a suspicion from `from`. Returns true if it is new (the caller
   * re-broadcasts it so others can count it too); shortens the timer.
   */
  confirm(from: string): boolean {
    if (this.#done || this.#confirmers.has(from)) return false;
    if (this.confirmations >= this.k) {
      this.#confirmers.add(from);
      return true;
    }
    this.#confirmers.add(from);
    const elapsed = this.#clock.now() - this.startedAt;
    this.#arm(this.timeoutMs - elapsed);
    return true;
  }

  cancel(): void {
    this.#done = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    this.#timer?.cancel();
    this.#timer = this.#clock.setTimer(Math.max(0, delayMs), () => {
      if (this.#done) return;
      this.#done = true;
      this.#onTimeout();
    });
  }
}
