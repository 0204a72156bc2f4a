/**
 * The anti-entropy digest of an LWW map: keys fall into buckets by hash32,
 * each bucket holds two 32-bit XOR sums of its entries' hashes (64 bits in
 * all, from two independent key hashes and two mixes of the timestamp), so
 * adding and removing an entry is one XOR each and two replicas that differ
 * in a bucket almost surely differ in its sums.
 *
 * A second level splits every bucket into LEAVES leaves by the top bits of
 * the second key hash (independent of the bucket), with the same two sums
 * each: a bucket's sums are the XOR of its leaves'. Replicas that differ in
 * a bucket compare its leaves and exchange only the differing ones, so k
 * differing keys cost about k leaves' entries (map size / (buckets *
 * LEAVES) each: ~18 at 1.2M keys), not k buckets' (~4,700 each).
 */

import { hash32 } from "../hash.ts";
import type { Timestamp } from "./hlc.ts";
import { RecentWriters } from "./recent-writers.ts";

/** Bucketed hashes of a replica: `h[2b]`, `h[2b+1]` for bucket b. */
export interface Digest {
  buckets: number;
  h: Uint32Array;
}

export const DEFAULT_BUCKETS = 256;

/** Leaves per bucket (the top LEAF_BITS bits of the second key hash). */
export const LEAF_BITS = 8;
export const LEAVES = 1 << LEAF_BITS;

/** The leaf of a key within its bucket, from its second hash. */
export function leafOf(kh2: number): number {
  return kh2 >>> (32 - LEAF_BITS);
}

/** Seed of the second, independent key and writer hash. */
export const SEED2 = 0x9747b28c;

/**
 * XOR one entry into (or, again, out of) `sums`. `kh`/`kh2` are the key's two
 * hashes, `nh1`/`nh2` the writer's; `cd` is counter * 2 + (tombstone ? 1 : 0).
 * `bucketMask` is buckets - 1 when buckets is a power of two (then
 * `kh & mask` equals `kh mod buckets`, without a division), else -1.
 *
 * The same words as fmix32(mixWord(...)) from hash.ts, kept in int32 all the
 * way (fmix32's `>>> 0` would make half the results doubles on this hot path).
 */
export function toggleEntry(
  sums: Uint32Array,
  leaves: Uint32Array,
  buckets: number,
  bucketMask: number,
  kh: number,
  kh2: number,
  w: number,
  cd: number,
  nh1: number,
  nh2: number,
): void {
  const lo = w | 0;
  const hi = (w / 4294967296) | 0;
  const h1 = fmix(mix(mix(mix(mix(kh, lo), hi), cd), nh1));
  const h2 = fmix(mix(mix(mix(mix(kh2, nh2), cd), lo), hi));
  const b = 2 * (bucketMask >= 0 ? kh & bucketMask : (kh >>> 0) % buckets);
  sums[b] ^= h1;
  sums[b + 1] ^= h2;
  const l = b * LEAVES + 2 * (kh2 >>> (32 - LEAF_BITS));
  leaves[l] ^= h1;
  leaves[l + 1] ^= h2;
}

/**
 * An entry's 53-bit print: its two digest words (key, timestamp, writer,
 * tombstone-ness) as one exact double. Two replicas holding a key at the same
 * version have equal prints; prints let a round skip sending entries the
 * other side already holds (a leaf's other keys).
 */
export function entryPrint(kh: number, kh2: number, w: number, cd: number, nh1: number, nh2: number): number {
  const lo = w | 0;
  const hi = (w / 4294967296) | 0;
  const h1 = fmix(mix(mix(mix(mix(kh, lo), hi), cd), nh1)) >>> 0;
  const h2 = fmix(mix(mix(mix(mix(kh2, nh2), cd), lo), hi)) >>> 0;
  return h1 * 2097152 + (h2 >>> 11);
}

/** `bucketMask` for toggleEntry. */
export function bucketMaskOf(buckets: number): number {
  return (buckets & (buckets - 1)) === 0 ? buckets - 1 : -1;
}

/** mixWord of hash.ts. */
function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** fmix32 of hash.ts, as int32. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
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

/**
 * Mark in `want` (one byte per leaf, index bucket * LEAVES + leaf) the leaves
 * of `buckets` whose sums differ between `mine` (all leaf words) and
 * `theirs` (the words of just those buckets, in that order): DIFFERS, plus
 * THEIRS when their side of it is non-empty (worth asking for) and MINE when
 * ours is (worth pushing back). Returns how
 * many leaves differ, and how many of those are non-empty on their side and on ours.
 */
export const DIFFERS = 1;
export const THEIRS = 2;
export const MINE = 4;

export function diffLeaves(
  mine: Uint32Array,
  buckets: readonly number[],
  theirs: Uint32Array,
  want: Uint8Array,
): { differing: number; theirs: number; mine: number } {
  let d = 0;
  let t = 0;
  let m = 0;
  for (let k = 0; k < buckets.length; k++) {
    const b = buckets[k]!;
    for (let l = 0; l < LEAVES; l++) {
      const x = 2 * (b * LEAVES + l);
      const y = 2 * (k * LEAVES + l);
      const a0 = mine[x]!;
      const a1 = mine[x + 1]!;
      const b0 = theirs[y]!;
      const b1 = theirs[y + 1]!;
      if (a0 === b0 && a1 === b1) continue;
      d++;
      let f = DIFFERS;
      if (b0 !== 0 || b1 !== 0) f |= THEIRS, t++;
      if (a0 !== 0 || a1 !== 0) f |= MINE, m++;
      want[b * LEAVES + l] = f;
    }
  }
  return { differing: d, theirs: t, mine: m };
}

/** A map's digest, both levels, kept current entry by entry (LwwMap owns one). */
export class DigestSums {
  /** two words per bucket */
  readonly sums: Uint32Array;
  /** the second level: LEAVES pairs of words per bucket */
  readonly leaves: Uint32Array;
  private readonly bucketMask: number;
  // Writers repeat, but a bucket's keys come from every node's writers in turn: the last few writers' hashes.
  private lastNode: string | undefined = undefined;
  private nh1 = 0;
  private nh2 = 0;
  private readonly recent = new RecentWriters();

  constructor(readonly buckets: number) {
    this.sums = new Uint32Array(buckets * 2);
    this.leaves = new Uint32Array(buckets * LEAVES * 2);
    this.bucketMask = bucketMaskOf(buckets);
  }

  /** XOR the entry at `ts` (`tomb`: a tombstone), whose key hashes are `kh` and `kh2`, into (or, again, out of) the sums. */
  toggle(kh: number, kh2: number, ts: Timestamp, tomb: boolean): void {
    this.writerHashes(ts.n);
    const cd = (ts.c * 2 + (tomb ? 1 : 0)) | 0;
    toggleEntry(this.sums, this.leaves, this.buckets, this.bucketMask, kh, kh2, ts.w, cd, this.nh1, this.nh2);
  }

  /** The print (entryPrint) of the entry at `ts` (`tomb`: a tombstone) whose key hashes are `kh` and `kh2`. */
  print(kh: number, kh2: number, ts: Timestamp, tomb: boolean): number {
    this.writerHashes(ts.n);
    return entryPrint(kh, kh2, ts.w, (ts.c * 2 + (tomb ? 1 : 0)) | 0, this.nh1, this.nh2);
  }

  /** A copy of the bucket level. */
  digest(): Digest {
    return { buckets: this.buckets, h: this.sums.slice() };
  }

  /** The words of every leaf of `buckets`, in that order (LEAVES * 2 per bucket). */
  leafDigest(buckets: readonly number[]): Uint32Array {
    const out = new Uint32Array(buckets.length * LEAVES * 2);
    const w = LEAVES * 2;
    buckets.forEach((b, k) => out.set(this.leaves.subarray(b * w, (b + 1) * w), k * w));
    return out;
  }

  private writerHashes(n: string): void {
    if (n === this.lastNode) return;
    this.lastNode = n;
    let i = this.recent.find(n);
    if (i < 0) i = this.recent.add(n, hash32(n) | 0, hash32(n, SEED2) | 0);
    this.nh1 = this.recent.first(i);
    this.nh2 = this.recent.second(i);
  }
}
