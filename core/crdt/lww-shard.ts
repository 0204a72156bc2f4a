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
import { LEAF_BITS, LEAVES } from "./lww-digest.ts";
import type { DeltaEntry } from "./lww-types.ts";

/** scan() flag of a leaf whose entries' prints are wanted (any non-zero flag walks the leaf). */
export const PRINTED = 8;

/** A scan position is shard * SPAN + index within the shard. */
const SPAN = 2 ** 32;

/** Odd, 2^32 / golden ratio: multiplying spreads every input bit into the top ones. */
const PHI = 0x9e3779b1 | 0;

export class Shard {
  /** records by insertion index; a removed key leaves a hole (undefined) until compaction */
  recs: (DeltaEntry | undefined)[] = [];
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
      // A hole's record is undefined: it never matches, probing goes on.
      if (this.kh[i] === h && this.recs[i]?.k === key) return i;
      s = (s + 1) & mask;
    }
  }

  /** Append `rec` (hashes `h`, `h2`), absent until now: find() just failed for it. Returns its index. */
  insert(h: number, h2: number, rec: DeltaEntry): number {
    // Keep the load (holes included: they still occupy slots) at most 1/2.
    if ((this.used + 1) * 2 > this.slots.length) {
      if (this.holes * 2 >= this.used) this.compact();
      else this.rehash(this.slots.length * 2);
      this.find(rec.k, h);
    }
    const i = this.used++;
    // 1.5x: a table of ~4,700 keys then holds a third more room, not up to three quarters.
    if (i === this.kh.length) this.growHashes(i + (i >> 1) + 8);
    this.recs[i] = rec;
    this.kh[i] = h;
    this.kh2[i] = h2;
    this.slots[this.freeSlot] = i + 1;
    return i;
  }

  /** Drop the record at `i`; its slot keeps pointing at the hole, still guiding probes past it. */
  remove(i: number): void {
    this.recs[i] = undefined;
    this.holes++;
  }

  /** Room for `n` more keys without growing step by step (a big delta, a whole state). */
  reserve(n: number): void {
    const want = this.used + n;
    if (want > this.kh.length) this.growHashes(want);
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
    const recs: (DeltaEntry | undefined)[] = new Array(n);
    const kh = new Int32Array(Math.max(8, n));
    const kh2 = new Int32Array(Math.max(8, n));
    let j = 0;
    for (let i = 0; i < this.used; i++) {
      if (this.recs[i] === undefined) continue;
      recs[j] = this.recs[i];
      kh[j] = this.kh[i]!;
      kh2[j] = this.kh2[i]!;
      j++;
    }
    this.recs = recs;
    this.kh = kh;
    this.kh2 = kh2;
    this.used = n;
    this.holes = 0;
    this.compactions++;
    let size = 16;
    while ((n + 1) * 2 > size) size *= 2;
    this.rehash(size);
  }

  private growHashes(size: number): void {
    const kh = new Int32Array(size);
    kh.set(this.kh.subarray(0, this.used));
    this.kh = kh;
    const kh2 = new Int32Array(size);
    kh2.set(this.kh2.subarray(0, this.used));
    this.kh2 = kh2;
  }

  /** A new slot table of `size` (a power of two) holding every live index. */
  private rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    const shift = 32 - Math.log2(size);
    const kh = this.kh;
    const recs = this.recs;
    for (let i = 0; i < this.used; i++) {
      if (recs[i] === undefined) continue;
      let s = Math.imul(kh[i]!, PHI) >>> shift;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = i + 1;
    }
    this.slots = slots;
    this.shift = shift;
  }
}

/** Every stored record of `shards`, shard by shard, each in insertion order. */
export function* recordsOf(shards: readonly (Shard | undefined)[]): IterableIterator<DeltaEntry> {
  for (const sh of shards) {
    if (sh === undefined) continue;
    // Compaction makes new arrays: a running walk finishes on the old one.
    const recs = sh.recs;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r !== undefined) yield r;
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
  printOf: (sh: Shard, i: number, r: DeltaEntry) => number,
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
    const { recs, kh2 } = sh;
    const end = Math.min(sh.used, i + budget);
    const start = i;
    for (; i < end && taken < max; i++) {
      const r = recs[i];
      if (r === undefined) continue;
      const f = want[base + (kh2[i]! >>> shift)]!;
      if (f === 0) continue;
      out.push(r);
      if (prints !== undefined) prints.push((f & PRINTED) === 0 ? -1 : printOf(sh, i, r));
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
