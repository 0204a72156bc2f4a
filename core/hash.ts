/**
 * Small, fast, non-cryptographic string hashes (pure JS so core/ stays pure
 * and identical on every runtime). Used for digest buckets and placement.
 */

/** 32-bit FNV-1a over UTF-16 code units, with a seed, then a murmur3 finaliser. */
export function hash32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
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

/** Mix a number into a running 32-bit hash. */
export function mixNumber(h: number, n: number): number {
  // Split into two 32-bit halves: wall milliseconds exceed 32 bits.
  const lo = n >>> 0;
  const hi = Math.floor(n / 4294967296) >>> 0;
  h = fmix32(Math.imul(h ^ lo, 0x9e3779b1));
  return fmix32(Math.imul(h ^ hi, 0x85ebca77));
}
