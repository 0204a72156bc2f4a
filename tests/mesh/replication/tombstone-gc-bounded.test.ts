import { expect, test } from "bun:test";
import { LwwMap } from "../../../core/crdt/lww-map.ts";
import type { Member } from "../../../mesh/membership/types.ts";
import { COLLECT_MAX, TombstoneGc } from "../../../mesh/replication/tombstone-gc.ts";

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
