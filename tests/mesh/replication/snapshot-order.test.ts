/**
 * A whole map to an empty node in the rooms app's order (snapshot-order.ts,
 * room-snapshot-order.ts): room by room first, the rest after; every key the
 * sender held when the transfer began arrives (as then or newer), also when
 * people move, leave and rooms change while the transfer runs.
 */
import { expect, test } from "bun:test";
import type { DeltaEntry } from "../../../core/crdt/lww-map.ts";
import { RoomIndex } from "../../../core/rooms/room-index.ts";
import { roomSnapshotOrder } from "../../../mesh/apps/room-snapshot-order.ts";
import { setSnapshotOrder } from "../../../mesh/replication/snapshot-order.ts";
import { compareTs, type Timestamp } from "../../../core/crdt/hlc.ts";
import { addr, TestCluster, type TestNode, track } from "./harness.ts";

const ROOMS = 60;
const PEOPLE = 3_000;
const room = (r: number) => `r${String(r).padStart(3, "0")}`;

function data(w: number): DeltaEntry[] {
  const e: DeltaEntry[] = [];
  for (let r = 0; r < ROOMS; r++) e.push({ k: `room/${room(r)}`, ts: { w, c: r, n: "A#1" }, v: { capacity: r % 10 === 0 ? 50 : null } });
  for (let p = 0; p < PEOPLE; p++) e.push({ k: `person/p${p}`, ts: { w, c: 1000 + p, n: "A#1" }, v: room((p * 7) % ROOMS) });
  for (let p = 0; p < 500; p += 10) e.push({ k: `seat/${room(0)}/${p / 10 + 1}`, ts: { w, c: 9000 + p, n: "A#1" }, v: `p${p}` });
  for (let k = 0; k < 200; k++) e.push({ k: `misc/${k}`, ts: { w, c: 20_000 + k, n: "A#1" }, v: k });
  return e;
}

/** A node with the rooms app's index and snapshot order, as a real node has them. */
function withRooms(n: TestNode): RoomIndex {
  const index = RoomIndex.from(n.map);
  n.rep.onChange((ch) => index.apply(ch));
  setSnapshotOrder(n.map, roomSnapshotOrder(index));
  return index;
}

async function setUp() {
  const c = new TestCluster({ concern: 1, config: { chunkEntries: 100, antiEntropyMs: 600_000 } });
  for (const n of ["A", "B", "X"]) c.member(n);
  const a = c.start("A");
  const b = c.start("B");
  const all = data(c.clock.now() - 1000);
  a.map.absorb({ e: all });
  b.map.absorb({ e: all });
  withRooms(a);
  withRooms(b);
  await c.run(200);
  // X hears only A: what B writes reaches X only through A's transfer.
  c.net.block(addr("B"), addr("X"));
  return { c, a, b };
}

function stampsOf(n: TestNode): Map<string, Timestamp> {
  const m = new Map<string, Timestamp>();
  for (const [k, e] of n.map.raw()) m.set(k, e.ts);
  return m;
}

function missing(x: TestNode, before: Map<string, Timestamp>): string[] {
  const out: string[] = [];
  for (const [k, ts] of before) {
    const e = x.map.entry(k);
    if (e === undefined || compareTs(e.ts, ts) < 0) out.push(k);
  }
  return out;
}

/** X starts empty and catches up from A: resolved, holding everything A held when it began (or newer). */
async function joinFromA(c: TestCluster, a: TestNode): Promise<TestNode> {
  const before = stampsOf(a);
  const x = c.start("X");
  const t = track(x.rep.catchUpFrom(["A"], 1, 60_000).then(() => {}));
  await c.until("caught up", () => t.state !== "pending", 60_000);
  expect(t.state).toBe("resolved");
  expect(missing(x, before)).toEqual([]);
  return x;
}

test("an empty node gets the rooms room by room, then the rest, and holds everything", async () => {
  const { c, a } = await setUp();
  const x = await joinFromA(c, a);
  // The first chunks: each room's key, then its people (rooms without a capacity), rooms in order.
  const chunks = c.net.log.filter((s) => s.t === "ae" && s.to === addr("X") && s.from === addr("A"));
  const seen: string[] = [];
  for (const s of chunks.slice(0, 5)) for (const e of (s.msg as unknown as { entries?: DeltaEntry[] }).entries ?? []) seen.push(e.k);
  const people = x.changes.filter((ch) => ch.key.startsWith("person/")).slice(0, 400).map((ch) => ch.value as string);
  // Grouped: the room named never goes back to an earlier one.
  for (let k = 1; k < people.length; k++) expect(people[k]! >= people[k - 1]!).toBe(true);
  expect(x.changes[0]!.key).toBe(`room/${room(0)}`);
  c.stopAll();
});

test("people moving, leaving and rooms changing during the transfer: still everything held when it began, or newer", async () => {
  const { c, a, b } = await setUp();
  const before = stampsOf(a);
  const x = c.start("X");
  const t = track(x.rep.catchUpFrom(["A"], 1, 60_000).then(() => {}));
  // Once X has part of the rooms (the walk is under way at A), B writes; A merges it, X hears it only from A.
  await c.until("a few chunks in", () => c.net.count("ae", addr("A"), addr("X")).messages >= 6);
  expect(t.state).toBe("pending");
  const moved: string[] = [];
  const writes: Promise<void>[] = [];
  for (let p = 0; p < PEOPLE; p++) {
    const r = x.map.get(`person/p${p}`) === undefined ? (p * 7) % ROOMS : -1;
    // Someone in a room not yet walked moves to one walked already: the walk will not meet them.
    if (r >= ROOMS - 15 && moved.length < 40 && p !== 7) {
      moved.push(`person/p${p}`);
      writes.push(b.set(`person/p${p}`, room(1)));
    }
  }
  writes.push(b.del("person/p7"), b.del(`room/${room(ROOMS - 1)}`), b.set(`room/${room(ROOMS - 2)}`, { capacity: 5 }));
  // A room walked already loses its capacity: its people were not walked (they were seat-counted).
  writes.push(b.set(`room/${room(10)}`, { capacity: null }));
  await c.until("caught up", () => t.state !== "pending", 60_000);
  expect(t.state).toBe("resolved");
  await Promise.all(writes);
  expect(moved.length).toBe(40);
  expect(missing(x, before)).toEqual([]);
  // What A merged during the transfer came too (phase 2 sends what changed).
  for (const k of moved) expect(x.map.get(k)).toBe(room(1));
  expect(x.map.has("person/p7")).toBe(false);
  expect(x.map.get(`room/${room(10)}`)).toEqual({ capacity: null });
  void a;
  c.stopAll();
});

test("a room with a capacity goes whole too: its key, every person key naming it (seated or not), its seats, then the next room", async () => {
  const { c, a } = await setUp();
  const x = await joinFromA(c, a);
  const order = x.changes.map((ch) => ch.key);
  const from = order.indexOf(`room/${room(0)}`);
  const to = order.indexOf(`room/${room(1)}`);
  expect(from).toBeGreaterThanOrEqual(0);
  const between = order.slice(from + 1, to).sort();
  const expected: string[] = [];
  for (const [k, v] of a.map.entries()) if ((k.startsWith("person/") && v === room(0)) || k.startsWith(`seat/${room(0)}/`)) expected.push(k);
  expect(expected.length).toBe(50 + PEOPLE / ROOMS);
  expect(between).toEqual(expected.sort());
  c.stopAll();
});

/** A's map.scan calls from now on (the second phase of a transfer scans the map; the walk does not). */
function countScans(n: TestNode): { calls: number } {
  const count = { calls: 0 };
  const scan = n.map.scan.bind(n.map);
  n.map.scan = (...args: Parameters<typeof scan>) => {
    count.calls++;
    return scan(...args);
  };
  return count;
}

test("when the walk sent every key and nothing changed meanwhile, no second phase; a tombstone (not walked) brings it back", async () => {
  for (const tombstone of [false, true]) {
    const c = new TestCluster({ concern: 1, config: { chunkEntries: 100, antiEntropyMs: 600_000 } });
    for (const n of ["A", "X"]) c.member(n);
    const a = c.start("A");
    // Only room keys, people and seats: every key is one the walk sends.
    a.map.absorb({ e: data(c.clock.now() - 1000).filter((e) => !e.k.startsWith("misc/")) });
    if (tombstone) a.map.absorb({ e: [{ k: "person/p7", ts: { w: c.clock.now() - 500, c: 0, n: "A#1" }, d: true }] });
    const index = withRooms(a);
    await c.run(200);
    const scans = countScans(a);
    const x = await joinFromA(c, a);
    expect(x.map.size).toBe(a.map.size);
    expect(x.map.tombstones).toBe(tombstone ? 1 : 0);
    const xi = RoomIndex.from(x.map);
    for (const r of index.rooms()) expect(xi.occupants(r)).toEqual(index.occupants(r));
    if (tombstone) expect(scans.calls).toBeGreaterThan(0);
    else expect(scans.calls).toBe(0);
    c.stopAll();
  }
});
