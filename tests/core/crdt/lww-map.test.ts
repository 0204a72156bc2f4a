import { describe, expect, test } from "bun:test";
import { type Delta, diffBuckets, joinDeltas, LwwMap } from "../../../core/crdt/lww-map.ts";
import type { Timestamp } from "../../../core/crdt/hlc.ts";

const ts = (w: number, c = 0, n = "a"): Timestamp => ({ w, c, n });
const sortedBy0 = <T extends [string, unknown]>(l: T[]): T[] => l.sort((x, y) => (x[0] < y[0] ? -1 : 1));
const live = (m: LwwMap) => Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
const sameDigest = (a: LwwMap, b: LwwMap) => diffBuckets(a.digest(), b.digest()).length === 0;

describe("LwwMap writes", () => {
  test("set then get, has, size", () => {
    const m = new LwwMap();
    m.set("person/alan", "kitchen", ts(1));
    expect(m.get("person/alan")).toBe("kitchen");
    expect(m.has("person/alan")).toBe(true);
    expect(m.has("person/jess")).toBe(false);
    expect(m.get("person/jess")).toBeUndefined();
    expect(m.size).toBe(1);
  });

  test("delete leaves a tombstone that hides the value", () => {
    const m = new LwwMap();
    m.set("k", 1, ts(1));
    m.delete("k", ts(2));
    expect(m.get("k")).toBeUndefined();
    expect(m.has("k")).toBe(false);
    expect(m.size).toBe(0);
    expect(m.tombstones).toBe(1);
    expect(m.entry("k")).toEqual({ v: undefined, ts: ts(2), d: true });
  });

  test("a write older than the current one is ignored", () => {
    const m = new LwwMap();
    m.set("k", "new", ts(5));
    m.set("k", "old", ts(4));
    m.delete("k", ts(3));
    expect(m.get("k")).toBe("new");
  });

  test("a newer set revives a deleted key", () => {
    const m = new LwwMap();
    m.delete("k", ts(2));
    m.set("k", "back", ts(3));
    expect(m.get("k")).toBe("back");
    expect(m.tombstones).toBe(0);
    expect(m.size).toBe(1);
  });

  test("set and delete return deltas that reproduce the write elsewhere", () => {
    const a = new LwwMap();
    const b = new LwwMap();
    b.merge(a.set("k", { room: "den" }, ts(1)));
    expect(b.get("k")).toEqual({ room: "den" });
    b.merge(a.delete("k", ts(2)));
    expect(b.has("k")).toBe(false);
    expect(sameDigest(a, b)).toBe(true);
  });

  test("undefined is stored as null, as the wire carries it", () => {
    const m = new LwwMap();
    const d = m.set("k", undefined, ts(1));
    expect(m.has("k")).toBe(true);
    expect(m.get("k")).toBeNull();
    expect(d.e[0]!.v).toBeNull();
  });

  test("null is a value, not a delete", () => {
    const m = new LwwMap();
    m.set("k", null, ts(1));
    expect(m.has("k")).toBe(true);
    expect(m.size).toBe(1);
  });
});

describe("LwwMap.merge", () => {
  test("returns the visible changes with old and new values", () => {
    const m = new LwwMap();
    expect(m.merge({ e: [{ k: "a", ts: ts(1), v: 1 }] })).toEqual([{ key: "a", old: undefined, value: 1 }]);
    expect(m.merge({ e: [{ k: "a", ts: ts(2), v: 2 }] })).toEqual([{ key: "a", old: 1, value: 2 }]);
    expect(m.merge({ e: [{ k: "a", ts: ts(3), d: true }] })).toEqual([{ key: "a", old: 2, value: undefined }]);
  });

  test("reports nothing for stale writes, repeats, and deletes of absent keys", () => {
    const m = new LwwMap();
    const d: Delta = { e: [{ k: "a", ts: ts(5), v: 1 }] };
    m.merge(d);
    expect(m.merge(d)).toEqual([]);
    expect(m.merge({ e: [{ k: "a", ts: ts(4), v: 9 }] })).toEqual([]);
    expect(m.merge({ e: [{ k: "never", ts: ts(4), d: true }] })).toEqual([]);
    expect(m.tombstones).toBe(1); // the delete is still remembered
  });

  test("same timestamp, different values: every replica picks the same winner", () => {
    const x = { k: "k", ts: ts(7, 0, "reused"), v: "apple" };
    const y = { k: "k", ts: ts(7, 0, "reused"), v: "pear" };
    const a = new LwwMap();
    const b = new LwwMap();
    a.merge({ e: [x] });
    a.merge({ e: [y] });
    b.merge({ e: [y] });
    b.merge({ e: [x] });
    expect(a.get("k")).toBe(b.get("k"));
    expect(sameDigest(a, b)).toBe(true);
  });

  test("same timestamp: a delete beats a value in either order", () => {
    const v = { k: "k", ts: ts(7), v: 1 };
    const d = { k: "k", ts: ts(7), d: true as const };
    const a = new LwwMap();
    a.merge({ e: [v, d] });
    const b = new LwwMap();
    b.merge({ e: [d, v] });
    expect(a.has("k")).toBe(false);
    expect(b.has("k")).toBe(false);
  });

  test("a tombstone entry carrying a stray value stores no value", () => {
    const m = new LwwMap();
    m.merge({ e: [{ k: "k", ts: ts(1), v: "junk", d: true }] });
    expect(m.entry("k")).toEqual({ v: undefined, ts: ts(1), d: true });
  });

  test("a merged state equals the original, digest included", () => {
    const a = new LwwMap();
    for (let i = 0; i < 300; i++) a.set(`k${i}`, i, ts(i));
    for (let i = 0; i < 300; i += 3) a.delete(`k${i}`, ts(1000 + i));
    const b = new LwwMap();
    b.merge(a.state());
    expect(live(b)).toEqual(live(a));
    expect(b.tombstones).toBe(a.tombstones);
    expect(b.digest()).toEqual(a.digest());
  });

  test("absorb merges exactly as merge does and counts the visible changes without listing them", () => {
    const a = new LwwMap();
    for (let i = 0; i < 300; i++) a.set(`k${i}`, i, ts(i));
    for (let i = 0; i < 300; i += 3) a.delete(`k${i}`, ts(1000 + i));
    const viaMerge = new LwwMap();
    const viaAbsorb = new LwwMap();
    // Some keys already there, one newer than the incoming write: not every entry is a visible change.
    for (const m of [viaMerge, viaAbsorb]) {
      m.set("k1", "newer", ts(5000));
      m.set("k2", "older", ts(0, 0, "0"));
    }
    const changes = viaMerge.merge(a.state());
    expect(viaAbsorb.absorb(a.state())).toBe(changes.length);
    expect(changes.length).toBe(a.size - 1); // k1 stays "newer"
    expect(live(viaAbsorb)).toEqual(live(viaMerge));
    expect(viaAbsorb.tombstones).toBe(viaMerge.tombstones);
    expect(viaAbsorb.digest()).toEqual(viaMerge.digest());
    expect(viaAbsorb.absorb(a.state())).toBe(0); // idempotent
  });
});

describe("LwwMap reads", () => {
  test("entries and withPrefix list live keys only", () => {
    const m = new LwwMap();
    m.set("room/den", { capacity: 2 }, ts(1));
    m.set("person/alan", "den", ts(2));
    m.set("person/jess", "den", ts(3));
    m.delete("person/jess", ts(4));
    // Bucket by bucket: any order.
    expect(sortedBy0([...m.entries()])).toEqual([
      ["person/alan", "den"],
      ["room/den", { capacity: 2 }],
    ]);
    expect([...m.withPrefix("person/")]).toEqual([["person/alan", "den"]]);
  });

  test("raw lists tombstones too", () => {
    const m = new LwwMap();
    m.set("a", 1, ts(1));
    m.delete("b", ts(2));
    expect(sortedBy0([...m.raw()])).toEqual([
      ["a", { v: 1, ts: ts(1), d: false }],
      ["b", { v: undefined, ts: ts(2), d: true }],
    ]);
  });

  test("state includes tombstones", () => {
    const m = new LwwMap();
    m.set("a", 1, ts(1));
    m.delete("b", ts(2));
    expect(m.state().e.slice().sort((x, y) => (x.k < y.k ? -1 : 1))).toEqual([
      { k: "a", ts: ts(1), v: 1 },
      { k: "b", ts: ts(2), d: true },
    ]);
  });

  test("many keys, deletes and re-sets keep every lookup right", () => {
    const m = new LwwMap();
    const want = new Map<string, number>();
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const k = `key/${seed % 3000}`;
      if (seed % 5 === 0) {
        m.delete(k, ts(i));
        want.delete(k);
      } else {
        m.set(k, i, ts(i));
        want.set(k, i);
      }
      if (i % 4000 === 3999) m.collect(ts(i - 500)); // drop old tombstones, compact
    }
    expect(m.size).toBe(want.size);
    for (let i = 0; i < 3000; i++) expect(m.get(`key/${i}`)).toBe(want.get(`key/${i}`));
    const fresh = new LwwMap();
    fresh.merge(m.state());
    expect(fresh.digest()).toEqual(m.digest());
  });
});

describe("LwwMap digest and anti-entropy", () => {
  test("equal content gives equal digests whatever the order of writes", () => {
    const a = new LwwMap();
    const b = new LwwMap();
    const writes = Array.from({ length: 100 }, (_, i) => ({ k: `k${i % 37}`, ts: ts(i, 0, i % 2 ? "x" : "y"), v: i }));
    for (const w of writes) a.merge({ e: [w] });
    for (const w of [...writes].reverse()) b.merge({ e: [w] });
    expect(a.digest()).toEqual(b.digest());
  });

  test("a differing key shows up in its own bucket only", () => {
    const a = new LwwMap();
    const b = new LwwMap();
    for (let i = 0; i < 50; i++) {
      a.set(`k${i}`, i, ts(i));
      b.set(`k${i}`, i, ts(i));
    }
    b.set("k7", "changed", ts(100));
    expect(diffBuckets(a.digest(), b.digest())).toEqual([a.bucketOf("k7")]);
  });

  test("the timestamp, the writer and tombstone-ness all count in the digest", () => {
    const base = () => {
      const m = new LwwMap();
      m.set("k", 1, ts(1, 0, "a"));
      return m;
    };
    const variants = [ts(2, 0, "a"), ts(1, 1, "a"), ts(1, 0, "b")].map((t) => {
      const m = new LwwMap();
      m.set("k", 1, t);
      return m;
    });
    const tomb = new LwwMap();
    tomb.delete("k", ts(1, 0, "a"));
    for (const v of [...variants, tomb]) expect(diffBuckets(base().digest(), v.digest()).length).toBe(1);
  });

  test("exchanging differing buckets makes two replicas equal", () => {
    const a = new LwwMap({ buckets: 16 });
    const b = new LwwMap({ buckets: 16 });
    for (let i = 0; i < 200; i++) a.set(`a${i}`, i, ts(i, 0, "a"));
    for (let i = 0; i < 200; i++) b.set(`b${i}`, i, ts(i, 0, "b"));
    for (let i = 0; i < 50; i++) {
      a.set(`shared${i}`, "from a", ts(1000 + i, 0, "a"));
      b.set(`shared${i}`, "from b", ts(1000 + i, 0, "b"));
    }
    b.delete("a3", ts(5000, 0, "b"));
    const diff = diffBuckets(a.digest(), b.digest());
    expect(diff.length).toBeGreaterThan(0);
    a.merge(b.entriesIn(diff));
    b.merge(a.entriesIn(diff));
    expect(diffBuckets(a.digest(), b.digest())).toEqual([]);
    expect(live(a)).toEqual(live(b));
    expect(a.has("a3")).toBe(false);
    expect(a.get("shared1")).toBe("from b");
  });

  test("entriesIn returns exactly the entries of those buckets, tombstones included", () => {
    const m = new LwwMap({ buckets: 8 });
    for (let i = 0; i < 100; i++) m.set(`k${i}`, i, ts(i));
    m.delete("k5", ts(500));
    const b = m.bucketOf("k5");
    const got = m.entriesIn([b]).e;
    expect(got.every((e) => m.bucketOf(e.k) === b)).toBe(true);
    expect(got.length).toBe([...m.raw()].filter(([k]) => m.bucketOf(k) === b).length);
    expect(got.some((e) => e.k === "k5" && e.d === true)).toBe(true);
    expect(m.entriesIn([]).e).toEqual([]);
    expect(m.entriesIn([-1, 8, 2.5, NaN]).e).toEqual([]);
  });

  test("digest() is a copy", () => {
    const m = new LwwMap();
    const d = m.digest();
    m.set("k", 1, ts(1));
    expect([...d.h].every((x) => x === 0)).toBe(true);
  });

  test("digests of different bucket counts cannot be compared", () => {
    expect(() => diffBuckets(new LwwMap({ buckets: 4 }).digest(), new LwwMap({ buckets: 8 }).digest())).toThrow(RangeError);
  });

  test("a bucket count must be a positive integer", () => {
    for (const b of [0, -1, 1.5, NaN]) expect(() => new LwwMap({ buckets: b })).toThrow(RangeError);
  });
});

describe("LwwMap.collect", () => {
  test("drops only tombstones older than the horizon", () => {
    const m = new LwwMap();
    m.set("live-old", 1, ts(1));
    m.delete("dead-old", ts(2));
    m.delete("dead-new", ts(20));
    expect(m.collect(ts(10))).toBe(1);
    expect(m.tombstones).toBe(1);
    expect(m.entry("dead-old")).toBeUndefined();
    expect(m.entry("dead-new")?.d).toBe(true);
    expect(m.get("live-old")).toBe(1);
    expect(m.horizon).toEqual(ts(10));
  });

  test("after collecting, the digest is as if the tombstone had never been", () => {
    const a = new LwwMap();
    const b = new LwwMap();
    a.set("x", 1, ts(1));
    b.set("x", 1, ts(1));
    a.set("y", 2, ts(2));
    a.delete("y", ts(3));
    a.collect(ts(5));
    expect(a.digest()).toEqual(b.digest());
  });

  test("a tombstone older than the horizon, arriving late, counts as absence", () => {
    const m = new LwwMap();
    m.collect(ts(100));
    expect(m.merge({ e: [{ k: "gone", ts: ts(50), d: true }] })).toEqual([]);
    expect(m.entry("gone")).toBeUndefined();
    expect(m.tombstones).toBe(0);
  });

  test("a late old tombstone still deletes an older live value", () => {
    const m = new LwwMap();
    m.set("k", "v", ts(10));
    m.collect(ts(100));
    expect(m.merge({ e: [{ k: "k", ts: ts(50), d: true }] })).toEqual([{ key: "k", old: "v", value: undefined }]);
    expect(m.entry("k")).toBeUndefined();
  });

  test("a tombstone newer than the horizon is kept", () => {
    const m = new LwwMap();
    m.collect(ts(100));
    m.merge({ e: [{ k: "k", ts: ts(150), d: true }] });
    expect(m.tombstones).toBe(1);
  });

  test("a late write at or below the horizon cannot resurrect a collected key", () => {
    const m = new LwwMap();
    m.set("k", "v", ts(10));
    m.delete("k", ts(20));
    m.collect(ts(100));
    expect(m.merge({ e: [{ k: "k", ts: ts(10), v: "v" }] })).toEqual([]);
    expect(m.merge({ e: [{ k: "k", ts: ts(100), v: "v" }] })).toEqual([]);
    expect(m.entry("k")).toBeUndefined();
  });

  test("writes above the horizon, and writes to present keys, merge as usual", () => {
    const m = new LwwMap();
    m.set("present", "old", ts(5));
    m.collect(ts(100));
    m.merge({ e: [{ k: "present", ts: ts(50), v: "newer but below" }] });
    expect(m.get("present")).toBe("newer but below");
    m.merge({ e: [{ k: "new", ts: ts(101), v: "fresh" }] });
    expect(m.get("new")).toBe("fresh");
  });

  test("the horizon never moves back", () => {
    const m = new LwwMap();
    m.collect(ts(100));
    m.collect(ts(50));
    expect(m.horizon).toEqual(ts(100));
  });
});

describe("LwwMap.forget", () => {
  test("drops the tombstones of the named keys only, live keys stay", () => {
    const m = new LwwMap();
    m.set("live", 1, ts(1));
    m.delete("dead1", ts(5));
    m.delete("dead2", ts(7));
    expect(m.forget(["live", "dead1", "missing"])).toBe(1);
    expect(m.get("live")).toBe(1);
    expect(m.entry("dead1")).toBeUndefined();
    expect(m.entry("dead2")?.d).toBe(true);
    expect(m.tombstones).toBe(1);
  });

  test("the horizon rises to the newest forgotten delete and refuses late copies", () => {
    const m = new LwwMap();
    m.delete("a", ts(5));
    m.delete("b", ts(9));
    m.forget(["a", "b"]);
    expect(m.horizon).toEqual(ts(9));
    expect(m.merge({ e: [{ k: "a", ts: ts(3), v: "late" }] })).toEqual([]);
    expect(m.has("a")).toBe(false);
  });

  test("the digest forgets them too", () => {
    const a = new LwwMap();
    const b = new LwwMap();
    a.set("x", 1, ts(1));
    b.set("x", 1, ts(1));
    a.delete("y", ts(2));
    a.forget(["y"]);
    expect(a.digest()).toEqual(b.digest());
  });
});

describe("joinDeltas", () => {
  test("keeps the latest write per key", () => {
    const j = joinDeltas([
      { e: [{ k: "a", ts: ts(1), v: 1 }, { k: "b", ts: ts(5), v: "b5" }] },
      { e: [{ k: "a", ts: ts(3), d: true }] },
      { e: [{ k: "b", ts: ts(2), v: "b2" }] },
    ]);
    expect(j.e.sort((x, y) => (x.k < y.k ? -1 : 1))).toEqual([
      { k: "a", ts: ts(3), d: true },
      { k: "b", ts: ts(5), v: "b5" },
    ]);
  });

  test("a single delta comes back as it is", () => {
    const d: Delta = { e: [{ k: "a", ts: ts(1), v: 1 }] };
    expect(joinDeltas([d])).toBe(d);
  });
});

describe("LwwMap.setMany", () => {
  test("writes every key at the one stamp and returns one delta that reproduces the batch elsewhere", () => {
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    const values = keys.map((k, i) => (i % 7 === 0 ? undefined : { of: k }));
    const a = new LwwMap();
    a.set("k3", "older", ts(1));
    const d = a.setMany(keys, values, ts(5));
    expect(d.e.length).toBe(200);
    expect(d.e.every((e) => e.ts.w === 5)).toBe(true);
    expect(a.get("k3")).toEqual({ of: "k3" });
    expect(a.get("k0")).toBeNull(); // undefined is stored as null
    const b = new LwwMap();
    b.merge(d);
    expect(live(b)).toEqual(live(a));
    // The older write of k3 is not in the batch's delta: b holds the same digest without it.
    expect(b.size).toBe(a.size);
    expect(sameDigest(a, b)).toBe(true);
  });

  test("a key a newer write already holds is left alone and left out of the delta", () => {
    const a = new LwwMap();
    a.set("x", "newer", ts(9));
    const d = a.setMany(["x", "y"], [1, 2], ts(5));
    expect(a.get("x")).toBe("newer");
    expect(d.e.map((e) => e.k)).toEqual(["y"]);
  });

  test("a key given twice ends with the value every replica picks for equal stamps", () => {
    const a = new LwwMap();
    const d = a.setMany(["x", "x", "y"], ["b", "a", 1], ts(5));
    const b = new LwwMap();
    b.merge(d);
    const c = new LwwMap();
    c.set("x", "a", ts(5));
    c.set("x", "b", ts(5));
    expect(a.get("x")).toBe(c.get("x") as string);
    expect(b.get("x")).toBe(a.get("x") as string);
    expect(sameDigest(a, b)).toBe(true);
  });

  test("keys and values of different lengths are refused before anything is written", () => {
    const a = new LwwMap();
    expect(() => a.setMany(["x", "y"], [1], ts(5))).toThrow(RangeError);
    expect(a.size).toBe(0);
  });
});
