import { describe, expect, test } from "bun:test";
import { LEAVES, LwwMap, type DeltaEntry } from "../../../core/crdt/lww-map.ts";
import { Shard } from "../../../core/crdt/lww-shard.ts";

const ts = (w: number) => ({ w, c: 0, n: "w1" });

describe("one bucket's table", () => {
  test("keys whose hashes share their low bits (as a bucket's do) are all found through growth, removals and compaction", () => {
    const t = new Shard();
    const hashOf = (i: number) => ((i * 256) | 7) | 0; // low 8 bits equal, like keys of bucket 7 of 256
    for (let i = 0; i < 5000; i++) {
      expect(t.find(`k${i}`, hashOf(i))).toBe(-1);
      t.insert(hashOf(i), i, `k${i}`, ts(1), `v${i}`);
    }
    for (let i = 0; i < 5000; i += 2) t.remove(t.find(`k${i}`, hashOf(i)));
    expect(t.sparse).toBe(true);
    const before = t.compactions;
    t.compact();
    expect(t.compactions).toBe(before + 1);
    expect(t.used).toBe(2500);
    for (let i = 0; i < 5000; i++) {
      const at = t.find(`k${i}`, hashOf(i));
      if (i % 2 === 0) expect(at).toBe(-1);
      else {
        expect(t.keys.at(at)).toBe(`k${i}`);
        expect(t.vals.at(at)).toBe(`v${i}`);
      }
    }
  });

  test("reserving room first keeps every key findable", () => {
    const t = new Shard();
    t.reserve(3000);
    for (let i = 0; i < 3000; i++) {
      t.find(`k${i}`, i * 31);
      t.insert(i * 31, 0, `k${i}`, ts(1), `v${i}`);
    }
    for (let i = 0; i < 3000; i++) expect(t.entryAt(t.find(`k${i}`, i * 31))).toEqual({ k: `k${i}`, ts: ts(1), v: `v${i}` });
  });

  test("a table past 65,536 slots (indices no longer fit 16 bits) still finds every key, before and after compaction", () => {
    const t = new Shard();
    const n = 70_000;
    for (let i = 0; i < n; i++) {
      expect(t.find(`k${i}`, i * 7919)).toBe(-1);
      t.insert(i * 7919, 0, `k${i}`, ts(1), i);
    }
    for (let i = 0; i < n; i++) expect(t.vals.at(t.find(`k${i}`, i * 7919))).toBe(i);
    for (let i = 0; i < n; i += 2) t.remove(t.find(`k${i}`, i * 7919));
    t.compact();
    for (let i = 0; i < n; i++) {
      const at = t.find(`k${i}`, i * 7919);
      if (i % 2 === 0) expect(at).toBe(-1);
      else expect(t.vals.at(at)).toBe(i);
    }
  });
});

describe("a map split by bucket", () => {
  test("with a bucket count that is not a power of two, every key is found and every entry walked once", () => {
    const m = new LwwMap({ buckets: 7 });
    for (let i = 0; i < 3000; i++) m.set(`k${i}`, i, ts(i + 1));
    for (let i = 0; i < 3000; i += 3) m.delete(`k${i}`, ts(10_000 + i));
    for (let i = 0; i < 3000; i++) expect(m.get(`k${i}`)).toBe(i % 3 === 0 ? undefined : i);
    const out: DeltaEntry[] = [];
    let pos = 0;
    do pos = m.scan(new Uint8Array(7 * LEAVES).fill(1), pos, 100, 1 << 30, out);
    while (pos >= 0);
    expect(out.length).toBe(3000);
    expect(new Set(out.map((e) => e.k)).size).toBe(3000);
  });

  test("a walk of one bucket's leaves looks at that bucket's entries only, not the whole map", () => {
    const m = new LwwMap();
    for (let i = 0; i < 20_000; i++) m.set(`k${i}`, i, ts(i + 1));
    const b = m.bucketOf("k42");
    const inBucket = [...m.raw()].filter(([k]) => m.bucketOf(k) === b).length;
    const want = new Uint8Array(m.buckets * LEAVES);
    want.fill(1, b * LEAVES, (b + 1) * LEAVES);
    const out: DeltaEntry[] = [];
    // A budget of the bucket's size is enough: the other 255 buckets cost nothing.
    expect(m.scan(want, 0, inBucket, 1 << 30, out)).toBe(-1);
    expect(out.length).toBe(inBucket);
    expect(out.map((e) => e.k)).toContain("k42");
  });

  test("growing to 200,000 keys, no table holds much more than a bucket's share (what one growth or compaction costs)", () => {
    const m = new LwwMap();
    for (let i = 0; i < 200_000; i++) m.set(`person/p${i}`, "room", ts(i + 1));
    expect(m.size).toBe(200_000);
    // 781 keys a bucket on average; one table of every key took ~10 ms to double at this size, 60-110 ms at a million.
    expect(m.largestTable).toBeLessThan((2 * 200_000) / m.buckets);
    expect(m.largestTable).toBeGreaterThan(200_000 / m.buckets);
  });
});
