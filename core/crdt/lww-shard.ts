/**
 * The keys of one digest bucket of an LWW map: a hand-rolled open-addressing
 * table over parallel arrays (records, both key hashes, slots). The map keeps
 * one per bucket, so no single table holds more than about size / buckets
 * keys: growing, rehashing or compacting one costs a bucket's worth of work
 * (~4,700 keys at 1.2M keys in 256 buckets), never the whole map's in one
 * turn of the event loop, as one table of a million keys did (50-110 ms per
 * doubling) and as a JS Map does (65 ms when it rehashes past 786,432).
 *
 * Keys of one bucket share their low hash bits (the bucket is kh & mask), so
 * the probe start mixes every bit of the hash (Fibonacci hashing, top bits
 * of kh * 2^32/phi) rather than masking the low ones.
 */
import { type DigestSums, LEAF_BITS, LEAVES } from "./lww-digest.ts";
import type { Timestamp } from "./hlc.ts";
import type { DeltaEntry } from "./lww-types.ts";

/** scan() flag of a leaf whose entries' prints are wanted (any non-zero flag walks the leaf). */
export const PRINTED = 8;

/** A scan position is shard * SPAN + index within the shard. */
const SPAN = 2 ** 32;

/** Odd, 2^32 / golden ratio: multiplying spreads every input bit into the top ones. */
const PHI = 0x9e3779b1 | 0;

export class Shard {
  /** keys by insertion index; a removed key leaves a hole (undefined) until compaction */
  keys: (string | undefined)[] = [];
  /** the value by index (undefined for a tombstone) */
  vals: unknown[] = [];
  /** the stamp by index, as columns: wall, counter, and writer (an index into the map's writers; ~writer for a tombstone) */
  w = new Float64Array(8);
  c = new Float64Array(8);
  meta = new Int32Array(8);
  /** hash32(key) as int32, by index */
  kh = new Int32Array(8);
  /** the second, independent key hash, by index (digest word and leaf) */
  kh2 = new Int32Array(8);
  /** indices handed out, holes included */
  used = 0;
  holes = 0;
  /** times compacted (indices renumbered) */
  compactions = 0;
  /** open addressing: slot -> index + 1, 0 when free; holes stay as probe markers */
  private slots = new Int32Array(16);
  /** 32 - log2(slots.length): the probe start is the product's top bits */
  private shift = 28;
  /** slot where the last failed find() would insert */
  private freeSlot = 0;

  /** Index of `key` (hash `h`), or -1 (then the next insert() goes where it would be). */
  find(key: string, h: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = Math.imul(h, PHI) >>> this.shift;
    for (;;) {
      const i = slots[s]! - 1;
      if (i < 0) {
        this.freeSlot = s;
        return -1;
      }
      // A hole's key is undefined: it never matches, probing goes on.
      if (this.kh[i] === h && this.keys[i] === key) return i;
      s = (s + 1) & mask;
    }
  }

  /** Append `key` (hashes `h`, `h2`), absent until now: find() just failed for it. Returns its index; the caller fills its columns. */
  insert(h: number, h2: number, key: string): number {
    // Keep the load (holes included: they still occupy slots) at most 1/2.
    if ((this.used + 1) * 2 > this.slots.length) {
      if (this.holes * 2 >= this.used) this.compact();
      else this.rehash(this.slots.length * 2);
      this.find(key, h);
    }
    const i = this.used++;
    // 1.5x: a table of ~4,700 keys then wastes a third of its columns, not up to three quarters.
    if (i === this.kh.length) this.grow(i + (i >> 1) + 8);
    this.keys[i] = key;
    this.vals[i] = undefined;
    this.kh[i] = h;
    this.kh2[i] = h2;
    this.slots[this.freeSlot] = i + 1;
    return i;
  }

  /** Whether index `i` holds a tombstone. */
  isTomb(i: number): boolean {
    return this.meta[i]! < 0;
  }

  /** The stamp at index `i`, `writers` naming the writer indices. */
  tsAt(i: number, writers: readonly string[]): Timestamp {
    const m = this.meta[i]!;
    return { w: this.w[i]!, c: this.c[i]!, n: writers[m < 0 ? ~m : m]! };
  }

  /** The entry at index `i` as a delta entry (made afresh). */
  recordAt(i: number, writers: readonly string[]): DeltaEntry {
    const ts = this.tsAt(i, writers);
    return this.meta[i]! < 0 ? { k: this.keys[i]!, ts, d: true } : { k: this.keys[i]!, ts, v: this.vals[i] };
  }

  /** Write `d` at index `i` (writer index `writer`): a tombstone drops any value, a value is never undefined. */
  put(i: number, d: DeltaEntry, tomb: boolean, writer: number): void {
    this.vals[i] = tomb ? undefined : d.v === undefined ? null : d.v;
    this.w[i] = d.ts.w;
    this.c[i] = d.ts.c;
    this.meta[i] = tomb ? ~writer : writer;
  }

  /** compareTs(the stamp at index `i`, `ts`). */
  compareAt(i: number, ts: Timestamp, writers: readonly string[]): number {
    const w = this.w[i]!;
    if (w !== ts.w) return w < ts.w ? -1 : 1;
    const c = this.c[i]!;
    if (c !== ts.c) return c < ts.c ? -1 : 1;
    const m = this.meta[i]!;
    const n = writers[m < 0 ? ~m : m]!;
    if (n === ts.n) return 0;
    return n < ts.n ? -1 : 1;
  }

  /** XOR the entry at `i` into (or, again, out of) `sums`. */
  toggleIn(sums: DigestSums, i: number, writers: readonly string[]): void {
    const m = this.meta[i]!;
    sums.toggle(this.kh[i]!, this.kh2[i]!, this.w[i]!, this.c[i]!, writers[m < 0 ? ~m : m]!, m < 0);
  }

  /** The print of the entry at `i` (lww-digest.ts). */
  printIn(sums: DigestSums, i: number, writers: readonly string[]): number {
    const m = this.meta[i]!;
    return sums.print(this.kh[i]!, this.kh2[i]!, this.w[i]!, this.c[i]!, writers[m < 0 ? ~m : m]!, m < 0);
  }

  /** Drop the entry at `i`; its slot keeps pointing at the hole, still guiding probes past it. */
  remove(i: number): void {
    this.keys[i] = undefined;
    this.vals[i] = undefined;
    this.holes++;
  }

  /** Room for `n` more keys without growing step by step (a big delta, a whole state). */
  reserve(n: number): void {
    const want = this.used + n;
    if (want > this.kh.length) this.grow(want);
    let size = this.slots.length;
    while (want * 2 > size) size *= 2;
    if (size > this.slots.length) this.rehash(size);
  }

  /** Whether compaction is due: at least half the indices are holes. */
  get sparse(): boolean {
    return this.holes > 0 && this.holes * 2 >= this.used;
  }

  /** Squeeze out holes. New arrays, so running iterators finish on the old. Renumbers indices. */
  compact(): void {
    const n = this.used - this.holes;
    const size = Math.max(8, n);
    const keys: (string | undefined)[] = new Array(n);
    const vals: unknown[] = new Array(n);
    const w = new Float64Array(size);
    const c = new Float64Array(size);
    const meta = new Int32Array(size);
    const kh = new Int32Array(size);
    const kh2 = new Int32Array(size);
    let j = 0;
    for (let i = 0; i < this.used; i++) {
      if (this.keys[i] === undefined) continue;
      keys[j] = this.keys[i];
      vals[j] = this.vals[i];
      w[j] = this.w[i]!;
      c[j] = this.c[i]!;
      meta[j] = this.meta[i]!;
      kh[j] = this.kh[i]!;
      kh2[j] = this.kh2[i]!;
      j++;
    }
    this.keys = keys;
    this.vals = vals;
    this.w = w;
    this.c = c;
    this.meta = meta;
    this.kh = kh;
    this.kh2 = kh2;
    this.used = n;
    this.holes = 0;
    this.compactions++;
    let slots = 16;
    while ((n + 1) * 2 > slots) slots *= 2;
    this.rehash(slots);
  }

  /** Room for `size` indices in every column. */
  private grow(size: number): void {
    const n = this.used;
    const w = new Float64Array(size);
    w.set(this.w.subarray(0, n));
    this.w = w;
    const c = new Float64Array(size);
    c.set(this.c.subarray(0, n));
    this.c = c;
    const meta = new Int32Array(size);
    meta.set(this.meta.subarray(0, n));
    this.meta = meta;
    const kh = new Int32Array(size);
    kh.set(this.kh.subarray(0, n));
    this.kh = kh;
    const kh2 = new Int32Array(size);
    kh2.set(this.kh2.subarray(0, n));
    this.kh2 = kh2;
  }

  /** A new slot table of `size` (a power of two) holding every live index. */
  private rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    const shift = 32 - Math.log2(size);
    const kh = this.kh;
    const keys = this.keys;
    for (let i = 0; i < this.used; i++) {
      if (keys[i] === undefined) continue;
      let s = Math.imul(kh[i]!, PHI) >>> shift;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = i + 1;
    }
    this.slots = slots;
    this.shift = shift;
  }
}

/** A map's writer identities, each numbered once (the tables keep the number). */
export class Writers {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  private last: string | undefined = undefined;
  private lastId = 0;

  idOf(n: string): number {
    if (n === this.last) return this.lastId;
    let id = this.ids.get(n);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(n);
      this.ids.set(n, id);
    }
    this.last = n;
    return (this.lastId = id);
  }
}

/** Every stored entry of `shards`, shard by shard, each in insertion order: live ones only, or with tombstones. */
export function* entriesOf(shards: readonly (Shard | undefined)[], withTombs: boolean, writers: readonly string[]): IterableIterator<DeltaEntry> {
  for (const sh of shards) {
    if (sh === undefined) continue;
    // Compaction makes new arrays: a running walk finishes on the old ones, whole.
    const old = { keys: sh.keys, vals: sh.vals, w: sh.w, c: sh.c, meta: sh.meta };
    for (let i = 0; i < old.keys.length; i++) {
      const t = sh.keys === old.keys ? sh : old;
      const k = t.keys[i];
      const m = t.meta[i]!;
      if (k === undefined || (m < 0 && !withTombs)) continue;
      const ts = { w: t.w[i]!, c: t.c[i]!, n: writers[m < 0 ? ~m : m]! };
      yield m < 0 ? { k, ts, d: true } : { k, ts, v: t.vals[i] };
    }
  }
}

/** LwwMap.scan over `shards` (shard b holds bucket b); `printOf` gives an entry's print. */
export function scanShards(
  shards: readonly (Shard | undefined)[],
  want: Uint8Array,
  from: number,
  maxScan: number,
  max: number,
  out: DeltaEntry[],
  prints: number[] | undefined,
  writers: readonly string[],
  printOf: (sh: Shard, i: number) => number,
): number {
  const shift = 32 - LEAF_BITS;
  let s = Math.floor(from / SPAN);
  let i = from - s * SPAN;
  let budget = maxScan;
  let taken = 0;
  const first = nextWanted(shards, want, s, i);
  if (first !== s) i = 0;
  for (s = first; s < shards.length; s = nextWanted(shards, want, s + 1, 0), i = 0) {
    const sh = shards[s]!;
    const base = s * LEAVES;
    const { keys, kh2 } = sh;
    const end = Math.min(sh.used, i + budget);
    const start = i;
    for (; i < end && taken < max; i++) {
      if (keys[i] === undefined) continue;
      const f = want[base + (kh2[i]! >>> shift)]!;
      if (f === 0) continue;
      out.push(sh.recordAt(i, writers));
      if (prints !== undefined) prints.push((f & PRINTED) === 0 ? -1 : printOf(sh, i));
      taken++;
    }
    budget -= i - start;
    if (i < sh.used) return s * SPAN + i;
    if (taken >= max || budget <= 0) {
      const next = nextWanted(shards, want, s + 1, 0);
      return next < shards.length ? next * SPAN : -1;
    }
  }
  return -1;
}

/** The first shard from `s` with entries from index `i` on and a leaf flagged in `want` (shards.length if none). */
function nextWanted(shards: readonly (Shard | undefined)[], want: Uint8Array, s: number, i: number): number {
  for (; s < shards.length; s++, i = 0) {
    const sh = shards[s];
    if (sh !== undefined && i < sh.used && anyFlag(want, s * LEAVES)) return s;
  }
  return s;
}

/** Whether any leaf of the bucket whose leaves start at `base` is flagged in `want`. */
function anyFlag(want: Uint8Array, base: number): boolean {
  for (let l = 0; l < LEAVES; l++) if (want[base + l] !== 0) return true;
  return false;
}
