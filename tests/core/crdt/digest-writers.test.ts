import { describe, expect, test } from "bun:test";
import { entryPrint, DigestSums, SEED2 } from "../../../core/crdt/lww-digest.ts";
import { hash32 } from "../../../core/hash.ts";

// DigestSums keeps the hashes of its last few writers: each entry must still get its own writer's.
describe("digest writer hashes", () => {
  test("entries of many writers taking turns get each its own writer's print, past the writers kept", () => {
    const sums = new DigestSums(16);
    const writers = Array.from({ length: 20 }, (_, i) => `writer-${i}`);
    // Turns that revisit writers after more than a few others wrote (and strings equal, not identical).
    for (let k = 0; k < 400; k++) {
      const n = `${writers[(k * 7) % writers.length]!}`.slice(0);
      const ts = { w: 1_000 + k, c: k % 3, n };
      const kh = hash32(`key${k}`) | 0;
      const kh2 = hash32(`key${k}`, SEED2) | 0;
      const want = entryPrint(kh, kh2, ts.w, ts.c * 2, hash32(n) | 0, hash32(n, SEED2) | 0);
      expect(sums.print(kh, kh2, ts, false)).toBe(want);
    }
  });

  test("toggling entries of many writers in and out, in any order, leaves the sums empty", () => {
    const sums = new DigestSums(16);
    const entries = Array.from({ length: 300 }, (_, k) => ({ kh: hash32(`k${k}`) | 0, kh2: hash32(`k${k}`, SEED2) | 0, ts: { w: 5_000 + k, c: 0, n: `n${(k * 13) % 17}` } }));
    for (const e of entries) sums.toggle(e.kh, e.kh2, e.ts, false);
    for (const e of [...entries].reverse()) sums.toggle(e.kh, e.kh2, e.ts, false);
    expect([...sums.sums].every((x) => x === 0)).toBe(true);
    expect([...sums.leaves].every((x) => x === 0)).toBe(true);
  });
});
