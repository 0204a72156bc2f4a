/**
 * The read barrier's pull by covers (cover-barrier.ts): on an idle cluster
 * one small ask and answer, no digest; a write the asked peer acked that
 * has not reached the reader (its stream cut) is fetched by a fresh round
 * before the barrier resolves, so the reader then holds it; with its origin
 * gone it is fetched at once, not after the wait for the stream.
 */
import { expect, test } from "bun:test";
import { WAIT_MS } from "../../../mesh/replication/cover-barrier.ts";
import { addr, converged, TestCluster, track } from "./harness.ts";

async function threeIdle(): Promise<TestCluster> {
  const c = new TestCluster({ concern: "majority", config: { antiEntropyMs: 600_000 } });
  for (const n of ["A", "B", "C"]) c.member(n);
  for (const n of ["A", "B", "C"]) c.start(n);
  await c.run(100);
  const w = [0, 1, 2, 3].map((i) => track(c.node("A").set(`k/${i}`, i)));
  await c.until("all hold the first writes", () => w.every((x) => x.state === "resolved") && converged([...c.nodes.values()]));
  await c.run(500);
  return c;
}

const barrier = (c: TestCluster, at: string, from: string[], need = 1) => {
  const rep = c.node(at).rep;
  return track(rep.barrierFrom!(from, need, 5_000).then(() => {}));
};

test("on an idle cluster a barrier is one ask and one answer: no digest, no entries", async () => {
  const c = await threeIdle();
  const dg = c.net.count("dg").messages;
  const t0 = c.clock.now();
  const b = barrier(c, "C", ["A", "B"]);
  await c.until("barrier done", () => b.state !== "pending", 5_000, 1);
  expect(b.state).toBe("resolved");
  expect(c.clock.now() - t0).toBeLessThan(WAIT_MS);
  expect(c.net.count("dg").messages).toBe(dg);
  expect(c.net.count("vq", addr("C")).messages).toBeGreaterThanOrEqual(1);
  c.stopAll();
});

test("a write the asked peer acked, cut off from the reader, is here before the barrier resolves", async () => {
  const c = await threeIdle();
  c.net.block(addr("A"), addr("C")); // A's stream to C is lost; B acks: the write is acknowledged
  const w = track(c.node("A").set("late", "v"));
  await c.until("the write is acknowledged", () => w.state === "resolved", 5_000, 1);
  expect(c.node("C").map.get("late")).toBeUndefined();
  const b = barrier(c, "C", ["B"]);
  await c.until("barrier done", () => b.state !== "pending", 5_000, 1);
  expect(b.state).toBe("resolved");
  expect(c.node("C").map.get("late")).toBe("v");
  c.stopAll();
});

test("with the write's origin gone, the peer's writes are fetched at once, not after the stream's wait", async () => {
  const c = await threeIdle();
  c.net.block(addr("A"), addr("C"));
  const w = track(c.node("A").set("orphan", 1));
  await c.until("the write is acknowledged", () => w.state === "resolved", 5_000, 1);
  c.net.crash(addr("A"));
  c.membership.setEverywhere("A", "dead");
  await c.run(10);
  const t0 = c.clock.now();
  const b = barrier(c, "C", ["B"]);
  await c.until("barrier done", () => b.state !== "pending", 5_000, 1);
  expect(b.state).toBe("resolved");
  expect(c.node("C").map.get("orphan")).toBe(1);
  expect(c.clock.now() - t0).toBeLessThan(WAIT_MS);
  c.stopAll();
});

test("a barrier whose peers do not answer rejects unavailable at its deadline", async () => {
  const c = await threeIdle();
  c.net.block(addr("B"), addr("C"));
  const b = track(c.node("C").rep.barrierFrom!(["B"], 1, 1_000).then(() => {}));
  await c.until("barrier done", () => b.state !== "pending", 5_000, 10);
  expect(b.state).toBe("rejected");
  expect((b.error as { code?: string }).code).toBe("unavailable");
  c.stopAll();
});
