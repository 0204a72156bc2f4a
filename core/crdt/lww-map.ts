/**
 * Delta-state last-writer-wins map (Almeida, Shoker, Baquero: delta-state
 * CRDTs). Each key holds a value or a tombstone with the HLC timestamp of the
 * write that put it there; merging keeps the larger timestamp per key, so
 * merge is commutative, associative and idempotent, and a delta is just a
 * small map merged the same way as a full state.
 *
 * For anti-entropy the map keeps an incrementally maintained digest (see
 * lww-digest.ts): replicas exchange only the entries of differing buckets.
 *
 * Storage is one hand-rolled open-addressing table per digest bucket
 * (lww-shard.ts) rather than a JS Map: the key hash is needed for the digest
 * anyway, so computing it once serves both; the tables avoid the Map's
 * per-entry allocation (about 2x faster to fill at 100k keys); and no table
 * holds more than a bucket's keys, so growing one never stalls the event
 * loop on the whole map. Iteration goes bucket by bucket, each in insertion
 * order. A table keeps keys, values and stamps in columns (no object per
 * key): entries handed out (deltas, scans) are the caller's own.
 */
import { compareTs, type Timestamp } from "./hlc.ts";
import { hash32, hash32Pair } from "../hash.ts";
import { bucketMaskOf, DEFAULT_BUCKETS, diffLeaves, DigestSums, SEED2, type Digest } from "./lww-digest.ts";
import { type Stored, TOMB, toEntry, winsOver } from "./lww-rules.ts";
import { scanShards, Shard, storedEntries } from "./lww-shard.ts";
import type { Change, Delta, DeltaEntry, Entry, Value } from "./lww-types.ts";

export { DEFAULT_BUCKETS, diffBuckets, DIFFERS, LEAVES, MINE, THEIRS, type Digest } from "./lww-digest.ts";
export { joinDeltas } from "./lww-rules.ts";
export { PRINTED } from "./lww-shard.ts";
export type { Change, Delta, DeltaEntry, Entry, Value } from "./lww-types.ts";

export class LwwMap {
  readonly buckets: number;
  /** one table per bucket, made on its first key */
  private readonly shards: (Shard | undefined)[];
  /** keys held, tombstones included; and live ones */
  private held = 0;
  private live = 0;
  /** whether the last apply() stored its entry; the map's own string for the key it last changed */
  private stored = false;
  private storedKey = "";
  /** the table of the last find() that found a key */
  private found: Shard = new Shard();
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
    const i = this.find(key);
    const v = i < 0 ? undefined : this.found.vals.at(i);
    return v === TOMB ? undefined : v;
  }

  has(key: string): boolean {
    const i = this.find(key);
    return i >= 0 && this.found.vals.at(i) !== TOMB;
  }

  /** The raw entry, tombstones included. */
  entry(key: string): Entry | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : toEntry(this.found.tss.at(i)!, this.found.vals.at(i));
  }

  /** Live entries, bucket by bucket. */
  *entries(): IterableIterator<[string, Value]> {
    for (const [k, v] of storedEntries(this.shards)) if (v !== TOMB) yield [k, v];
  }

  /** Live entries whose key starts with `prefix`. */
  *withPrefix(prefix: string): IterableIterator<[string, Value]> {
    for (const [k, v] of storedEntries(this.shards)) if (v !== TOMB && k.startsWith(prefix)) yield [k, v];
  }

  /** Every entry, tombstones included. */
  *raw(): IterableIterator<[string, Entry]> {
    for (const [k, v, ts] of storedEntries(this.shards)) yield [k, toEntry(ts, v)];
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
      if (this.stored) e[j++] = d;
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
        // The key string the map holds: whoever keeps it (the room index) shares the map's copy.
        if (changes !== null) changes[n] = { key: this.storedKey, old: this.before, value: this.after };
        n++;
      }
    }
    this.before = this.after = undefined; // hold no stale value alive
    return n;
  }

  /** The whole state as a delta (tombstones included). */
  state(): Delta {
    const e: DeltaEntry[] = [];
    for (const sh of this.shards) sh?.entriesInto(e);
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
    return scanShards(this.shards, want, from, maxScan, max, out, prints, this.printOf);
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
      sh?.entriesInto(e);
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
      const i = this.find(k);
      const sh = this.found;
      if (i < 0 || sh.vals.at(i) !== TOMB) continue;
      const ts = sh.tss.at(i)!;
      if (this.horizonTs === null || compareTs(ts, this.horizonTs) > 0) this.horizonTs = ts;
      this.toggle(sh, i);
      this.removeAt(sh, i);
      if (sh.sparse) sparse.add(sh);
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
      const { vals, tss } = sh;
      for (let i = 0; i < sh.used; i++) {
        if (vals.at(i) === TOMB && compareTs(tss.at(i)!, horizon) < 0) {
          this.toggle(sh, i);
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
    this.stored = false;
    // An absent key at or below the horizon was forgotten: nothing older revives it.
    if (i < 0 && this.horizonTs !== null && compareTs(d.ts, this.horizonTs) <= 0) return false;
    const tomb = d.d === true;
    // What is stored: a tombstone drops any value, a value is never undefined.
    const v: Stored = tomb ? TOMB : d.v === undefined ? null : d.v;
    const ts = d.ts;
    if (i < 0) {
      const h2 = this.pair[0]! | 0;
      const compactions = sh.compactions;
      sh.insert(h, h2, key, ts, v);
      if (sh.compactions !== compactions) this.layoutGen++;
      this.stored = true;
      this.held++;
      this.sums.toggle(h, h2, ts, tomb);
      if (tomb) return false;
      this.live++;
      this.storedKey = key;
      this.before = undefined;
      this.after = v;
      return true;
    }
    const cur = sh.vals.at(i);
    if (!winsOver(ts, v, sh.tss.at(i)!, cur)) return false;
    this.toggle(sh, i);
    const wasLive = cur !== TOMB;
    if (wasLive) this.live--;
    let value: Value = undefined;
    // A winning tombstone older than the horizon is as good as absence.
    if (tomb && this.horizonTs !== null && compareTs(ts, this.horizonTs) < 0) {
      this.removeAt(sh, i);
    } else {
      sh.vals.set(i, v);
      sh.tss.set(i, ts);
      this.stored = true;
      this.toggle(sh, i);
      if (!tomb) {
        this.live++;
        value = v;
      }
    }
    if (!wasLive && tomb) return false;
    this.storedKey = sh.keys.at(i) ?? key;
    this.before = wasLive ? cur : undefined;
    this.after = value;
    return true;
  }

  /** The index of `key` in its table, which is then `found`; -1 when absent. */
  private find(key: string): number {
    const h = hash32(key) | 0;
    const sh = this.shards[this.shardOf(h)];
    if (sh === undefined) return -1;
    this.found = sh;
    return sh.find(key, h);
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

  /** XOR the entry at index `i` of `sh` into (or, again, out of) the digest. */
  private toggle(sh: Shard, i: number): void {
    this.sums.toggle(sh.kh[i]!, sh.kh2[i]!, sh.tss.at(i)!, sh.vals.at(i) === TOMB);
  }

  /** The print of the entry at index `i` of `sh` (scan()). */
  private readonly printOf = (sh: Shard, i: number): number => this.sums.print(sh.kh[i]!, sh.kh2[i]!, sh.tss.at(i)!, sh.vals.at(i) === TOMB);
}
