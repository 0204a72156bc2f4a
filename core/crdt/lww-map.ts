/**
 * Delta-state last-writer-wins map (Almeida, Shoker, Baquero: delta-state
 * CRDTs). Each key holds a value or a tombstone with the HLC timestamp of the
 * write that put it there; merging keeps the larger timestamp per key, so
 * merge is commutative, associative and idempotent, and a delta is just a
 * small map merged the same way as a full state.
 *
 * For anti-entropy the map keeps an incrementally maintained digest (see
 * lww-digest.ts). Two replicas compare digests and exchange only the entries
 * of differing buckets.
 *
 * Storage is a hand-rolled open-addressing table over parallel arrays rather
 * than a JS Map: the key hash is needed for the digest anyway, so computing it
 * once serves both, and the table avoids the Map's per-entry allocation (about
 * 2x faster to fill at 100k keys). The stored record is the delta entry
 * itself, so `state()` and merging allocate nothing per key. Deltas are
 * therefore shared: never mutate a delta or its entries after making it.
 */
import { compareTs, type Timestamp } from "./hlc.ts";
import { hash32, hash32Pair } from "../hash.ts";
import { bucketMaskOf, DEFAULT_BUCKETS, diffLeaves, entryPrint, LEAF_BITS, LEAVES, SEED2, toggleEntry, type Digest } from "./lww-digest.ts";
import { normalise, toEntry, wins } from "./lww-rules.ts";

export { DEFAULT_BUCKETS, diffBuckets, DIFFERS, LEAVES, MINE, THEIRS, type Digest } from "./lww-digest.ts";

/** scan() flag of a leaf whose entries' prints are wanted (any non-zero flag walks the leaf). */
export const PRINTED = 8;
export { joinDeltas } from "./lww-rules.ts";

/** Anything CBOR can carry: JSON-like data. */
export type Value = unknown;

/** One key's state: a value, or a tombstone (`d`) that remembers a delete. */
export interface Entry {
  v: Value;
  ts: Timestamp;
  d: boolean;
}

export interface DeltaEntry {
  k: string;
  ts: Timestamp;
  v?: Value;
  /** tombstone */
  d?: true;
}

/** A delta (or a whole state): entries to merge, at most one per key. */
export interface Delta {
  e: DeltaEntry[];
}

/** A visible change caused by a write or a merge. */
export interface Change {
  key: string;
  /** previous value, undefined if absent or deleted */
  old: Value;
  /** new value, undefined if now deleted */
  value: Value;
}

export class LwwMap {
  readonly buckets: number;
  /** records by insertion index; a removed key leaves a hole until compaction */
  private recs: (DeltaEntry | undefined)[] = [];
  /** hash32(key) as int32, by index: table probe and digest bucket */
  private kh = new Int32Array(16);
  /** a second, independent key hash, by index, for the digest's second word */
  private kh2 = new Int32Array(16);
  /** open addressing: slot -> index + 1, 0 when free; holes stay as probe markers */
  private slots = new Int32Array(32);
  private mask = 31;
  /** indices handed out, holes included */
  private used = 0;
  private holes = 0;
  /** index of the key the last apply() looked at */
  private touched = 0;
  /** slot where the last failed find() would insert */
  private freeSlot = 0;
  /** the second key hash from the last apply() */
  private readonly pair = new Uint32Array(1);
  private live = 0;
  /** old and new value of the last visible change apply() made */
  private before: Value = undefined;
  private after: Value = undefined;
  private readonly sums: Uint32Array;
  /** the second digest level: LEAVES pairs of sums per bucket */
  private readonly leafSums: Uint32Array;
  private readonly bucketMask: number;
  /** bumped when compaction renumbers the indices a scan() cursor walks */
  private layoutGen = 0;
  // Writers repeat: remember the last one's hashes.
  private lastNode: string | undefined = undefined;
  private nh1 = 0;
  private nh2 = 0;
  private horizonTs: Timestamp | null = null;

  constructor(opts: { buckets?: number } = {}) {
    this.buckets = opts.buckets ?? DEFAULT_BUCKETS;
    if (!Number.isInteger(this.buckets) || this.buckets < 1) throw new RangeError("buckets must be a positive integer");
    this.sums = new Uint32Array(this.buckets * 2);
    this.leafSums = new Uint32Array(this.buckets * LEAVES * 2);
    this.bucketMask = bucketMaskOf(this.buckets);
  }

  /** Number of live (non-deleted) keys. */
  get size(): number {
    return this.live;
  }

  /** Number of tombstones held. */
  get tombstones(): number {
    return this.used - this.holes - this.live;
  }

  /** Deletes up to here were collected; older writes to absent keys are refused (see collect(), forget()). */
  get horizon(): Timestamp | null {
    return this.horizonTs;
  }

  get(key: string): Value {
    const i = this.find(key, hash32(key) | 0);
    if (i < 0) return undefined;
    const r = this.recs[i]!;
    return r.d === true ? undefined : r.v;
  }

  has(key: string): boolean {
    const i = this.find(key, hash32(key) | 0);
    return i >= 0 && this.recs[i]!.d !== true;
  }

  /** The raw entry, tombstones included. */
  entry(key: string): Entry | undefined {
    const i = this.find(key, hash32(key) | 0);
    return i < 0 ? undefined : toEntry(this.recs[i]!);
  }

  /** Live entries, in insertion order. */
  *entries(): IterableIterator<[string, Value]> {
    const recs = this.recs;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r !== undefined && r.d !== true) yield [r.k, r.v];
    }
  }

  /** Live entries whose key starts with `prefix`. */
  *withPrefix(prefix: string): IterableIterator<[string, Value]> {
    const recs = this.recs;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r !== undefined && r.d !== true && r.k.startsWith(prefix)) yield [r.k, r.v];
    }
  }

  /** Every entry, tombstones included. */
  *raw(): IterableIterator<[string, Entry]> {
    const recs = this.recs;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r !== undefined) yield [r.k, toEntry(r)];
    }
  }

  /**
   * Write `value` at `ts` (from the caller's HLC) and return the delta.
   * `undefined` is stored as `null`, as the wire carries it.
   */
  set(key: string, value: Value, ts: Timestamp): Delta {
    const d: DeltaEntry = { k: key, ts, v: value === undefined ? null : value };
    this.apply(d);
    return { e: [d] };
  }

  /**
   * Write `values[i]` to `keys[i]` for every i, all at one timestamp, and
   * return the one delta: a batch, as a node writes the keys of one
   * operation (and as a Y.Map takes many sets in one transaction). The table
   * is sized once for the batch. A key given twice is written once: between
   * equal stamps the tie rule picks the value, the same on every replica.
   */
  setMany(keys: readonly string[], values: readonly Value[], ts: Timestamp): Delta {
    if (keys.length !== values.length) throw new RangeError("setMany: keys and values differ in length");
    const n = keys.length;
    if (n > 64) this.reserve(n);
    const e: DeltaEntry[] = new Array(n);
    let j = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      const d: DeltaEntry = { k: keys[i]!, ts, v: v === undefined ? null : v };
      this.apply(d);
      // Only what was stored goes out: an entry that lost here loses everywhere.
      if (this.recs[this.touched] === d) e[j++] = d;
    }
    e.length = j;
    this.before = this.after = undefined;
    return { e };
  }

  /** Delete `key` at `ts`, leaving a tombstone, and return the delta. */
  delete(key: string, ts: Timestamp): Delta {
    const d: DeltaEntry = { k: key, ts, d: true };
    this.apply(d);
    return { e: [d] };
  }

  /** Merge a delta or a full state. Returns the visible changes. */
  merge(delta: Delta): Change[] {
    const e = delta.e;
    // Sized for the worst case and trimmed after: pushing 100k changes one by one costs twice as much.
    const changes: Change[] = e.length > 64 ? new Array(e.length) : [];
    changes.length = this.mergeInto(e, changes);
    return changes;
  }

  /**
   * Merge without listing the changes (nobody is watching this replica):
   * one object less per changed key. Returns how many keys visibly changed.
   */
  absorb(delta: Delta): number {
    return this.mergeInto(delta.e, null);
  }

  private mergeInto(e: DeltaEntry[], changes: Change[] | null): number {
    // A big delta (a full state, say): size the table once, not by doublings.
    if (e.length > 64 && e.length > this.used) this.reserve(e.length);
    let n = 0;
    for (let i = 0; i < e.length; i++) {
      const d = e[i]!;
      if (this.apply(d)) {
        if (changes !== null) changes[n] = { key: d.k, old: this.before, value: this.after };
        n++;
      }
    }
    this.before = this.after = undefined; // hold no stale value alive
    return n;
  }

  /** The whole state as a delta (tombstones included). */
  state(): Delta {
    const e: DeltaEntry[] = new Array(this.used - this.holes);
    const recs = this.recs;
    let j = 0;
    for (let i = 0; i < this.used; i++) {
      const r = recs[i];
      if (r !== undefined) e[j++] = r;
    }
    return { e };
  }

  /** A copy of the current digest. */
  digest(): Digest {
    return { buckets: this.buckets, h: this.sums.slice() };
  }

  /** The digest words of every leaf of `buckets`, in that order (LEAVES * 2 per bucket). */
  leafDigest(buckets: readonly number[]): Uint32Array {
    const out = new Uint32Array(buckets.length * LEAVES * 2);
    const w = LEAVES * 2;
    buckets.forEach((b, k) => out.set(this.leafSums.subarray(b * w, (b + 1) * w), k * w));
    return out;
  }

  /** diffLeaves (lww-digest.ts) of our leaves against `theirs`, the leafDigest of `buckets` elsewhere. */
  diffLeaves(buckets: readonly number[], theirs: Uint32Array, want: Uint8Array): { differing: number; theirs: number; mine: number } {
    return diffLeaves(this.leafSums, buckets, theirs, want);
  }

  /** Changes whenever indices are renumbered: a scan() cursor from before must start over. */
  get layout(): number {
    return this.layoutGen;
  }

  /**
   * Bounded piece of a walk over the entries (tombstones included) whose
   * leaf (bucket * LEAVES + leaf) is non-zero in `want`: looks at up to
   * `maxScan` indices from `from`, appends up to `max` entries to `out`, and
   * returns the index to go on from, or -1 when the walk is over. Keys added
   * meanwhile land at the end and are still found; after compaction (see
   * layout) start again from 0. With `prints`, each entry's print
   * (lww-digest.ts) goes there too where its leaf's flag is PRINTED, else -1.
   */
  scan(want: Uint8Array, from: number, maxScan: number, max: number, out: DeltaEntry[], prints?: number[]): number {
    const recs = this.recs;
    const kh = this.kh;
    const kh2 = this.kh2;
    const end = Math.min(this.used, from + maxScan);
    const shift = 32 - LEAF_BITS;
    let taken = 0;
    let i = from;
    for (; i < end && taken < max; i++) {
      const r = recs[i];
      if (r === undefined) continue;
      const b = this.bucketMask >= 0 ? kh[i]! & this.bucketMask : (kh[i]! >>> 0) % this.buckets;
      const f = want[b * LEAVES + (kh2[i]! >>> shift)]!;
      if (f === 0) continue;
      out.push(r);
      if (prints !== undefined) prints.push((f & PRINTED) === 0 ? -1 : this.printOf(i, r));
      taken++;
    }
    return i >= this.used ? -1 : i;
  }

  /** The bucket a key falls in. */
  bucketOf(key: string): number {
    return hash32(key) % this.buckets;
  }

  /** Entries (tombstones included) of the given buckets, for anti-entropy. */
  entriesIn(buckets: Iterable<number>): Delta {
    const want = new Uint8Array(this.buckets);
    let any = false;
    for (const b of buckets) {
      if (Number.isInteger(b) && b >= 0 && b < this.buckets) {
        want[b] = 1;
        any = true;
      }
    }
    const e: DeltaEntry[] = [];
    if (!any) return { e };
    const recs = this.recs;
    for (let i = 0; i < this.used; i++) {
      const r = recs[i];
      if (r !== undefined && want[(this.kh[i]! >>> 0) % this.buckets] === 1) e.push(r);
    }
    return { e };
  }

  /**
   * Drop the tombstones of `keys` (live keys are left alone): the caller
   * knows every replica holds these deletes. The horizon rises to the newest
   * timestamp forgotten, and later merges ignore any write at or below it for
   * a key that is absent, so a late copy of an old write cannot resurrect a
   * forgotten key. Returns how many were dropped.
   */
  forget(keys: Iterable<string>): number {
    let dropped = 0;
    for (const k of keys) {
      const i = this.find(k, hash32(k) | 0);
      if (i < 0) continue;
      const r = this.recs[i]!;
      if (r.d !== true) continue;
      if (this.horizonTs === null || compareTs(r.ts, this.horizonTs) > 0) this.horizonTs = r.ts;
      this.toggle(i, r);
      this.remove(i);
      dropped++;
    }
    if (this.holes > 0 && this.holes * 2 >= this.used) this.compact();
    return dropped;
  }

  /**
   * Drop tombstones older than `horizon`. The horizon rises to it, and later
   * merges ignore any write at or below it for an absent key (as forget()
   * does), so the caller promises every replica already holds every write
   * at or below it: one that missed such a write could not take it later.
   * Returns how many were dropped.
   */
  collect(horizon: Timestamp): number {
    if (this.horizonTs === null || compareTs(horizon, this.horizonTs) > 0) this.horizonTs = horizon;
    let dropped = 0;
    const recs = this.recs;
    for (let i = 0; i < this.used; i++) {
      const r = recs[i];
      if (r !== undefined && r.d === true && compareTs(r.ts, horizon) < 0) {
        this.toggle(i, r);
        this.remove(i);
        dropped++;
      }
    }
    if (this.holes > 0 && this.holes * 2 >= this.used) this.compact();
    return dropped;
  }

  /**
   * Merge one entry. Returns whether the visible value changed; if so, the
   * old and new values are in `before` and `after` (no Change object here:
   * set() and delete() do not need one).
   */
  private apply(d: DeltaEntry): boolean {
    const key = d.k;
    // Both key hashes in one pass: a new key needs the second for the digest.
    const h = hash32Pair(key, SEED2, this.pair) | 0;
    const i = this.find(key, h);
    this.touched = i;
    // An absent key at or below the horizon was forgotten: nothing older revives it.
    if (i < 0 && this.horizonTs !== null && compareTs(d.ts, this.horizonTs) <= 0) return false;
    const tomb = d.d === true;
    // A winning tombstone older than the horizon is as good as absence.
    const stale = tomb && this.horizonTs !== null && compareTs(d.ts, this.horizonTs) < 0;
    if (i < 0) {
      const rec = normalise(d, tomb);
      this.toggle((this.touched = this.insert(h, rec)), rec);
      if (tomb) return false;
      this.live++;
      this.before = undefined;
      this.after = rec.v;
      return true;
    }
    const cur = this.recs[i]!;
    if (!wins(d, cur)) return false;
    this.toggle(i, cur);
    const wasLive = cur.d !== true;
    if (wasLive) this.live--;
    let value: Value = undefined;
    if (stale) {
      this.remove(i);
    } else {
      const rec = normalise(d, tomb);
      this.recs[i] = rec;
      this.toggle(i, rec);
      if (!tomb) {
        this.live++;
        value = rec.v;
      }
    }
    if (!wasLive && tomb) return false;
    this.before = wasLive ? cur.v : undefined;
    this.after = value;
    return true;
  }

  /** Room for `n` more keys without growing step by step. */
  private reserve(n: number): void {
    // An empty replica taking a full state: one array of the right size, not push by push.
    if (this.used === 0 && this.recs.length === 0) this.recs = new Array(n);
    if (this.used + n > this.kh.length) this.growHashes(this.used + n);
    const want = (this.used + n) * 2;
    if (want <= this.mask) return;
    let mask = this.mask;
    while (want > mask) mask = mask * 2 + 1;
    this.reindex(mask);
  }

  /** Index of `key`, or -1 (then `freeSlot` is where it would go). */
  private find(key: string, h: number): number {
    const slots = this.slots;
    const mask = this.mask;
    let s = h & mask;
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

  /** Append a new key (hash `h`, second hash in `pair`) where find() left room. */
  private insert(h: number, rec: DeltaEntry): number {
    // Keep the load (holes included: they still occupy slots) under 1/2.
    if ((this.used + 1) * 2 > this.mask) {
      const kh2 = this.pair[0]!;
      if (this.holes * 2 >= this.used) this.compact();
      else this.reindex(this.mask * 2 + 1);
      this.find(rec.k, h);
      this.pair[0] = kh2;
    }
    const i = this.used++;
    if (i === this.kh.length) this.growHashes(i * 2);
    this.recs[i] = rec;
    this.kh[i] = h;
    this.kh2[i] = this.pair[0]!;
    this.slots[this.freeSlot] = i + 1;
    return i;
  }

  private growHashes(size: number): void {
    const kh = new Int32Array(size);
    kh.set(this.kh.subarray(0, this.used));
    this.kh = kh;
    const kh2 = new Int32Array(size);
    kh2.set(this.kh2.subarray(0, this.used));
    this.kh2 = kh2;
  }

  private remove(i: number): void {
    // The slot keeps pointing at the hole: it still guides probes past it.
    this.recs[i] = undefined;
    this.holes++;
  }

  private reindex(mask: number): void {
    const slots = new Int32Array(mask + 1);
    const kh = this.kh;
    const recs = this.recs;
    for (let i = 0; i < this.used; i++) {
      if (recs[i] === undefined) continue;
      let s = kh[i]! & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = i + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }

  /** Squeeze out holes. New arrays, so running iterators finish on the old. */
  private compact(): void {
    const n = this.used - this.holes;
    const recs: (DeltaEntry | undefined)[] = new Array(n);
    const kh = new Int32Array(Math.max(16, n));
    const kh2 = new Int32Array(Math.max(16, n));
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
    this.layoutGen++;
    let mask = 31;
    while ((n + 1) * 2 > mask) mask = mask * 2 + 1;
    this.reindex(mask);
  }

  private printOf(i: number, r: DeltaEntry): number {
    this.writerHashes(r.ts.n);
    return entryPrint(this.kh[i]!, this.kh2[i]!, r.ts.w, (r.ts.c * 2 + (r.d === true ? 1 : 0)) | 0, this.nh1, this.nh2);
  }

  private writerHashes(n: string): void {
    if (n === this.lastNode) return;
    this.lastNode = n;
    this.nh1 = hash32(n) | 0;
    this.nh2 = hash32(n, SEED2) | 0;
  }

  /** XOR the record at index `i` into (or, again, out of) the digest. */
  private toggle(i: number, r: DeltaEntry): void {
    const ts = r.ts;
    this.writerHashes(ts.n);
    const cd = (ts.c * 2 + (r.d === true ? 1 : 0)) | 0;
    toggleEntry(this.sums, this.leafSums, this.buckets, this.bucketMask, this.kh[i]!, this.kh2[i]!, ts.w, cd, this.nh1, this.nh2);
  }
}
