/**
 * Pending writes by seq. Seqs are handed out in order and mostly retire in
 * order, so a dense array from the oldest live seq beats a Map (no hashing,
 * no rehash as a burst of 100,000 writes grows it). A retired seq leaves a
 * hole; leading holes are trimmed, so the array spans only from the oldest
 * write still pending to the newest.
 */
export class SeqTable<T> {
  private items: (T | undefined)[] = [];
  /** index of the first slot that may be live */
  private head = 0;
  /** seq of items[0] */
  private base = 1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(seq: number): T | undefined {
    return this.items[seq - this.base];
  }

  /** Add `v` under `seq`, which must be above every seq added before. */
  set(seq: number, v: T): void {
    if (this.count === 0) {
      this.items = [];
      this.head = 0;
      this.base = seq;
    }
    const i = seq - this.base;
    if (i < this.items.length) throw new RangeError(`seq-table: seq ${seq} is not above the last one`);
    while (this.items.length < i) this.items.push(undefined);
    this.items.push(v);
    this.count++;
  }

  delete(seq: number): boolean {
    const i = seq - this.base;
    if (!(i >= this.head && i < this.items.length) || this.items[i] === undefined) return false;
    this.items[i] = undefined;
    this.count--;
    if (this.count === 0) {
      this.base += this.items.length;
      this.items = [];
      this.head = 0;
      return true;
    }
    while (this.items[this.head] === undefined) this.head++;
    // Drop the trimmed prefix now and then (amortised O(1) per delete).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
    return true;
  }

  clear(): void {
    this.base += this.items.length;
    this.items = [];
    this.head = 0;
    this.count = 0;
  }

  /** Live values, in seq order (safe against deletes while iterating). */
  *values(): IterableIterator<T> {
    for (const [, v] of this) yield v;
  }

  /** [seq, value] pairs, in seq order; each looked up afresh, so a delete while iterating is seen. */
  *[Symbol.iterator](): IterableIterator<[number, T]> {
    const end = this.base + this.items.length;
    for (let seq = this.base + this.head; seq < end; seq++) {
      const v = this.get(seq);
      if (v !== undefined) yield [seq, v];
    }
  }
}
