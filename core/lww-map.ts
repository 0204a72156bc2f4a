/**
 * Delta-state last-writer-wins map (Almeida, Shoker, Baquero: delta-state
 * CRDTs). Each key holds a value or a tombstone with the HLC timestamp of the
 * write that put it there; merging keeps the larger timestamp per key, so
 * merge is commutative, associative and idempotent, and a delta is just a
 * small map merged the same way as a full state.
 *
 * For anti-entropy the map keeps an incrementally maintained digest: keys are
 * spread over buckets, each bucket holds two 32-bit XOR sums of its entries'
 * hashes. Two replicas compare digests and exchange only differing buckets.
 */
import { compareTs, type Timestamp } from "./hlc.ts";
import { fmix32, hash32, mixNumber } from "./hash.ts";

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

/** Bucketed hashes of a replica: `h[2b]`, `h[2b+1]` for bucket b. */
export interface Digest {
  buckets: number;
  h: Uint32Array;
}

export const DEFAULT_BUCKETS = 256;

const SEED2 = 0x9747b28c;

export class LwwMap {
  readonly buckets: number;
  private readonly data = new Map<string, Entry>();
  private readonly sums: Uint32Array;
  private readonly nodeHash = new Map<string, number>();
  private live = 0;
  private horizonTs: Timestamp | null = null;

  constructor(opts: { buckets?: number } = {}) {
    this.buckets = opts.buckets ?? DEFAULT_BUCKETS;
    if (!Number.isInteger(this.buckets) || this.buckets < 1) throw new RangeError("buckets must be a positive integer");
    this.sums = new Uint32Array(this.buckets * 2);
  }

  /** Number of live (non-deleted) keys. */
  get size(): number {
    return this.live;
  }

  /** Number of tombstones held. */
  get tombstones(): number {
    return this.data.size - this.live;
  }

  /** Tombstones older than this were collected (see collect()). */
  get horizon(): Timestamp | null {
    return this.horizonTs;
  }

  get(key: string): Value {
    const e = this.data.get(key);
    return e === undefined || e.d ? undefined : e.v;
  }

  has(key: string): boolean {
    const e = this.data.get(key);
    return e !== undefined && !e.d;
  }

  /** The raw entry, tombstones included. */
  entry(key: string): Entry | undefined {
    return this.data.get(key);
  }

  /** Live entries, in insertion order. */
  *entries(): IterableIterator<[string, Value]> {
    for (const [k, e] of this.data) if (!e.d) yield [k, e.v];
  }

  /** Live entries whose key starts with `prefix`. */
  *withPrefix(prefix: string): IterableIterator<[string, Value]> {
    for (const [k, e] of this.data) if (!e.d && k.startsWith(prefix)) yield [k, e.v];
  }

  /** Every entry, tombstones included. */
  raw(): IterableIterator<[string, Entry]> {
    return this.data.entries();
  }

  /** Write `value` at `ts` (from the caller's HLC) and return the delta. */
  set(key: string, value: Value, ts: Timestamp): Delta {
    const d: DeltaEntry = { k: key, ts, v: value };
    this.apply(d);
    return { e: [d] };
  }

  /** Delete `key` at `ts`, leaving a tombstone, and return the delta. */
  delete(key: string, ts: Timestamp): Delta {
    const d: DeltaEntry = { k: key, ts, d: true };
    this.apply(d);
    return { e: [d] };
  }

  /** Merge a delta or a full state. Returns the visible changes. */
  merge(delta: Delta): Change[] {
    const changes: Change[] = [];
    for (const d of delta.e) {
      const c = this.apply(d);
      if (c !== null) changes.push(c);
    }
    return changes;
  }

  /** The whole state as a delta (tombstones included). */
  state(): Delta {
    const e: DeltaEntry[] = [];
    for (const [k, en] of this.data) e.push(toDeltaEntry(k, en));
    return { e };
  }

  /** A copy of the current digest. */
  digest(): Digest {
    return { buckets: this.buckets, h: this.sums.slice() };
  }

  /** The bucket a key falls in. */
  bucketOf(key: string): number {
    return hash32(key) % this.buckets;
  }

  /** Entries (tombstones included) of the given buckets, for anti-entropy. */
  entriesIn(buckets: Iterable<number>): Delta {
    const want = new Set(buckets);
    const e: DeltaEntry[] = [];
    if (want.size === 0) return { e };
    for (const [k, en] of this.data) {
      if (want.has(hash32(k) % this.buckets)) e.push(toDeltaEntry(k, en));
    }
    return { e };
  }

  /**
   * Drop tombstones older than `horizon`: the caller promises every replica
   * has seen every delete before it. Later merges treat a tombstone older
   * than the horizon as absence. Returns how many were dropped.
   */
  collect(horizon: Timestamp): number {
    if (this.horizonTs === null || compareTs(horizon, this.horizonTs) > 0) this.horizonTs = horizon;
    let dropped = 0;
    for (const [k, en] of this.data) {
      if (en.d && compareTs(en.ts, horizon) < 0) {
        this.unhash(k, en);
        this.data.delete(k);
        dropped++;
      }
    }
    return dropped;
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
      const en = this.data.get(k);
      if (en === undefined || !en.d) continue;
      if (this.horizonTs === null || compareTs(en.ts, this.horizonTs) > 0) this.horizonTs = en.ts;
      this.unhash(k, en);
      this.data.delete(k);
      dropped++;
    }
    return dropped;
  }

  private apply(d: DeltaEntry): Change | null {
    const cur = this.data.get(d.k);
    const tomb = d.d === true;
    // An absent key at or below the horizon was forgotten: nothing older revives it.
    if (cur === undefined && this.horizonTs !== null && compareTs(d.ts, this.horizonTs) <= 0) return null;
    if (cur !== undefined && !wins(d.ts, tomb, d.v, cur)) return null;
    if (cur !== undefined) this.unhash(d.k, cur);
    const old = cur === undefined || cur.d ? undefined : cur.v;
    if (cur !== undefined && !cur.d) this.live--;
    if (tomb && this.horizonTs !== null && compareTs(d.ts, this.horizonTs) < 0) {
      // Older than the collection horizon: the tombstone is as good as absence.
      this.data.delete(d.k);
    } else {
      const en: Entry = { v: tomb ? undefined : d.v, ts: d.ts, d: tomb };
      this.data.set(d.k, en);
      this.rehash(d.k, en);
      if (!tomb) this.live++;
    }
    if (old === undefined && tomb) return null;
    return { key: d.k, old, value: tomb ? undefined : d.v };
  }

  private entryHashes(key: string, en: Entry): [number, number, number] {
    const kh = hash32(key);
    let nh = this.nodeHash.get(en.ts.n);
    if (nh === undefined) {
      nh = hash32(en.ts.n);
      if (this.nodeHash.size < 4096) this.nodeHash.set(en.ts.n, nh);
    }
    const base = mixNumber(mixNumber(kh ^ nh, en.ts.w), en.ts.c * 2 + (en.d ? 1 : 0));
    const h2 = fmix32(base ^ hash32(key, SEED2));
    return [kh % this.buckets, base, h2];
  }

  private rehash(key: string, en: Entry): void {
    const [b, h1, h2] = this.entryHashes(key, en);
    this.sums[2 * b] ^= h1;
    this.sums[2 * b + 1] ^= h2;
  }

  private unhash(key: string, en: Entry): void {
    // XOR is its own inverse.
    this.rehash(key, en);
  }
}

/** Whether an incoming write beats the current entry. */
function wins(ts: Timestamp, tomb: boolean, v: Value, cur: Entry): boolean {
  const c = compareTs(ts, cur.ts);
  if (c !== 0) return c > 0;
  // Same timestamp: only possible if a writer identity was reused. Break the
  // tie deterministically so every replica still picks the same winner.
  if (tomb !== cur.d) return tomb;
  if (tomb) return false;
  return JSON.stringify(v) > JSON.stringify(cur.v);
}

function toDeltaEntry(k: string, en: Entry): DeltaEntry {
  return en.d ? { k, ts: en.ts, d: true } : { k, ts: en.ts, v: en.v };
}

/** Buckets whose hashes differ between two digests of the same shape. */
export function diffBuckets(a: Digest, b: Digest): number[] {
  if (a.buckets !== b.buckets) throw new RangeError("digests have different bucket counts");
  const out: number[] = [];
  for (let i = 0; i < a.buckets; i++) {
    if (a.h[2 * i] !== b.h[2 * i] || a.h[2 * i + 1] !== b.h[2 * i + 1]) out.push(i);
  }
  return out;
}

/** Join several deltas into one (largest timestamp per key wins). */
export function joinDeltas(deltas: readonly Delta[]): Delta {
  if (deltas.length === 1) return deltas[0]!;
  const byKey = new Map<string, DeltaEntry>();
  for (const d of deltas) {
    for (const en of d.e) {
      const cur = byKey.get(en.k);
      if (cur === undefined || wins(en.ts, en.d === true, en.v, { v: cur.v, ts: cur.ts, d: cur.d === true })) {
        byKey.set(en.k, en);
      }
    }
  }
  return { e: [...byKey.values()] };
}
