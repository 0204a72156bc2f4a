import { expect, test } from "bun:test";
import { SeqTable } from "../../../mesh/replication/seq-table.ts";
import { forEachKnown } from "../../../mesh/replication/seq-ranges.ts";

test("a seq table finds what was added, forgets what was deleted, and iterates in seq order", () => {
  const t = new SeqTable<string>();
  for (let s = 1; s <= 5; s++) t.set(s, `v${s}`);
  expect(t.size).toBe(5);
  expect(t.get(3)).toBe("v3");
  expect(t.delete(3)).toBe(true);
  expect(t.delete(3)).toBe(false);
  expect(t.get(3)).toBeUndefined();
  expect(t.get(0)).toBeUndefined();
  expect(t.get(99)).toBeUndefined();
  expect([...t.values()]).toEqual(["v1", "v2", "v4", "v5"]);
  expect([...t].map(([s]) => s)).toEqual([1, 2, 4, 5]);
  expect(t.size).toBe(4);
});

test("a seq table refuses a seq that is not above the last one", () => {
  const t = new SeqTable<number>();
  t.set(10, 1);
  expect(() => t.set(10, 2)).toThrow(RangeError);
  expect(() => t.set(4, 2)).toThrow(RangeError);
});

test("deleting while iterating skips what was deleted, as a Map does", () => {
  const t = new SeqTable<number>();
  for (let s = 1; s <= 3000; s++) t.set(s, s);
  const seen: number[] = [];
  for (const [s] of t) {
    seen.push(s);
    t.delete(s); // retire as we go (the prefix is trimmed and compacted)
    t.delete(s + 1); // and the next one
  }
  expect(seen.length).toBe(1500);
  expect(t.size).toBe(0);
});

test("after emptying, seqs keep growing and the table stays small and correct", () => {
  const t = new SeqTable<number>();
  let seq = 0;
  for (let round = 0; round < 5; round++) {
    const first = seq + 1;
    for (let k = 0; k < 2000; k++) t.set(++seq, seq);
    for (let s = first; s <= seq; s++) t.delete(s);
    expect(t.size).toBe(0);
  }
  t.set(++seq, 7);
  expect(t.get(seq)).toBe(7);
  expect([...t]).toEqual([[seq, 7]]);
  t.clear();
  expect(t.size).toBe(0);
  t.set(seq + 5, 8);
  expect(t.get(seq + 5)).toBe(8);
});

test("forEachKnown visits only held seqs of the ranges, from a seq table", () => {
  const t = new SeqTable<string>();
  for (let s = 1; s <= 10; s++) t.set(s, `v${s}`);
  t.delete(4);
  const got: number[] = [];
  forEachKnown([2, 5, 9, 2 ** 53 - 1], t, (s) => got.push(s));
  expect(got).toEqual([2, 3, 5, 9, 10]);
});
