/**
 * One column of a shard (its keys, values or stamps by index) kept in
 * chunks of CHUNK slots rather than one array.
 *
 * Why: JavaScriptCore's write barrier remembers a whole old object once any
 * slot of it is written, and the next young-generation collection scans all
 * of it again. As one array per column of a ~4,700-key shard, a write load
 * spread over the 256 shards had every collection re-scan nearly the whole
 * replica (3.6M slots at 1.2M keys), and growing the arrays copied them.
 * In chunks a write dirties one chunk, and new keys (always appended) only
 * the last. Measured on a 1.2M-key heap taking 40,000 new keys a second
 * (`bun tests/bench/run.ts gc-floor`): collector pauses over 10 s 70-150 ms
 * in all against 490-800 ms, the longest mostly 2-6 ms (once 15) against
 * 9-18. 128 slots:
 * a chunk's storage (1 KiB and a header) fits the collector's size classes
 * with little waste (256 cost ~3 MiB more heap at 1.2M keys, for no fewer
 * pauses).
 */
const CHUNK_BITS = 7;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

export class Column<T> {
  private readonly chunks: (T | undefined)[][] = [];
  /** Indices handed out (the slot after the last one appended). */
  private size = 0;

  get length(): number {
    return this.size;
  }

  /** The value at `i` (undefined past the end or in a hole). */
  at(i: number): T | undefined {
    const c = this.chunks[i >>> CHUNK_BITS];
    return c === undefined ? undefined : c[i & MASK];
  }

  /** Set the value at `i`, which is below length() or equal to it (an append). */
  set(i: number, v: T | undefined): void {
    const k = i >>> CHUNK_BITS;
    let c = this.chunks[k];
    if (c === undefined) {
      // Whole at once: exactly CHUNK slots (grown slot by slot it kept spare room past its end).
      c = new Array<T | undefined>(CHUNK).fill(undefined);
      this.chunks[k] = c;
    }
    c[i & MASK] = v;
    if (i >= this.size) this.size = i + 1;
  }

  /** Append `v` at length(). */
  push(v: T | undefined): void {
    this.set(this.size, v);
  }
}
