/**
 * The partition checks on hand-made records (no processes, no namespaces):
 * each catches the failure it names and lets a correct history pass, so a
 * green partitions.test.ts means the cluster behaved, not that a check was
 * blind.
 */
import { describe, expect, test } from "bun:test";
import {
  divergentDumps,
  incompleteDumps,
  lostWrites,
  minorityWrites,
  overCapacity,
  personInTwoRooms,
  type Run,
  servedWithin,
  unknownRooms,
} from "./netns-checks.ts";
import type { Op } from "./netns-load.ts";

const T = 1_000_000; // the cut
const rooms = [
  { name: "r1", capacity: null },
  { name: "cap2", capacity: 2 },
];

function op(o: Partial<Op> & Pick<Op, "kind" | "start">): Op {
  return { node: 0, end: o.start + 5, status: 200, code: "ok", body: { ok: true }, message: "", probe: false, ...o };
}

function run(ops: Op[], finalDump: Record<string, string[]> | null = { r1: [], cap2: [] }): Run {
  const finalDumps = new Map([
    ["n0", finalDump],
    ["n1", finalDump],
  ]);
  return { rooms, ops, people: ["p", "q"], nodeNames: ["n0", "n1", "n2"], tCut: T, tHeal: T + 10_000, finalDumps, crdt: null, nodeIds: new Map() };
}

describe("lostWrites", () => {
  test("a person acknowledged in a room and found in none is a lost write", () => {
    const r = run([op({ kind: "walk", person: "p", room: "cap2", start: T + 100 })]);
    expect(lostWrites(r)).toEqual([expect.stringContaining("p: last acknowledged walk-into cap2")]);
  });
  test("an unavailable write after the last acknowledged one may have landed", () => {
    const ops = [op({ kind: "walk", person: "p", room: "cap2", start: T }), op({ kind: "walk", person: "p", room: "r1", start: T + 50, status: 503, code: "unavailable" })];
    expect(lostWrites(run(ops, { r1: ["p"], cap2: [] }))).toEqual([]);
    expect(lostWrites(run(ops, { r1: [], cap2: ["p"] }))).toEqual([]);
  });
  test("an unavailable write before the last acknowledged one may not override it", () => {
    const ops = [op({ kind: "walk", person: "p", room: "r1", start: T, status: 503, code: "unavailable" }), op({ kind: "leave", person: "p", start: T + 50 })];
    expect(lostWrites(run(ops, { r1: ["p"], cap2: [] }))).toEqual([expect.stringContaining("p: last acknowledged leave")]);
    expect(lostWrites(run(ops))).toEqual([]);
  });
  test("a refused walk (room_full) cannot explain where a person is", () => {
    const ops = [op({ kind: "walk", person: "p", room: "r1", start: T }), op({ kind: "walk", person: "p", room: "cap2", start: T + 50, status: 409, code: "room_full" })];
    expect(lostWrites(run(ops, { r1: [], cap2: ["p"] }))).toHaveLength(1);
  });
});

describe("wrong answers", () => {
  test("unknown_room is reported", () => {
    expect(unknownRooms(run([op({ kind: "who", room: "r1", start: T, status: 404, code: "unknown_room" })]))).toHaveLength(1);
  });
  test("a capacity room listed over its capacity, in who-is-in or a dump, is reported", () => {
    const ops = [op({ kind: "who", room: "cap2", start: T, body: ["a", "b", "c"] }), op({ kind: "dump", rooms: [], start: T, body: { r1: [], cap2: ["a", "b", "c"] } })];
    expect(overCapacity(run(ops))).toHaveLength(2);
    expect(overCapacity(run([op({ kind: "who", room: "cap2", start: T, body: ["a", "b"] })]))).toEqual([]);
  });
  test("a person in two rooms of one dump is reported", () => {
    expect(personInTwoRooms(run([op({ kind: "dump", rooms: [], start: T, body: { r1: ["p"], cap2: ["p"] } })]))).toHaveLength(1);
  });
  test("a 200 dump without every room asked for is reported", () => {
    expect(incompleteDumps(run([op({ kind: "dump", rooms: [], start: T, body: { r1: [] } })]))).toHaveLength(1);
    expect(incompleteDumps(run([op({ kind: "dump", rooms: ["cap2"], start: T, body: { cap2: [] } })]))).toEqual([]);
  });
  test("nodes whose final dumps differ, or that never answered, are reported", () => {
    const r = run([]);
    const finalDumps = new Map<string, Record<string, string[]> | null>([["n0", { r1: ["p"], cap2: [] }], ["n1", { r1: [], cap2: ["p"] }], ["n2", null]]);
    expect(divergentDumps({ ...r, finalDumps })).toHaveLength(3);
  });
});

describe("minorityWrites", () => {
  const w = (start: number, code: string, status: number | null) => op({ kind: "walk", node: 1, person: "p", room: "r1", start, code, status });
  test("a 200 from the minority during the cut is a violation, even inside the lease", () => {
    expect(minorityWrites(run([w(T + 10, "ok", 200)]), [1], 1_500).violations).toHaveLength(1);
  });
  test("past the lease anything but unavailable is a violation; inside it a refusal is only reported", () => {
    const r = minorityWrites(run([w(T + 10, "room_full", 409), w(T + 2_000, "room_full", 409), w(T + 3_000, "unavailable", 503)]), [1], 1_500);
    expect(r.violations).toHaveLength(1);
    expect(r.inLease).toHaveLength(1);
    expect(r.unavailable).toBe(1);
  });
  test("writes to the majority, or before the cut, are not the minority's", () => {
    expect(minorityWrites(run([w(T - 100, "ok", 200), op({ kind: "walk", node: 0, person: "p", room: "r1", start: T + 10 })]), [1], 1_500).violations).toEqual([]);
  });
});

describe("servedWithin", () => {
  const probe = (room: string, start: number, code: string) => op({ kind: "walk", room, person: `svc-${room}`, probe: true, start, code, status: code === "ok" ? 200 : 503 });
  test("a room first served past the bound, or refused past it, is reported", () => {
    const ops = [probe("r1", T + 10, "ok"), probe("cap2", T + 10, "unavailable"), probe("cap2", T + 5_000, "ok"), probe("r1", T + 6_000, "unavailable")];
    const s = servedWithin(run(ops), 4_500);
    expect(s.violations).toEqual([expect.stringContaining("r1: via n0 at +6.0 s"), expect.stringContaining("cap2: first served 5.0 s")]);
    expect(s.firstServedMs.get("r1")).toBe(15);
  });
  test("every room served at once passes", () => {
    expect(servedWithin(run([probe("r1", T + 10, "ok"), probe("cap2", T + 20, "room_full")]), 4_500).violations).toEqual([]);
  });
});
