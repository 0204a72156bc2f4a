/**
 * A small writer of the Prometheus text exposition format (version 0.0.4).
 * roomy's metrics are read from the node's stats() at scrape time, so all
 * they need is a writer: HELP and TYPE once per family, label values escaped,
 * numbers formatted the way Prometheus parses them. Why not prom-client: see
 * the README (it runs under Bun and Deno, but costs a third of the start-up
 * budget to import and its registry adds nothing to scrape-time reads).
 */

import { Histogram as MeshHistogram, type HistogramSnapshot } from "../mesh/stats/histogram.ts";

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
    for (const s of samples) {
      // Prometheus reads these two labels by type: on any other type promtool rejects them.
      if (s.labels !== undefined && "quantile" in s.labels && type !== "summary") throw new Error(`${name}: a quantile label on a ${type}`);
      if (s.labels !== undefined && "le" in s.labels) throw new Error(`${name}: an le label outside a histogram's buckets`);
      this.#sample(name, s.labels, s.value);
    }
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
      if (h.labels !== undefined && "le" in h.labels) throw new Error(`${name}: le is the bucket label`);
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

/** One series of a histogram family: a snapshot and its labels (le is added per bucket). */
export interface HistogramSeries extends HistogramSnapshot {
  labels?: Labels;
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

/** The histogram of mesh/stats/histogram.ts, with its series as /metrics writes it. */
export class PromHistogram extends MeshHistogram {
  series(labels?: Labels): HistogramSeries {
    return { labels, ...this.snapshot() };
  }
}
