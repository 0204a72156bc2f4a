import { describe, expect, test } from "bun:test";
import { fmix32, hash32, hash32Pair, mixNumber, mixWord } from "../../core/hash.ts";

describe("hash", () => {
  test("hash32 is stable across versions (digests and placement depend on it)", () => {
    // Pinned values: changing the hash changes every digest and owner.
    expect([hash32(""), hash32("a"), hash32("room:kitchen"), hash32("a", 7)]).toEqual([
      2872998923, 444641715, 2864507419, 3204135240,
    ]);
  });

  test("hash32Pair gives both seeds' hashes in one pass", () => {
    const out = new Uint32Array(1);
    for (const s of ["", "a", "person/alan", "部屋\u{1F600}", "x".repeat(1000)]) {
      expect(hash32Pair(s, 0x9747b28c, out)).toBe(hash32(s));
      expect(out[0]).toBe(hash32(s, 0x9747b28c));
    }
  });

  test("results are unsigned 32-bit integers", () => {
    for (const x of [hash32("q"), fmix32(-1), mixNumber(5, 2 ** 50), mixWord(1, 2) >>> 0]) {
      expect(Number.isInteger(x)).toBe(true);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(2 ** 32);
    }
  });

  test("one changed character flips about half the bits", () => {
    let total = 0;
    for (let i = 0; i < 1000; i++) {
      const x = hash32(`key-${i}`) ^ hash32(`key-${i}!`);
      let bits = 0;
      for (let v = x >>> 0; v; v &= v - 1) bits++;
      total += bits;
    }
    expect(total / 1000).toBeGreaterThan(14);
    expect(total / 1000).toBeLessThan(18);
  });
});
