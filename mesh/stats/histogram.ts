/**
 * A fixed-bucket histogram: counts per upper bound, a running sum and count,
 * all cumulative since start. Pure (no clock, no I/O), so the protocols in
 * mesh/ can keep one for a latency they measure, and /metrics exposes it as
 * a Prometheus histogram (http/prom.ts) that aggregates across nodes, which
 * quantiles of a window of samples cannot do.
 */

export interface HistogramSnapshot {
  /** Upper bounds, ascending, without +Inf. */
  bounds: readonly number[];
  /** Observations at or below each bound (cumulative), same length as bounds. */
  cumulative: readonly number[];
  count: number;
  sum: number;
}

/** Seconds, for latencies from tens of microseconds (a local ack) to seconds (a stretched probe, an ack timeout). */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export class Histogram {
  readonly bounds: readonly number[];
  #counts: number[];
  #count = 0;
  #sum = 0;

  constructor(bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error("histogram bounds must be ascending");
    }
    this.bounds = bounds;
    this.#counts = new Array<number>(bounds.length).fill(0);
  }

  /** Observations so far. */
  get count(): number {
    return this.#count;
  }

  /** Cheap enough for every request: a short linear scan over a dozen bounds. */
  observe(v: number): void {
    this.#count++;
    this.#sum += v;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.#counts[i]!++;
        return;
      }
    }
  }

  snapshot(): HistogramSnapshot {
    const cumulative: number[] = [];
    let acc = 0;
    for (const c of this.#counts) cumulative.push((acc += c));
    return { bounds: this.bounds, cumulative, count: this.#count, sum: this.#sum };
  }
}
