/**
 * The keys of one digest bucket of an LWW map: a hand-rolled open-addressing
 * table over parallel arrays (keys, values, stamps, both key hashes, slots).
 * The map keeps one per bucket, so no single table holds more than about
 * size / buckets keys: growing, rehashing or compacting one costs a bucket's
 * worth of work (~4,700 keys at 1.2M keys in 256 buckets), never the whole
 * map's in one turn of the event loop, as one table of a million keys did
 * (50-110 ms per doubling) and as a JS Map does (65 ms when it rehashes past
 * 786,432).
 *
 * Columns, not a record object per key: a key costs three array slots (24
 * bytes) instead of a slot and a 56-byte object, ~40 MB less at 1.2M keys,
 * and a merged delta's entries are garbage at once (young) instead of kept
 * (old). Walks that hand entries out (scan, entriesIn) make them then. The
 * object columns are chunked (column.ts): what a write dirties for the
 * collector is one chunk, not the shard's whole column.
 *
 * Keys of one bucket share their low hash bits (the bucket is kh & mask), so
 * the probe start mixes every bit of the hash (Fibonacci hashing, top bits
 * of kh * 2^32/phi) rather than masking the low ones.
 */
import { Column } from "./column.ts";
import type { Timestamp } from "./hlc.ts";
import { LEAF_BITS, LEAVES } from "./lww-digest.ts";
import { TOMB, type Stored } from "./lww-rules.ts";
import type { DeltaEntry } from "./lww-types.ts";

/** scan() flag of a leaf whose entries' prints are wanted (any non-zero flag walks the leaf). */
export const PRINTED = 8;

/** A scan position is shard * SPAN + index within the shard. */
const SPAN = 2 ** 32;

/** Odd, 2^32 / golden ratio: multiplying spreads every input bit into the top ones. */
const PHI = 0x9e3779b1 | 0;

export class Shard {
  /** keys by insertion index; a removed key leaves a hole (undefined) until compaction */
  keys = new Column<string>();
  /** values by index: TOMB for a tombstone, undefined in a hole */
  vals = new Column<Stored>();
  /** timestamps by index (a write's keys share one object), undefined in a hole */
  tss = new Column<Timestamp>();
  /** hash32(key) as int32, by index */
  kh = new Int32Array(8);
  /** the second, independent key hash, by index (digest word and leaf) */
  kh2 = new Int32Array(8);
  /** indices handed out, holes included */
  used = 0;
  holes = 0;
  /** times compacted (indices renumbered) */
  compactions = 0;
  /** open addressing: slot -> index + 1, 0 when free; holes stay as probe markers (slotTable: 16 bits while they fit) */
  private slots: Uint16Array | Int32Array = slotTable(16);
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
      if (this.kh[i] === h && this.keys.at(i) === key) return i;
      s = (s + 1) & mask;
    }
  }

  /** Append `key` (hashes `h`, `h2`) at `ts` with `v`, absent until now: find() just failed for it. Returns its index. */
  insert(h: number, h2: number, key: string, ts: Timestamp, v: Stored): number {
    // Keep the load (holes included: they still occupy slots) at most 1/2.
    if ((this.used + 1) * 2 > this.slots.length) {
      if (this.holes * 2 >= this.used) this.compact();
      else this.rehash(this.slots.length * 2);
      this.find(key, h);
    }
    const i = this.used++;
    // 1.5x: a table of ~4,700 keys then holds a third more room, not up to three quarters.
    if (i === this.kh.length) this.growHashes(i + (i >> 1) + 8);
    this.keys.set(i, key);
    this.vals.set(i, v);
    this.tss.set(i, ts);
    this.kh[i] = h;
    this.kh2[i] = h2;
    this.slots[this.freeSlot] = i + 1;
    return i;
  }

  /** Drop the key at `i`; its slot keeps pointing at the hole, still guiding probes past it. */
  remove(i: number): void {
    this.keys.set(i, undefined);
    this.vals.set(i, undefined);
    this.tss.set(i, undefined);
    this.holes++;
  }

  /** The entry at `i` (not a hole) as a delta entry: a new object. */
  entryAt(i: number): DeltaEntry {
    const v = this.vals.at(i);
    const k = this.keys.at(i)!;
    const ts = this.tss.at(i)!;
    return v === TOMB ? { k, ts, d: true } : { k, ts, v };
  }

  /** Every entry (tombstones too) appended to `out` as delta entries, in index order. */
  entriesInto(out: DeltaEntry[]): void {
    for (let i = 0; i < this.used; i++) if (this.keys.at(i) !== undefined) out.push(this.entryAt(i));
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

  /** Squeeze out holes. New columns, so running iterators finish on the old. Renumbers indices. */
  compact(): void {
    const n = this.used - this.holes;
    const keys = new Column<string>();
    const vals = new Column<Stored>();
    const tss = new Column<Timestamp>();
    const kh = new Int32Array(Math.max(8, n));
    const kh2 = new Int32Array(Math.max(8, n));
    let j = 0;
    for (let i = 0; i < this.used; i++) {
      const k = this.keys.at(i);
      if (k === undefined) continue;
      keys.push(k);
      vals.push(this.vals.at(i));
      tss.push(this.tss.at(i));
      kh[j] = this.kh[i]!;
      kh2[j] = this.kh2[i]!;
      j++;
    }
    this.keys = keys;
    this.vals = vals;
    this.tss = tss;
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
    const slots = slotTable(size);
    const mask = size - 1;
    const shift = 32 - Math.log2(size);
    const kh = this.kh;
    const keys = this.keys;
    for (let i = 0; i < this.used; i++) {
      if (keys.at(i) === undefined) continue;
      let s = Math.imul(kh[i]!, PHI) >>> shift;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = i + 1;
    }
    this.slots = slots;
    this.shift = shift;
  }
}

/**
 * [key, stored value, stamp] of every entry of `shards` (tombstones too),
 * shard by shard, each in index order. One array, refilled: read it before
 * the next. Compaction makes new arrays: a running walk finishes on the old.
 */
export function* storedEntries(shards: readonly (Shard | undefined)[]): IterableIterator<[string, Stored, Timestamp]> {
  const t: [string, Stored, Timestamp] = ["", undefined, { w: 0, c: 0, n: "" }];
  for (const sh of shards) {
    if (sh === undefined) continue;
    const { keys, vals, tss } = sh;
    for (let i = 0; i < keys.length; i++) {
      const k = keys.at(i);
      if (k === undefined) continue;
      t[0] = k;
      t[1] = vals.at(i);
      t[2] = tss.at(i)!;
      yield t;
    }
  }
}

/**
 * A slot table of `size` (a power of two). It holds indices + 1 up to
 * size / 2 (the load stays at most 1/2): 16 bits each up to 65,536 slots
 * (a bucket of ~4,700 keys at 1.2M: 8,192 or 16,384 slots, 2 bytes a slot
 * instead of 4, ~6 MB less at 1.2M keys).
 */
function slotTable(size: number): Uint16Array | Int32Array {
  return size <= 65536 ? new Uint16Array(size) : new Int32Array(size);
}

/** LwwMap.scan over `shards` (shard b holds bucket b); `printOf` gives the print of entry i of a shard. */
export function scanShards(
  shards: readonly (Shard | undefined)[],
  want: Uint8Array,
  from: number,
  maxScan: number,
  max: number,
  out: DeltaEntry[],
  prints: number[] | undefined,
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
      if (keys.at(i) === undefined) continue;
      const f = want[base + (kh2[i]! >>> shift)]!;
      if (f === 0) continue;
      out.push(sh.entryAt(i));
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
