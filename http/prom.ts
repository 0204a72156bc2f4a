/**
 * A small writer of the Prometheus text exposition format (version 0.0.4).
 * roomy's metrics are read from the node's stats() at scrape time, so all
 * they need is a writer: HELP and TYPE once per family, label values escaped,
 * numbers formatted the way Prometheus parses them. Why not prom-client: see
 * the README (it runs under Bun and Deno, but costs a third of the start-up
 * budget to import and its registry adds nothing to scrape-time reads).
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";
export type Labels = Readonly<Record<string, string | number>>;

export interface Sample {
  labels?: Labels;
  value: number;
}

/** The content type Prometheus expects for this format. */
export const PROM_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class PromText {
  #lines: string[] = [];
  #seen = new Set<string>();

  /** One metric family: its HELP, TYPE and samples (a family with no samples still documents itself). */
  family(name: string, type: MetricType, help: string, samples: readonly Sample[]): this {
    this.#header(name, type, help);
    for (const s of samples) this.#sample(name, s.labels, s.value);
    return this;
  }

  counter(name: string, help: string, value: number | readonly Sample[]): this {
    return this.family(name, "counter", help, typeof value === "number" ? [{ value }] : value);
  }

  gauge(name: string, help: string, value: number | readonly Sample[]): this {
    return this.family(name, "gauge", help, typeof value === "number" ? [{ value }] : value);
  }

  /** A histogram family from cumulative bucket counts (`le` upper bounds ascending, +Inf added). */
  histogram(name: string, help: string, series: readonly HistogramSeries[]): this {
    this.#header(name, "histogram", help);
    for (const h of series) {
      for (let i = 0; i < h.bounds.length; i++) {
        this.#sample(`${name}_bucket`, { ...h.labels, le: formatNumber(h.bounds[i]!) }, h.cumulative[i]!);
      }
      this.#sample(`${name}_bucket`, { ...h.labels, le: "+Inf" }, h.count);
      this.#sample(`${name}_sum`, h.labels, h.sum);
      this.#sample(`${name}_count`, h.labels, h.count);
    }
    return this;
  }

  text(): string {
    return this.#lines.length === 0 ? "" : this.#lines.join("\n") + "\n";
  }

  #header(name: string, type: MetricType, help: string): void {
    if (!NAME.test(name)) throw new Error(`bad metric name ${JSON.stringify(name)}`);
    if (this.#seen.has(name)) throw new Error(`metric family ${name} written twice`);
    this.#seen.add(name);
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`);
  }

  #sample(name: string, labels: Labels | undefined, value: number): void {
    this.#lines.push(`${name}${formatLabels(labels)} ${formatNumber(value)}`);
  }
}

export interface HistogramSeries {
  labels?: Labels;
  /** Upper bounds, ascending, without +Inf. */
  bounds: readonly number[];
  /** Observations at or below each bound (cumulative), same length as bounds. */
  cumulative: readonly number[];
  count: number;
  sum: number;
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL.test(k)) throw new Error(`bad label name ${JSON.stringify(k)}`);
    parts.push(`${k}="${escapeLabel(String(v))}"`);
  }
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

/**
 * Fixed-bucket histogram that keeps cumulative-able counts; cheap enough for
 * every HTTP request (a short linear scan over a dozen bounds).
 */
export class Histogram {
  readonly bounds: readonly number[];
  #counts: number[];
  #count = 0;
  #sum = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Array<number>(bounds.length).fill(0);
  }

  /** Observations so far. */
  get count(): number {
    return this.#count;
  }

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

  series(labels?: Labels): HistogramSeries {
    const cumulative: number[] = [];
    let acc = 0;
    for (const c of this.#counts) cumulative.push((acc += c));
    return { labels, bounds: this.bounds, cumulative, count: this.#count, sum: this.#sum };
  }
}

/** Quantiles of a window of samples (nearest rank), for "recent" gauges. */
export function quantiles(samples: readonly number[], qs: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  if (samples.length === 0) return out;
  const sorted = [...samples].sort((a, b) => a - b);
  for (const q of qs) out.set(q, sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!);
  return out;
}
