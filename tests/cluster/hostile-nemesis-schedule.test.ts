/**
 * The nemesis schedule's shape for each cluster size (hostile-nemesis-run.ts):
 * never more faulty slots than keep a majority up, and a seed's faults at 5
 * nodes unchanged by the sizes added later (a failed seed replays).
 */
import { expect, test } from "bun:test";
import { schedule } from "./hostile-nemesis-run.ts";

const slots = (size: number, seed = 3): Set<number> => new Set(schedule(seed, 100_000, size).map((f) => f.slot));

test("3 nodes fault one at a time, 5 up to two at once, 7 and 9 up to three", () => {
  expect([...slots(3)]).toEqual([0]);
  expect([...slots(5)].sort()).toEqual([0, 1]);
  expect([...slots(7)].sort()).toEqual([0, 1, 2]);
  expect([...slots(9)].sort()).toEqual([0, 1, 2]);
});

test("every fault names a node of the cluster, in time order", () => {
  for (const size of [3, 5, 7, 9]) {
    for (let seed = 1; seed <= 20; seed++) {
      const plan = schedule(seed, 100_000, size);
      expect(plan.length).toBeGreaterThan(10);
      for (const f of plan) expect(f.node >= 0 && f.node < size).toBe(true);
      for (let i = 1; i < plan.length; i++) expect(plan[i]!.at).toBeGreaterThanOrEqual(plan[i - 1]!.at);
    }
  }
});

test("a 7-node seed keeps the 5-node seed's first two slots in timing and kind", () => {
  for (let seed = 1; seed <= 10; seed++) {
    const five = schedule(seed, 100_000, 5).map(({ at, slot, type, hold }) => ({ at, slot, type, hold }));
    const seven = schedule(seed, 100_000, 7).filter((f) => f.slot < 2).map(({ at, slot, type, hold }) => ({ at, slot, type, hold }));
    expect(seven).toEqual(five);
  }
});
