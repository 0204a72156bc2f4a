/**
 * The anti-entropy digest of an LWW map: keys fall into buckets by hash32,
 * each bucket holds two 32-bit XOR sums of its entries' hashes (64 bits in
 * all, from two independent key hashes and two mixes of the timestamp), so
 * adding and removing an entry is one XOR each and two replicas that differ
 * in a bucket almost surely differ in its sums.
 */
import { fmix32, mixWord } from "./hash.ts";

/** Bucketed hashes of a replica: `h[2b]`, `h[2b+1]` for bucket b. */
export interface Digest {
  buckets: number;
  h: Uint32Array;
}

export const DEFAULT_BUCKETS = 256;

/** Seed of the second, independent key and writer hash. */
export const SEED2 = 0x9747b28c;

/**
 * XOR one entry into (or, again, out of) `sums`. `kh`/`kh2` are the key's two
 * hashes, `nh1`/`nh2` the writer's; `cd` is counter * 2 + (tombstone ? 1 : 0).
 */
export function toggleEntry(
  sums: Uint32Array,
  buckets: number,
  kh: number,
  kh2: number,
  w: number,
  cd: number,
  nh1: number,
  nh2: number,
): void {
  const lo = w | 0;
  const hi = (w / 4294967296) | 0;
  const h1 = fmix32(mixWord(mixWord(mixWord(mixWord(kh, lo), hi), cd), nh1));
  const h2 = fmix32(mixWord(mixWord(mixWord(mixWord(kh2, nh2), cd), lo), hi));
  const b = 2 * ((kh >>> 0) % buckets);
  sums[b] ^= h1;
  sums[b + 1] ^= h2;
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
