/** SeqCover (seq-cover.ts): per-origin seq sets as merged ranges, and containment. */
import { expect, test } from "bun:test";
import { coverFromWire, SeqCover } from "../../../mesh/replication/seq-cover.ts";

const me = { name: "self", id: "self#1" };

test("ranges added in any order merge into disjoint ranges, adjacent ones joined", () => {
  const c = new SeqCover();
  c.add("A", "A#1", [5, 7]);
  c.add("A", "A#1", [1, 2]);
  c.add("A", "A#1", [10, 10]);
  expect(c.entries(me, 0)).toEqual([["A", "A#1", [1, 2, 5, 7, 10, 10]]]);
  c.add("A", "A#1", [3, 4, 8, 9]);
  expect(c.entries(me, 0)).toEqual([["A", "A#1", [1, 10]]]);
  c.add("A", "A#1", [12, 12, 11, 11]);
  expect(c.entries(me, 0)).toEqual([["A", "A#1", [1, 12]]]);
});

test("covers: every seq of every origin, per process identity; this process's own writes always", () => {
  const c = new SeqCover();
  c.add("A", "A#1", [1, 100]);
  c.add("B", "B#2", [1, 5, 9, 20]);
  expect(c.covers([["A", "A#1", [3, 50]]], me)).toBe(true);
  expect(c.covers([["A", "A#1", [3, 101]]], me)).toBe(false);
  expect(c.covers([["A", "A#9", [1, 1]]], me)).toBe(false); // a restarted A is another origin
  expect(c.covers([["B", "B#2", [2, 5, 9, 9]]], me)).toBe(true);
  expect(c.covers([["B", "B#2", [5, 9]]], me)).toBe(false); // 6-8 missing
  expect(c.covers([["self", "self#1", [1, 1_000_000]]], me)).toBe(true);
  expect(c.covers([], me)).toBe(true);
});

test("entries name this process's own writes 1..lastSeq", () => {
  const c = new SeqCover();
  expect(c.entries(me, 0)).toEqual([]);
  expect(c.entries(me, 7)).toEqual([["self", "self#1", [1, 7]]]);
});

test("addAll takes a peer's whole cover", () => {
  const c = new SeqCover();
  c.addAll([["A", "A#1", [1, 3]], ["B", "B#1", [2, 2]]]);
  expect(c.covers([["A", "A#1", [1, 3]], ["B", "B#1", [2, 2]]], me)).toBe(true);
  expect(c.origins).toBe(2);
});

test("a malformed cover off the wire is refused", () => {
  expect(() => coverFromWire("x")).toThrow();
  expect(() => coverFromWire([["A", "A#1", [3, 1]]])).toThrow();
  expect(() => coverFromWire([["A", 1, [1, 1]]])).toThrow();
  expect(coverFromWire([["A", "A#1", [1, 2]]])).toEqual([["A", "A#1", [1, 2]]]);
});
