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
export class SortedNames {
  private list: string[] = [];
  private added: string[] = [];
  private readonly removed = new Set<string>();
  private count = 0;

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

  /** The names, sorted: the caller must not change the array. */
  sorted(): readonly string[] {
    if (this.added.length === 0 && this.removed.size === 0) return this.list;
    const add = this.added.sort();
    const old = this.list;
    const out: string[] = new Array(old.length + add.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < old.length && j < add.length) out[k++] = old[i]! <= add[j]! ? old[i++]! : add[j++]!;
    while (i < old.length) out[k++] = old[i++]!;
    while (j < add.length) out[k++] = add[j++]!;
    this.list = this.removed.size === 0 ? out : out.filter((n) => !this.removed.has(n));
    this.added = [];
    this.removed.clear();
    return this.list;
  }
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
