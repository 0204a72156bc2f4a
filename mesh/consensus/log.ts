/**
 * The in-memory Raft log: entries after the last snapshot. Index 0 is the
 * empty prefix (term 0); `first()` is the snapshot's index + 1. Compaction
 * drops a prefix that a snapshot covers, so memory stays bounded however
 * long the cluster runs.
 */
import type { LogEntry } from "./types.ts";

export class RaftLog {
  #entries: LogEntry[] = [];
  /** Index and term of the last entry the snapshot covers (0, 0 when none). */
  #snapIndex = 0;
  #snapTerm = 0;

  first(): number {
    return this.#snapIndex + 1;
  }

  lastIndex(): number {
    return this.#snapIndex + this.#entries.length;
  }

  lastTerm(): number {
    return this.#entries.length === 0 ? this.#snapTerm : this.#entries[this.#entries.length - 1]!.term;
  }

  snapshotIndex(): number {
    return this.#snapIndex;
  }

  /** The term at `index`, or undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.#snapIndex) return this.#snapTerm;
    if (index < this.#snapIndex || index > this.lastIndex()) return undefined;
    return this.#entries[index - this.#snapIndex - 1]!.term;
  }

  entry(index: number): LogEntry | undefined {
    if (index <= this.#snapIndex || index > this.lastIndex()) return undefined;
    return this.#entries[index - this.#snapIndex - 1];
  }

  /** Entries [from, to], at most `max` of them; [] when from is compacted. */
  slice(from: number, to: number, max: number): LogEntry[] {
    if (from <= this.#snapIndex) return [];
    const lo = from - this.#snapIndex - 1;
    const hi = Math.min(to - this.#snapIndex, lo + max, this.#entries.length);
    return lo >= hi ? [] : this.#entries.slice(lo, hi);
  }

  append(entry: LogEntry): void {
    if (entry.index !== this.lastIndex() + 1) throw new Error(`raft log: append ${entry.index} after ${this.lastIndex()}`);
    this.#entries.push(entry);
  }

  /** Drop entries from `index` on (a conflicting suffix). Never below the snapshot. */
  truncateFrom(index: number): void {
    if (index <= this.#snapIndex) throw new Error(`raft log: truncate ${index} into the snapshot at ${this.#snapIndex}`);
    this.#entries.length = Math.max(0, index - this.#snapIndex - 1);
  }

  /** Forget entries up to `index` (covered by a snapshot whose last entry has `term`). */
  compact(index: number, term: number): void {
    if (index <= this.#snapIndex) return;
    if (index >= this.lastIndex()) {
      this.#entries = [];
    } else {
      this.#entries = this.#entries.slice(index - this.#snapIndex);
    }
    this.#snapIndex = index;
    this.#snapTerm = term;
  }

  /** Replace everything by a snapshot's position (a follower installing one). */
  reset(index: number, term: number): void {
    this.#entries = [];
    this.#snapIndex = index;
    this.#snapTerm = term;
  }

  /** Entries held (not counting the snapshot). */
  size(): number {
    return this.#entries.length;
  }
}
