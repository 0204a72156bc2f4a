/**
 * The rooms app's snapshot walk on a replica whose room list is not sorted
 * yet (filled by a join, or a burst of room creations): it sorts the names
 * a step per call (sorting 100k took one turn 15-23 ms), adding no key
 * meanwhile, then walks every room, each key once.
 */
import { expect, test } from "bun:test";
import { LwwMap } from "../../../core/crdt/lww-map.ts";
import { RoomIndex } from "../../../core/rooms/room-index.ts";
import { roomSnapshotOrder } from "../../../mesh/apps/room-snapshot-order.ts";

test("a walk over 20k unsorted rooms takes several calls with no keys, then gives every room's keys once, room by room in order", () => {
  const map = new LwwMap();
  const ROOMS = 20_000;
  const e = [];
  // Created in no order: the index's list has them all waiting to be sorted.
  for (let k = 0; k < ROOMS; k++) {
    const r = `r${(Math.imul(k, 0x9e3779b1) >>> 0).toString(36)}`;
    e.push({ k: `room/${r}`, ts: { w: 1, c: k, n: "A#1" }, v: { capacity: null } });
    e.push({ k: `person/p${k}`, ts: { w: 1, c: ROOMS + k, n: "A#1" }, v: r });
  }
  map.absorb({ e });
  const index = RoomIndex.from(map);
  const walk = roomSnapshotOrder(index).begin();
  const keys: string[] = [];
  let empty = 0;
  let done = false;
  for (let calls = 0; !done && calls < 10_000; calls++) {
    const out: string[] = [];
    done = walk.next(out, 512);
    if (out.length === 0 && !done) empty++;
    keys.push(...out);
  }
  expect(done).toBe(true);
  expect(empty).toBeGreaterThan(1);
  expect(keys.length).toBe(2 * ROOMS);
  expect(new Set(keys).size).toBe(2 * ROOMS);
  const rooms = keys.filter((k) => k.startsWith("room/"));
  expect(rooms).toEqual([...rooms].sort());
  // Each room's key is followed by its one person's key.
  for (let k = 0; k < keys.length; k += 2) expect(map.entry(keys[k + 1]!)?.v).toBe(keys[k]!.slice("room/".length));
  for (const k of keys) expect(walk.covers(k, { k, ts: map.entry(k)!.ts, v: map.entry(k)!.v })).toBe(true);
});
