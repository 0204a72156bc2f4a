import { expect, test } from "bun:test";
import { LwwMap } from "../../../core/crdt/lww-map.ts";
import type { Member } from "../../../mesh/membership/types.ts";
import { COLLECT_MAX, TombstoneGc, YOUNG_SCAN } from "../../../mesh/replication/tombstone-gc.ts";

test("a collection forgets at most COLLECT_MAX tombstones per call, and later calls forget the rest", () => {
  const map = new LwwMap();
  const gc = new TombstoneGc(map, 0);
  const n = 2 * COLLECT_MAX + 5;
  for (let i = 0; i < n; i++) {
    const del = map.delete(`k${i}`, { w: 1000 + i, c: 0, n: "a" });
    gc.noteMerged(del);
  }
  const members: Member[] = [
    { name: "a", id: "a1", address: "127.0.0.1:1", state: "alive", incarnation: 0 },
    { name: "b", id: "b1", address: "127.0.0.1:2", state: "alive", incarnation: 0 },
  ];
  gc.recordEqual("b", "b1", gc.seq);
  const now = 1_000_000;
  expect(gc.collect("a", members, now)).toBe(COLLECT_MAX);
  expect(map.tombstones).toBe(n - COLLECT_MAX);
  expect(gc.collect("a", members, now)).toBe(COLLECT_MAX);
  expect(gc.collect("a", members, now)).toBe(5);
  expect(map.tombstones).toBe(0);
  expect(gc.tracked).toBe(0);
});

test("a collection under a stream of young tombstones looks at YOUNG_SCAN of them, not all; old ones after them go once those age", () => {
  const map = new LwwMap();
  const minAge = 10_000;
  const gc = new TombstoneGc(map, minAge);
  const members: Member[] = [
    { name: "a", id: "a1", address: "127.0.0.1:1", state: "alive", incarnation: 0 },
    { name: "b", id: "b1", address: "127.0.0.1:2", state: "alive", incarnation: 0 },
  ];
  // 100 old, then 50,000 young (arrived in stamp order), then one old that arrived late.
  for (let i = 0; i < 100; i++) gc.noteMerged(map.delete(`old${i}`, { w: 1_000 + i, c: 0, n: "a" }));
  for (let i = 0; i < 50_000; i++) gc.noteMerged(map.delete(`young${i}`, { w: 100_000 + i, c: 0, n: "a" }));
  gc.noteMerged(map.delete("late", { w: 2_000, c: 0, n: "a" }));
  gc.recordEqual("b", "b1", gc.seq);
  const now = 100_000 + minAge - 1; // every young one a ms too young
  expect(gc.collect("a", members, now)).toBe(100);
  expect(gc.lastLooked).toBe(100 + YOUNG_SCAN);
  expect(gc.collect("a", members, now)).toBe(0);
  expect(gc.lastLooked).toBe(YOUNG_SCAN);
  expect(map.entry("late")?.d).toBe(true);
  // Once they age, everything goes (COLLECT_MAX a call), the late one with them.
  let total = 0;
  for (let i = 0; i < 10 && gc.tracked > 0; i++) total += gc.collect("a", members, 200_000);
  expect(total).toBe(50_001);
  expect(map.entry("late")).toBeUndefined();
});
