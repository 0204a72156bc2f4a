import { expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { addr, converged, TestCluster, track } from "./harness.ts";

function aeEntries(c: TestCluster): number {
  return c.net.count("ae").entries + c.net.count("ap").entries;
}

test("a peer that was down catches up by anti-entropy, exchanging only the differing buckets", async () => {
  const c = new TestCluster({ concern: 2 });
  for (const n of ["A", "B", "C"]) c.member(n);
  for (const n of ["A", "B", "C"]) c.start(n);
  await c.run(50);
  const total = 10_000;
  const first: ReturnType<typeof track>[] = [];
  for (let i = 0; i < total; i++) first.push(track(c.node("A").set(`key/${i}`, i)));
  await c.until("first writes everywhere", () => first.every((w) => w.state === "resolved") && converged([...c.nodes.values()]));

  c.membership.setEverywhere("C", "dead");
  c.net.isolate(addr("C"));
  const later: ReturnType<typeof track>[] = [];
  for (let i = 0; i < 5; i++) later.push(track(c.node("A").set(`late/${i}`, i)));
  later.push(track(c.node("B").del("key/7")));
  await c.until("later writes acknowledged by A and B", () => later.every((w) => w.state === "resolved"));
  await c.run(2000); // C's outboxes retire these writes: only anti-entropy can bring them
  expect(c.node("A").rep.stats().pendingWrites).toBe(0);
  expect(c.node("C").map.has("late/0")).toBe(false);

  const aeBefore = aeEntries(c);
  c.net.rejoin(addr("C"));
  c.membership.setEverywhere("C", "alive");
  await c.until("C caught up", () => converged([...c.nodes.values()]), 10_000);
  expect(c.node("C").map.get("late/4")).toBe(4);
  expect(c.node("C").map.has("key/7")).toBe(false);
  const exchanged = aeEntries(c) - aeBefore;
  expect(exchanged).toBeGreaterThan(0);
  // 6 changed keys touch at most 6 of 256 buckets (~40 keys each), per round.
  expect(exchanged).toBeLessThan(total / 10);
  c.stopAll();
});

test("catchUp pulls from every live peer and resolves once both answered", async () => {
  const c = new TestCluster({ concern: 1, config: { antiEntropyMs: 60_000 } });
  for (const n of ["A", "B", "C"]) c.member(n);
  for (const n of ["A", "B"]) c.start(n);
  await c.run(50);
  // A and B each hold something the other does not.
  c.net.isolate(addr("A"));
  await c.node("A").set("from-a", 1);
  c.net.rejoin(addr("A"));
  c.net.isolate(addr("B"));
  await c.node("B").set("from-b", 2);
  c.net.rejoin(addr("B"));

  const cNode = c.start("C");
  // Hold C's startup rounds back so the pull below is what fills it.
  c.net.block(addr("A"), addr("C"));
  c.net.block(addr("B"), addr("C"));
  await c.run(100);
  expect(cNode.map.size).toBe(0);
  expect(cNode.rep.isCaughtUp()).toBe(false);
  c.net.heal();
  let heldAtResolve = 0;
  const t = track(cNode.rep.catchUp().then(() => void (heldAtResolve = cNode.map.size)));
  await c.until("catch-up done", () => t.state !== "pending", 20_000);
  expect(t.state).toBe("resolved");
  expect(heldAtResolve).toBe(2);
  expect(cNode.rep.isCaughtUp()).toBe(true);
  expect(c.net.count("dg", addr("C"), addr("A")).messages).toBeGreaterThanOrEqual(1);
  expect(c.net.count("dg", addr("C"), addr("B")).messages).toBeGreaterThanOrEqual(1);
  c.stopAll();
});

test("catchUp rejects with unavailable when a live peer never answers", async () => {
  const c = new TestCluster({ concern: 1 });
  for (const n of ["A", "B"]) c.member(n);
  for (const n of ["A", "B"]) c.start(n);
  c.net.block(addr("B"), addr("A"));
  const t = track(c.node("A").rep.catchUp(4000));
  await c.run(4100);
  expect(t.state).toBe("rejected");
  expect((t.error as RoomyError).code).toBe("unavailable");
  expect(c.node("A").rep.isCaughtUp()).toBe(false);
  // Answering later (after a round timed out) completes a fresh pull.
  c.net.heal();
  const again = track(c.node("A").rep.catchUp(10_000));
  await c.until("second catch-up", () => again.state !== "pending", 20_000);
  expect(again.state).toBe("resolved");
  c.stopAll();
});

test("catchUp stops waiting for a peer that leaves the live set", async () => {
  const c = new TestCluster({ concern: 1 });
  for (const n of ["A", "B", "C"]) c.member(n);
  for (const n of ["A", "B", "C"]) c.start(n);
  await c.run(300);
  c.net.isolate(addr("C"));
  const t = track(c.node("A").rep.catchUp(30_000));
  await c.run(500);
  expect(t.state).toBe("pending");
  c.membership.setEverywhere("C", "dead");
  await c.until("catch-up done without C", () => t.state !== "pending", 100);
  expect(t.state).toBe("resolved");
  c.stopAll();
});

test("digests that are equal exchange no entries", async () => {
  const c = new TestCluster({ concern: 2 });
  for (const n of ["A", "B"]) c.member(n);
  for (const n of ["A", "B"]) c.start(n);
  const w = track(c.node("A").set("k", 1));
  await c.until("acknowledged", () => w.state === "resolved");
  const before = aeEntries(c);
  await c.run(5000);
  expect(aeEntries(c)).toBe(before);
  expect(c.node("A").rep.stats().antiEntropyEqual).toBeGreaterThan(0);
  c.stopAll();
});
