/**
 * The collector's own account of its pauses, for benchmarks that measure
 * event-loop stalls: a node started with BUN_JSC_logGC=1 prints, on
 * stderr, a line per collection step, each with `p=<ms>ms`, the time the
 * program was stopped for it (JSC collects concurrently and stops the
 * program in increments; the last one of a cycle ends the collection).
 * GcPauses is the node's log sink: it takes those lines out of the log (a
 * busy node prints a few KiB a second of them) and keeps the pauses, so a
 * stall can be set beside the longest pause of the same node in the same
 * run: what the collector took and what the program did.
 */
import { LogTail } from "./procs.ts";

/** The environment that makes a Bun process log its collections. */
export const GC_LOG_ENV: Record<string, string> = { BUN_JSC_logGC: "1" };

const PAUSE = / p=([\d.]+)ms/g;
/** A pause this long keeps its lines in the node's log (the scale bench saves it), to tell what it was. */
const LONG_MS = 80;

/** A process's collector pauses: how many, in all and the longest (ms), how many over a bound, full collections. */
export interface GcSummary {
  count: number;
  totalMs: number;
  maxMs: number;
  over: number;
  full: number;
}

export class GcPauses extends LogTail {
  /** Pauses seen, ms, in order. */
  readonly pauses: number[] = [];
  /** Collections of the whole heap (the others are eden collections). */
  full = 0;
  #partial = "";

  /** The collector's last few lines (kept beside a long pause's line, which tells the phases before it). */
  #recent: string[] = [];

  override add(text: string): void {
    const lines = (this.#partial + text).split("\n");
    this.#partial = lines.pop() ?? "";
    let kept = "";
    for (const line of lines) {
      if (!line.startsWith("[GC<") && line !== "GC END!") kept += line + "\n";
      else if (this.#read(line)) kept += `collector lines up to a pause of ${LONG_MS} ms or more, at ${new Date().toISOString()}:\n${this.#recent.join("\n")}\n`;
    }
    if (kept !== "") super.add(kept);
  }

  /** Whether the line has a pause of LONG_MS or more. */
  #read(line: string): boolean {
    let long = false;
    for (const m of line.matchAll(PAUSE)) {
      const p = Number(m[1]);
      this.pauses.push(p);
      if (p >= LONG_MS) long = true;
    }
    if (line.includes("=> FullCollection")) this.full++;
    this.#recent.push(line.length > 600 ? line.slice(0, 600) + "..." : line);
    if (this.#recent.length > 4) this.#recent.shift();
    return long;
  }

  /** The longest pause so far (ms; 0 before any). */
  longest(): number {
    return this.summary().maxMs;
  }

  /** Count, total and longest of the pauses, and how many were over `overMs`. */
  summary(overMs = 20): GcSummary {
    let totalMs = 0;
    let maxMs = 0;
    let over = 0;
    for (const p of this.pauses) {
      totalMs += p;
      if (p > maxMs) maxMs = p;
      if (p > overMs) over++;
    }
    return { count: this.pauses.length, totalMs, maxMs, over, full: this.full };
  }
}
