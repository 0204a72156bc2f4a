/**
 * Lifeguard local health ("awareness"). A node that misses acks and nacks it
 * should have received, or that has to refute suspicions of itself, is
 * probably the slow one (overloaded, paused, on a bad link): it stretches its
 * own probe timeout and interval by (score + 1) rather than accuse healthy
 * peers. Successful probes bring the score back down.
 */
export class Awareness {
  readonly max: number;
  #score = 0;

  /** `max` is the largest multiplier: the score stays in [0, max - 1]. */
  constructor(max: number) {
    this.max = Math.max(1, Math.floor(max));
  }

  get score(): number {
    return this.#score;
  }

  /** Add `delta` (positive: less healthy), clamped to the bounds. */
  apply(delta: number): number {
    this.#score = Math.min(this.max - 1, Math.max(0, this.#score + delta));
    return this.#score;
  }

  /** `ms` stretched by the current score. */
  scale(ms: number): number {
    return ms * (this.#score + 1);
  }
}
