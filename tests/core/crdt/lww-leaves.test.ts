import { describe, expect, test } from "bun:test";
import { DIFFERS, LEAVES, LwwMap, MINE, PRINTED, THEIRS, type DeltaEntry } from "../../../core/crdt/lww-map.ts";

const ts = (w: number, c = 0, n = "w1") => ({ w, c, n });

function filled(n: number, buckets?: number): LwwMap {
  const m = new LwwMap({ buckets });
  const e: DeltaEntry[] = [];
  for (let i = 0; i < n; i++) e.push({ k: `k${i}`, ts: ts(1000 + i), v: i });
  m.absorb({ e });
  return m;
}

const all = (m: LwwMap): number[] => [...Array(m.buckets).keys()];

/** XOR of each bucket's leaf words, as bucket words. */
function folded(m: LwwMap): Uint32Array {
  const leaves = m.leafDigest(all(m));
  const out = new Uint32Array(m.buckets * 2);
  for (let b = 0; b < m.buckets; b++) {
    for (let l = 0; l < LEAVES; l++) {
      out[2 * b] ^= leaves[2 * (b * LEAVES + l)]!;
      out[2 * b + 1] ^= leaves[2 * (b * LEAVES + l) + 1]!;
    }
  }
  return out;
}

describe("leaf digests", () => {
  test("a bucket's sums are the XOR of its leaves', through writes, deletes, forgets and compaction", () => {
    const m = filled(3000, 16);
    expect(folded(m)).toEqual(m.digest().h);
    for (let i = 0; i < 2500; i++) m.delete(`k${i}`, ts(5000 + i));
    m.set("k2999", "again", ts(9000));
    expect(folded(m)).toEqual(m.digest().h);
    const layout = m.layout;
    m.forget([...Array(2500).keys()].map((i) => `k${i}`));
    expect(m.layout).not.toBe(layout); // holes squeezed out: indices renumbered
    expect(folded(m)).toEqual(m.digest().h);
  });

  test("equal content gives equal leaf digests whatever the order, and a fresh replica of what is left matches", () => {
    const a = filled(2000);
    const b = new LwwMap();
    const e = a.state().e.slice().reverse();
    b.absorb({ e });
    expect(b.leafDigest(all(b))).toEqual(a.leafDigest(all(a)));
    for (let i = 0; i < 1500; i++) a.delete(`k${i}`, ts(7000 + i));
    a.collect(ts(100_000));
    const fresh = new LwwMap();
    fresh.absorb({ e: a.state().e });
    expect(fresh.leafDigest(all(fresh))).toEqual(a.leafDigest(all(a)));
  });

  test("writers interleaved key by key, more of them than the writer hashes kept, digest as writer by writer does", () => {
    // 11 writers in a scrambled turn (the digest keeps 8 writers' hashes): some come back while kept, some after being replaced.
    const writer = (i: number) => `writer-${(i * i + 3 * i) % 11}-of-a-long-member-id`;
    const e: DeltaEntry[] = Array.from({ length: 4000 }, (_, i) => ({ k: `k${i}`, ts: ts(1000 + i, i % 7, writer(i)), v: i }));
    const interleaved = new LwwMap({ buckets: 16 });
    interleaved.absorb({ e });
    const byWriter = new LwwMap({ buckets: 16 });
    byWriter.absorb({ e: e.slice().sort((x, y) => (x.ts.n < y.ts.n ? -1 : x.ts.n > y.ts.n ? 1 : 0)) });
    // Each writer alone on a fresh replica, their digests XORed (a digest is the XOR of its entries').
    const alone = new Uint32Array(interleaved.digest().h.length);
    for (let w = 0; w < 11; w++) {
      const m = new LwwMap({ buckets: 16 });
      m.absorb({ e: e.filter((x) => x.ts.n === `writer-${w}-of-a-long-member-id`) });
      m.digest().h.forEach((x, i) => (alone[i] ^= x));
    }
    expect(interleaved.digest().h).toEqual(byWriter.digest().h);
    expect(interleaved.digest().h).toEqual(alone);
    expect(interleaved.leafDigest(all(interleaved))).toEqual(byWriter.leafDigest(all(byWriter)));
  });

  test("a differing key flags exactly its own leaf, with who holds something there", () => {
    const a = filled(5000);
    const b = filled(5000);
    b.set("k77", "changed", ts(50_000));
    b.set("only-b", 1, ts(50_000));
    const diff = [...new Set([a.bucketOf("k77"), a.bucketOf("only-b")])];
    const want = new Uint8Array(a.buckets * LEAVES);
    const n = a.diffLeaves(diff, b.leafDigest(diff), want);
    expect(n.differing).toBeLessThanOrEqual(2);
    expect(n.differing).toBeGreaterThanOrEqual(1);
    const flagged = [...want.keys()].filter((k) => want[k] !== 0);
    expect(flagged.length).toBe(n.differing);
    for (const k of flagged) expect(want[k]! & (DIFFERS | THEIRS)).toBe(DIFFERS | THEIRS);
    // The walk over those leaves finds the changed key, and only a leaf's worth of others.
    const out: DeltaEntry[] = [];
    expect(a.scan(want, 0, 1 << 30, 1 << 30, out)).toBe(-1);
    expect(out.map((e) => e.k)).toContain("k77");
    expect(out.length).toBeLessThan(5);
    // From an empty replica's side: nothing of its own in the differing leaves.
    const empty = new LwwMap();
    const w2 = new Uint8Array(a.buckets * LEAVES);
    const m = empty.diffLeaves(all(a), a.leafDigest(all(a)), w2);
    expect(m.mine).toBe(0);
    expect(w2.some((f) => (f & MINE) !== 0)).toBe(false);
  });
});

describe("scan", () => {
  test("walks exactly the entries of the flagged leaves, in bounded pieces, tombstones included", () => {
    const m = filled(4000);
    for (let i = 0; i < 100; i++) m.delete(`k${i}`, ts(8000 + i));
    const want = new Uint8Array(m.buckets * LEAVES);
    for (let k = 0; k < want.length; k += 3) want[k] = 1;
    const once: DeltaEntry[] = [];
    m.scan(want, 0, 1 << 30, 1 << 30, once);
    const expected = new Set(once.map((e) => e.k));
    // The flagged leaves and the others split the map: every entry in exactly one walk.
    const rest: DeltaEntry[] = [];
    m.scan(want.map((f) => (f === 0 ? 1 : 0)), 0, 1 << 30, 1 << 30, rest);
    expect(expected.size + rest.length).toBe(4000);
    for (const e of rest) expect(expected.has(e.k)).toBe(false);
    expect(expected.size).toBeGreaterThan(1000);
    expect(expected.size).toBeLessThan(2000);
    expect(once.some((e) => e.d === true)).toBe(true);
    // In pieces of at most 7 entries and 50 slots: the same entries, each once.
    const got: string[] = [];
    let pos = 0;
    let calls = 0;
    do {
      const piece: DeltaEntry[] = [];
      pos = m.scan(want, pos, 50, 7, piece);
      expect(piece.length).toBeLessThanOrEqual(7);
      got.push(...piece.map((e) => e.k));
      calls++;
    } while (pos >= 0);
    expect(calls).toBeGreaterThanOrEqual(4100 / 50);
    expect(got.length).toBe(expected.size);
    expect(new Set(got)).toEqual(expected);
  });

  test("prints are equal for the same version on two replicas and differ for another version", () => {
    const a = filled(1000);
    const b = filled(1000);
    b.set("k5", "newer", ts(90_000));
    const want = new Uint8Array(a.buckets * LEAVES).fill(1 | PRINTED);
    const printsOf = (m: LwwMap): Map<string, number> => {
      const out: DeltaEntry[] = [];
      const prints: number[] = [];
      m.scan(want, 0, 1 << 30, 1 << 30, out, prints);
      return new Map(out.map((e, k) => [e.k, prints[k]!]));
    };
    const pa = printsOf(a);
    const pb = printsOf(b);
    for (const [k, p] of pa) {
      expect(Number.isSafeInteger(p) && p >= 0).toBe(true);
      if (k === "k5") expect(pb.get(k)).not.toBe(p);
      else expect(pb.get(k)).toBe(p);
    }
    expect(new Set(pa.values()).size).toBe(1000);
    // A leaf not flagged PRINTED gives -1.
    const plain = new Uint8Array(a.buckets * LEAVES).fill(1);
    const prints: number[] = [];
    a.scan(plain, 0, 1 << 30, 10, [], prints);
    expect(prints).toEqual(new Array(10).fill(-1));
  });
});
