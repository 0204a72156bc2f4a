/**
 * mesh/membership/clock-offsets.ts: each node measures its peers' clocks
 * against its own on direct probes (the ack carries the target's clock), so
 * a call's deadline stamped on its caller's clock can be put on ours.
 */
import { expect, test } from "bun:test";
import { ClockOffsets, MAX_ADDRESSES, STALE_MS } from "../../../mesh/membership/clock-offsets.ts";
import { SimCluster } from "../../../mesh/sim/harness.ts";
import { SIM_TEST_TIMEOUT_MS } from "../sim/seeds.ts";

test("a probe answered at their 10,500 for ours sent at 100 and back at 120: their clock is 10,390 ahead, give or take 11", () => {
  const o = new ClockOffsets();
  expect(o.correction("a:1")).toBe(0);
  o.observe("a:1", "id1", 100, 10_500, 120);
  expect(o.of("a:1")).toEqual({ offset: 10_390, err: 11 });
  expect(o.correction("a:1")).toBe(10_401);
});

test("the tightest sample is kept; a looser one replaces it only once it is stale, or from a new process at the address", () => {
  const o = new ClockOffsets();
  o.observe("a:1", "id1", 0, 5_000, 2); // err 2
  o.observe("a:1", "id1", 10, 5_035, 50); // looser (5,005 +- 21), agreeing: ignored
  expect(o.of("a:1")?.offset).toBe(4_999);
  o.observe("a:1", "id1", STALE_MS + 10, 1_000 + STALE_MS + 10, STALE_MS + 30); // looser but the kept one is stale
  expect(o.of("a:1")?.offset).toBe(990);
  o.observe("a:1", "id2", STALE_MS + 40, STALE_MS - 3_000, STALE_MS + 100); // a new process: its own clock
  expect(o.of("a:1")?.offset).toBe(-3_070);
  // Nonsense is not a sample: a reply before its send, a clock that is not a number.
  o.observe("b:1", "id3", 50, 10, 40);
  o.observe("b:1", "id3", 50, Number.NaN, 60);
  expect(o.of("b:1")).toBeUndefined();
});

test("a sample that contradicts the kept one (error bounds apart: a clock jumped) replaces it at once; a new process at the address drops it", () => {
  const o = new ClockOffsets();
  o.observe("a:1", "id1", 0, 5_000, 2); // 4,999 +- 2
  o.observe("a:1", "id1", 100, 40_050, 110); // 39,945 +- 6: apart, though looser
  expect(o.of("a:1")?.offset).toBe(39_945);
  o.observe("a:1", "id1", 200, 40_150, 240); // 39,930 +- 21: overlaps, looser: kept as it was
  expect(o.of("a:1")?.offset).toBe(39_945);
  o.current("a:1", "id1");
  expect(o.of("a:1")?.offset).toBe(39_945);
  o.current("a:1", "id2"); // membership: another process at that address now
  expect(o.of("a:1")).toBeUndefined();
  expect(o.correction("a:1")).toBe(0);
});

test("at most MAX_ADDRESSES addresses are kept: a new one evicts the one measured longest ago", () => {
  const o = new ClockOffsets();
  for (let i = 0; i < MAX_ADDRESSES + 10; i++) o.observe(`10.0.${i >> 8}.${i & 255}:1`, `id${i}`, i, i + 5, i + 2);
  expect(o.size).toBe(MAX_ADDRESSES);
  expect(o.of("10.0.0.0:1")).toBeUndefined();
  expect(o.of(`10.0.${(MAX_ADDRESSES + 9) >> 8}.${(MAX_ADDRESSES + 9) & 255}:1`)).toBeDefined();
});

test("simulator: a node whose clock reads 10 s ahead is measured so by the others, and they by it, within a probe round or two", () => {
  const c = SimCluster.create({ seed: 3, size: 3 });
  c.runUntil(() => c.converged(true), 20_000, "convergence");
  const fast = c.node("n001");
  fast.clock.skewMs = 10_000;
  const others = [c.node("n000"), c.node("n002")];
  c.runUntil(
    () => others.every((n) => Math.abs((n.membership.clockCorrection?.(fast.address) ?? 0) - 10_000) < 5) &&
      others.every((n) => Math.abs((fast.membership.clockCorrection?.(n.address) ?? 0) + 10_000) < 5),
    15_000,
    "offsets measured",
  );
  expect(Math.abs(fast.membership.stats().clockOffsetMaxMs - 10_000)).toBeLessThan(5);
  // The others' clocks agree: their offsets to each other stay near 0.
  expect(Math.abs(others[0]!.membership.clockCorrection?.(others[1]!.address) ?? 99)).toBeLessThan(5);
}, SIM_TEST_TIMEOUT_MS);
