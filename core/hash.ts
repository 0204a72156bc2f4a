/**
 * Small, fast, non-cryptographic string hashes (pure JS so core/ stays pure
 * and identical on every runtime). Used for digest buckets and placement.
 */

/** The default seed of hash32: FNV-1a's offset basis. */
export const FNV_SEED = 0x811c9dc5;

/** 32-bit FNV-1a over UTF-16 code units, with a seed, then a murmur3 finaliser. */
export function hash32(s: string, seed = FNV_SEED): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/**
 * `hash32(s)` and `hash32(s, seed2)` in one pass over the string: returns the
 * first and stores the second in `out[0]` (both as unsigned 32-bit).
 */
export function hash32Pair(s: string, seed2: number, out: Uint32Array): number {
  let a = FNV_SEED;
  let b = seed2 >>> 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  out[0] = fmix32(b);
  return fmix32(a);
}

/** murmur3's finaliser: spreads every input bit over the whole word. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3's block step: fold one 32-bit word `k` into a running hash `h`. */
export function mixWord(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Mix a number into a running 32-bit hash. */
export function mixNumber(h: number, n: number): number {
  // Split into two 32-bit halves: wall milliseconds exceed 32 bits.
  const lo = n >>> 0;
  const hi = Math.floor(n / 4294967296) >>> 0;
  h = fmix32(Math.imul(h ^ lo, 0x9e3779b1));
  return fmix32(Math.imul(h ^ hi, 0x85ebca77));
}
