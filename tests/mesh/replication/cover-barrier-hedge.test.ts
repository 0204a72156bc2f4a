/**
 * The read barrier by covers asks only as many peers as it needs (each
 * extra one cost every read a message, a wake-up and an answer), and asks
 * the others once those are slow or gone, so a silent peer does not hold
 * reads until the ask is sent again (retransmitMs) or the deadline.
 */
import { expect, test } from "bun:test";
import { HEDGE_MS, WAIT_MS } from "../../../mesh/replication/cover-barrier.ts";
import { addr, converged, TestCluster, track } from "./harness.ts";

async function threeIdle(): Promise<TestCluster> {
  const c = new TestCluster({ concern: "majority", config: { antiEntropyMs: 600_000 } });
  for (const n of ["A", "B", "C"]) c.member(n);
  for (const n of ["A", "B", "C"]) c.start(n);
  await c.run(100);
  const w = [0, 1, 2].map((i) => track(c.node("A").set(`k/${i}`, i)));
  await c.until("all hold the first writes", () => w.every((x) => x.state === "resolved") && converged([...c.nodes.values()]));
  await c.run(500);
  return c;
}

test("a barrier that needs one peer of two asks one: one ask, one answer", async () => {
  const c = await threeIdle();
  const toA = c.net.count("vq", addr("C"), addr("A")).messages;
  const toB = c.net.count("vq", addr("C"), addr("B")).messages;
  const b = track(c.node("C").rep.barrierFrom!(["A", "B"], 1, 5_000).then(() => {}));
  await c.until("barrier done", () => b.state !== "pending", 5_000, 1);
  expect(b.state).toBe("resolved");
  const asked = c.net.count("vq", addr("C"), addr("A")).messages - toA + (c.net.count("vq", addr("C"), addr("B")).messages - toB);
  expect(asked).toBe(1);
  c.stopAll();
});

test("a barrier that needs two peers asks both at once", async () => {
  const c = await threeIdle();
  const t0 = c.clock.now();
  const toA = c.net.count("vq", addr("C"), addr("A")).messages;
  const toB = c.net.count("vq", addr("C"), addr("B")).messages;
  const b = track(c.node("C").rep.barrierFrom!(["A", "B"], 2, 5_000).then(() => {}));
  await c.until("barrier done", () => b.state !== "pending", 5_000, 1);
  expect(b.state).toBe("resolved");
  expect(c.clock.now() - t0).toBeLessThan(HEDGE_MS);
  expect(c.net.count("vq", addr("C"), addr("A")).messages - toA).toBe(1);
  expect(c.net.count("vq", addr("C"), addr("B")).messages - toB).toBe(1);
  c.stopAll();
});

test("the peer asked first silent, the other is asked on the tick and the barrier resolves well before the ask is sent again", async () => {
  const c = await threeIdle();
  c.net.block(addr("C"), addr("A")); // A, first in order, never hears the ask
  const t0 = c.clock.now();
  const b = track(c.node("C").rep.barrierFrom!(["A", "B"], 1, 5_000).then(() => {}));
  await c.until("barrier done", () => b.state !== "pending", 5_000, 1);
  expect(b.state).toBe("resolved");
  expect(c.clock.now() - t0).toBeGreaterThanOrEqual(HEDGE_MS);
  expect(c.clock.now() - t0).toBeLessThan(WAIT_MS);
  c.stopAll();
});
