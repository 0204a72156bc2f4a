/**
 * SortedNames.settle(): the sort a read would do, in bounded steps (100k
 * new room names took one read 15-23 ms of a turn). Whatever the steps and
 * the changes between them, a read gives the same list a plain sort would.
 */
import { expect, test } from "bun:test";
import { SETTLE_WORK, SortedNames } from "../../../core/rooms/sorted-names.ts";

/** Distinct names in no order (k times an odd number, mod 2^32, is one-to-one). */
function names(n: number, seed: number, prefix = "r"): string[] {
  return Array.from({ length: n }, (_, k) => `${prefix}${(Math.imul(k + seed, 0x9e3779b1) >>> 0).toString(36)}`);
}

test("100k names added: settle() takes many bounded steps, then the read gives them sorted", () => {
  const s = new SortedNames();
  const all = names(100_000, 7);
  for (const n of all) s.add(n);
  let steps = 0;
  while (!s.settle()) steps++;
  // About n log2(n / RUN) / SETTLE_WORK steps: ~6 passes of 100k at 16k a step.
  expect(steps).toBeGreaterThan(100_000 / SETTLE_WORK);
  expect(s.sorted()).toEqual([...all].sort());
  expect(s.size).toBe(100_000);
});

test("names added and removed between steps, a read in the middle of the sort, and a list already there: the same as a plain sort", () => {
  const s = new SortedNames();
  const first = names(30_000, 11, "a");
  for (const n of first) s.add(n);
  expect(s.sorted().length).toBe(30_000);
  const more = names(50_000, 13, "b");
  for (const n of more) s.add(n);
  const want = new Set([...first, ...more]);
  // Some steps, with changes in between: new names, a listed one removed, a sorting one removed, one removed and back.
  for (let k = 0; k < 5; k++) s.settle(3000);
  s.add("zz-new");
  want.add("zz-new");
  s.delete(first[0]!);
  want.delete(first[0]!);
  s.delete(more[1]!);
  want.delete(more[1]!);
  s.delete(more[2]!);
  s.add(more[2]!);
  s.settle(3000);
  // A read mid-sort finishes it.
  expect(s.sorted()).toEqual([...want].sort());
  // And again, settling all the way first.
  const late = names(10_000, 17, "c");
  for (const n of late) s.add(n), want.add(n);
  while (!s.settle(1000));
  s.add("0-after");
  want.add("0-after");
  expect(s.sorted()).toEqual([...want].sort());
  expect(s.size).toBe(want.size);
});

test("a few names added: nothing to settle", () => {
  const s = new SortedNames();
  for (const n of ["m", "c", "x"]) s.add(n);
  expect(s.settle()).toBe(true);
  expect(s.sorted()).toEqual(["c", "m", "x"]);
});
