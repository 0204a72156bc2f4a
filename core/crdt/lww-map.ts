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
 * Storage is one hand-rolled open-addressing table per digest bucket
 * (lww-shard.ts) rather than a JS Map: the key hash is needed for the digest
 * anyway, so computing it once serves both; the tables avoid the Map's
 * per-entry allocation (about 2x faster to fill at 100k keys); and no table
 * holds more than a bucket's keys, so growing one never stalls the event
 * loop on the whole map. Iteration goes bucket by bucket, each in insertion
 * order. The stored record is the delta entry itself, so `state()` and
 * merging allocate nothing per key. Deltas are therefore shared: never
 * mutate a delta or its entries after making it.
 */
import { compareTs, type Timestamp } from "./hlc.ts";
import { hash32, hash32Pair } from "../hash.ts";
import { bucketMaskOf, DEFAULT_BUCKETS, diffLeaves, DigestSums, SEED2, type Digest } from "./lww-digest.ts";
import { normalise, toEntry, wins } from "./lww-rules.ts";
import { recordsOf, scanShards, Shard } from "./lww-shard.ts";
import type { Change, Delta, DeltaEntry, Entry, Value } from "./lww-types.ts";

export { DEFAULT_BUCKETS, diffBuckets, DIFFERS, LEAVES, MINE, THEIRS, type Digest } from "./lww-digest.ts";

export { joinDeltas } from "./lww-rules.ts";
export { PRINTED } from "./lww-shard.ts";
export type { Change, Delta, DeltaEntry, Entry, Value } from "./lww-types.ts";

export class LwwMap {
  readonly buckets: number;
  /** one table per bucket, made on its first key */
  private readonly shards: (Shard | undefined)[];
  /** keys held, tombstones included */
  private held = 0;
  private live = 0;
  /** the table and index of the key the last apply() looked at */
  private touchedShard: Shard | undefined = undefined;
  private touched = 0;
  /** the second key hash from the last apply() */
  private readonly pair = new Uint32Array(1);
  /** old and new value of the last visible change apply() made */
  private before: Value = undefined;
  private after: Value = undefined;
  private readonly sums: DigestSums;
  private readonly bucketMask: number;
  /** bumped when compaction renumbers the indices a scan() cursor walks */
  private layoutGen = 0;
  private horizonTs: Timestamp | null = null;

  constructor(opts: { buckets?: number } = {}) {
    this.buckets = opts.buckets ?? DEFAULT_BUCKETS;
    if (!Number.isInteger(this.buckets) || this.buckets < 1) throw new RangeError("buckets must be a positive integer");
    this.sums = new DigestSums(this.buckets);
    this.bucketMask = bucketMaskOf(this.buckets);
    this.shards = new Array<Shard | undefined>(this.buckets).fill(undefined);
  }

  /** Number of live (non-deleted) keys. */
  get size(): number {
    return this.live;
  }

  /** Number of tombstones held. */
  get tombstones(): number {
    return this.held - this.live;
  }

  /** Keys (tombstones and holes included) in the fullest table: what one growth or compaction can cost. */
  get largestTable(): number {
    let n = 0;
    for (const sh of this.shards) if (sh !== undefined && sh.used > n) n = sh.used;
    return n;
  }

  /** Deletes up to here were collected; older writes to absent keys are refused (see collect(), forget()). */
  get horizon(): Timestamp | null {
    return this.horizonTs;
  }

  get(key: string): Value {
    const r = this.lookup(key);
    return r === undefined || r.d === true ? undefined : r.v;
  }

  has(key: string): boolean {
    const r = this.lookup(key);
    return r !== undefined && r.d !== true;
  }

  /** The raw entry, tombstones included. */
  entry(key: string): Entry | undefined {
    const r = this.lookup(key);
    return r === undefined ? undefined : toEntry(r);
  }

  /** Live entries, bucket by bucket. */
  *entries(): IterableIterator<[string, Value]> {
    for (const r of this.records()) if (r.d !== true) yield [r.k, r.v];
  }

  /** Live entries whose key starts with `prefix`. */
  *withPrefix(prefix: string): IterableIterator<[string, Value]> {
    for (const r of this.records()) if (r.d !== true && r.k.startsWith(prefix)) yield [r.k, r.v];
  }

  /** Every entry, tombstones included. */
  *raw(): IterableIterator<[string, Entry]> {
    for (const r of this.records()) yield [r.k, toEntry(r)];
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
   * operation (and as a Y.Map takes many sets in one transaction). A key
   * given twice is written once: between equal stamps the tie rule picks
   * the value, the same on every replica.
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
      if (this.touchedShard?.recs[this.touched] === d) e[j++] = d;
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
    // A big delta (a full state, say): size the tables once, not by doublings.
    if (e.length > 64 && e.length > this.held) this.reserve(e.length);
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
    const e: DeltaEntry[] = new Array(this.held);
    let j = 0;
    for (const r of this.records()) e[j++] = r;
    return { e };
  }

  /** A copy of the current digest. */
  digest(): Digest {
    return this.sums.digest();
  }

  /** The digest words of every leaf of `buckets`, in that order (LEAVES * 2 per bucket). */
  leafDigest(buckets: readonly number[]): Uint32Array {
    return this.sums.leafDigest(buckets);
  }

  /** diffLeaves (lww-digest.ts) of our leaves against `theirs`, the leafDigest of `buckets` elsewhere. */
  diffLeaves(buckets: readonly number[], theirs: Uint32Array, want: Uint8Array): { differing: number; theirs: number; mine: number } {
    return diffLeaves(this.sums.leaves, buckets, theirs, want);
  }

  /** Changes whenever indices are renumbered: a scan() cursor from before must start over. */
  get layout(): number {
    return this.layoutGen;
  }

  /**
   * Bounded piece of a walk over the entries (tombstones included) whose
   * leaf (bucket * LEAVES + leaf) is non-zero in `want`: looks at up to
   * `maxScan` indices from `from`, appends up to `max` entries to `out`, and
   * returns the position to go on from, or -1 when the walk is over. The walk
   * goes bucket by bucket, skipping buckets with no leaf flagged; a key added
   * meanwhile is found if its bucket is still ahead. After compaction (see
   * layout) start again from 0. With `prints`, each entry's print
   * (lww-digest.ts) goes there too where its leaf's flag is PRINTED, else -1.
   */
  scan(want: Uint8Array, from: number, maxScan: number, max: number, out: DeltaEntry[], prints?: number[]): number {
    return scanShards(this.shards, want, from, maxScan, max, out, prints, this.sums.printOf);
  }

  /** The bucket a key falls in. */
  bucketOf(key: string): number {
    return hash32(key) % this.buckets;
  }

  /** Entries (tombstones included) of the given buckets, for anti-entropy. */
  entriesIn(buckets: Iterable<number>): Delta {
    const e: DeltaEntry[] = [];
    for (const b of new Set(buckets)) {
      const sh = Number.isInteger(b) && b >= 0 && b < this.buckets ? this.shards[b] : undefined;
      if (sh !== undefined) for (let i = 0; i < sh.used; i++) if (sh.recs[i] !== undefined) e.push(sh.recs[i]!);
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
    const sparse = new Set<Shard>();
    for (const k of keys) {
      const h = hash32(k) | 0;
      const sh = this.shards[this.shardOf(h)];
      const i = sh === undefined ? -1 : sh.find(k, h);
      if (i < 0) continue;
      const r = sh!.recs[i]!;
      if (r.d !== true) continue;
      if (this.horizonTs === null || compareTs(r.ts, this.horizonTs) > 0) this.horizonTs = r.ts;
      this.toggle(sh!, i, r);
      this.removeAt(sh!, i);
      if (sh!.sparse) sparse.add(sh!);
      dropped++;
    }
    this.compactAll(sparse);
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
    const sparse = new Set<Shard>();
    for (const sh of this.shards) {
      if (sh === undefined) continue;
      const recs = sh.recs;
      for (let i = 0; i < sh.used; i++) {
        const r = recs[i];
        if (r !== undefined && r.d === true && compareTs(r.ts, horizon) < 0) {
          this.toggle(sh, i, r);
          this.removeAt(sh, i);
          dropped++;
        }
      }
      if (sh.sparse) sparse.add(sh);
    }
    this.compactAll(sparse);
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
    const b = this.shardOf(h);
    const sh = this.shards[b] ?? (this.shards[b] = new Shard());
    const i = sh.find(key, h);
    this.touchedShard = sh;
    this.touched = i;
    // An absent key at or below the horizon was forgotten: nothing older revives it.
    if (i < 0 && this.horizonTs !== null && compareTs(d.ts, this.horizonTs) <= 0) return false;
    const tomb = d.d === true;
    // A winning tombstone older than the horizon is as good as absence.
    const stale = tomb && this.horizonTs !== null && compareTs(d.ts, this.horizonTs) < 0;
    if (i < 0) {
      const rec = normalise(d, tomb);
      const compactions = sh.compactions;
      this.touched = sh.insert(h, this.pair[0]! | 0, rec);
      if (sh.compactions !== compactions) this.layoutGen++;
      this.held++;
      this.toggle(sh, this.touched, rec);
      if (tomb) return false;
      this.live++;
      this.before = undefined;
      this.after = rec.v;
      return true;
    }
    const cur = sh.recs[i]!;
    if (!wins(d, cur)) return false;
    this.toggle(sh, i, cur);
    const wasLive = cur.d !== true;
    if (wasLive) this.live--;
    let value: Value = undefined;
    if (stale) {
      this.removeAt(sh, i);
    } else {
      const rec = normalise(d, tomb);
      sh.recs[i] = rec;
      this.toggle(sh, i, rec);
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

  /** The stored record of `key`, tombstones included. */
  private lookup(key: string): DeltaEntry | undefined {
    const h = hash32(key) | 0;
    const sh = this.shards[this.shardOf(h)];
    if (sh === undefined) return undefined;
    const i = sh.find(key, h);
    return i < 0 ? undefined : sh.recs[i];
  }

  private records(): IterableIterator<DeltaEntry> {
    return recordsOf(this.shards);
  }

  /** The bucket (and table) of a key hash: the digest's rule (lww-digest.ts). */
  private shardOf(h: number): number {
    return this.bucketMask >= 0 ? h & this.bucketMask : (h >>> 0) % this.buckets;
  }

  /** Room for `n` more keys, spread over the tables (a full state into an empty replica). */
  private reserve(n: number): void {
    // A bucket's share, with room for the spread of a hash (a few standard deviations).
    const mean = n / this.buckets;
    const each = Math.ceil(mean + 4 * Math.sqrt(mean) + 4);
    if (each < 16) return;
    for (let b = 0; b < this.buckets; b++) (this.shards[b] ??= new Shard()).reserve(each);
  }

  private removeAt(sh: Shard, i: number): void {
    sh.remove(i);
    this.held--;
  }

  private compactAll(sparse: Set<Shard>): void {
    for (const sh of sparse) if (sh.sparse) sh.compact();
    if (sparse.size > 0) this.layoutGen++;
  }

  /** XOR the record at index `i` of `sh` into (or, again, out of) the digest. */
  private toggle(sh: Shard, i: number, r: DeltaEntry): void {
    this.sums.toggle(sh.kh[i]!, sh.kh2[i]!, r);
  }
}
