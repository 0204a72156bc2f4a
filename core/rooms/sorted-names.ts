/**
 * The room index's list of rooms (room-index.ts), shaped for 100k rooms
 * without a long turn of the event loop: kept by merging in what changed, so
 * a new room costs a merge at the next read, not a sort of every name.
 */

/**
 * A set of names read as one sorted list. Additions wait in a side list
 * until the next read, which sorts only them and merges them in; removals
 * (rare: a room deleted) are filtered out at that read.
 */
/** Names a settle() step sorts or merges by default: a few ms of one turn. */
export const SETTLE_WORK = 16_384;
/** Additions sorted in runs of this many, then merged bottom-up. */
const RUN = 2048;

/** The additions being sorted in steps: runs of `a` merged pairwise into `b`, `width` wide, the pair at `lo` as far as i/j/k. */
interface Sorting {
  a: string[];
  b: string[];
  /** 0: sorting runs (up to i); then the width of the runs being merged */
  width: number;
  lo: number;
  /** k < 0: the pair at lo is not started */
  i: number;
  j: number;
  k: number;
}

export class SortedNames {
  private list: string[] = [];
  private added: string[] = [];
  private readonly removed = new Set<string>();
  private count = 0;
  /** Additions taken by settle() and sorted in steps, and once sorted, waiting for the next read. */
  private sorting: Sorting | null = null;
  private ready: string[] | null = null;

  get size(): number {
    return this.count;
  }

  /** Add `name`, which is not in the set. */
  add(name: string): void {
    this.count++;
    // Removed and back before a read: the listed copy stands.
    if (!this.removed.delete(name)) this.added.push(name);
  }

  /** Remove `name`, which is in the set. */
  delete(name: string): void {
    this.count--;
    this.removed.add(name);
  }

  /**
   * Some of the work the next read would do, about `work` names sorted or
   * merged (100k new names, as a replica filled by a join or a burst of
   * room creations holds, took one read 15-23 ms): true once a read would
   * only merge what is sorted already. Names added meanwhile wait for the
   * read, or the next settle().
   */
  settle(work = SETTLE_WORK): boolean {
    if (this.sorting === null) {
      if (this.added.length <= RUN) return true;
      const a = this.ready === null ? this.added : this.ready.concat(this.added);
      this.ready = null;
      this.added = [];
      this.sorting = { a, b: new Array<string>(a.length), width: 0, lo: 0, i: 0, j: 0, k: 0 };
    }
    this.step(this.sorting, work);
    return this.sorting === null;
  }

  /** The names, sorted: the caller must not change the array. */
  sorted(): readonly string[] {
    if (this.sorting !== null) this.step(this.sorting, Infinity);
    if (this.added.length === 0 && this.removed.size === 0 && this.ready === null) return this.list;
    let add = this.added.sort();
    if (this.ready !== null) add = add.length === 0 ? this.ready : mergeInto(this.ready, add);
    const out = mergeInto(this.list, add);
    this.list = this.removed.size === 0 ? out : out.filter((n) => !this.removed.has(n));
    this.added = [];
    this.ready = null;
    this.removed.clear();
    return this.list;
  }

  /** Up to `work` names of the sort in steps; once it is done, its result is `ready`. */
  private step(s: Sorting, work: number): void {
    const n = s.a.length;
    while (work > 0) {
      if (s.width === 0) {
        // Runs of RUN names, each sorted on its own.
        const end = Math.min(n, s.i + RUN);
        const run = s.a.slice(s.i, end).sort();
        for (let x = 0; x < run.length; x++) s.a[s.i + x] = run[x]!;
        work -= end - s.i;
        s.i = end;
        if (end >= n) (s.width = RUN), (s.lo = 0), (s.k = -1);
        continue;
      }
      if (s.width >= n) {
        this.ready = s.a;
        this.sorting = null;
        return;
      }
      // The pair of runs at lo: a[lo, mid) and a[mid, hi) into b[lo, hi).
      const mid = Math.min(n, s.lo + s.width);
      const hi = Math.min(n, s.lo + 2 * s.width);
      if (s.k < 0) (s.i = s.lo), (s.j = mid), (s.k = s.lo);
      const { a, b } = s;
      const stop = Math.min(hi, s.k + work);
      work -= stop - s.k;
      let { i, j, k } = s;
      while (k < stop) b[k++] = j >= hi || (i < mid && a[i]! <= a[j]!) ? a[i++]! : a[j++]!;
      s.i = i;
      s.j = j;
      s.k = k;
      if (k < hi) continue;
      s.lo = hi;
      s.k = -1;
      if (hi >= n) {
        // A whole pass: the merged runs are twice as wide.
        s.a = b;
        s.b = a;
        s.width *= 2;
        s.lo = 0;
      }
    }
  }
}

/** Two sorted lists merged into a new one. */
function mergeInto(old: readonly string[], add: readonly string[]): string[] {
  const out: string[] = new Array(old.length + add.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < old.length && j < add.length) out[k++] = old[i]! <= add[j]! ? old[i++]! : add[j++]!;
  while (i < old.length) out[k++] = old[i++]!;
  while (j < add.length) out[k++] = add[j++]!;
  return out;
}

/** Where `x` is or would go in the sorted list `l`. */
export function searchSorted(l: readonly string[], x: string): number {
  let lo = 0;
  let hi = l.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (l[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
