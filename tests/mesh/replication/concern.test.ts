import { DEFAULT_REPLICATION_CONFIG } from "../../../mesh/replication/replicator.ts";
import { expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { requiredAcks } from "../../../mesh/replication/concern.ts";
import { addr, TestCluster, track } from "./harness.ts";

function three(concern: 1 | 2 | "majority" | "all"): TestCluster {
  const c = new TestCluster({ concern });
  for (const n of ["A", "B", "C"]) c.member(n);
  for (const n of ["A", "B", "C"]) c.start(n);
  return c;
}

/** Which nodes hold `key` right now. */
function holders(c: TestCluster, key: string): string[] {
  return [...c.nodes.values()].filter((n) => n.map.has(key)).map((n) => n.name);
}

test("required acks per concern: 1, 2 -> min(2, known, dead included), majority of known, all -> live", () => {
  expect(requiredAcks(1, 3, 3)).toBe(1);
  expect(requiredAcks(2, 3, 3)).toBe(2);
  // Peers dead: still 2, or this node's crash would lose an acknowledged write.
  expect(requiredAcks(2, 1, 3)).toBe(2);
  // A cluster that never had another member acknowledges alone.
  expect(requiredAcks(2, 1, 1)).toBe(1);
  expect(requiredAcks("majority", 1, 3)).toBe(2);
  expect(requiredAcks("majority", 5, 5)).toBe(3);
  expect(requiredAcks("majority", 3, 4)).toBe(3);
  expect(requiredAcks("all", 3, 5)).toBe(3);
});

test("concern 2: a write resolves only once a second node holds it, never before", async () => {
  const c = three(2);
  await c.run(50);
  const a = c.node("A");
  c.net.block(addr("A"), addr("B"));
  c.net.block(addr("A"), addr("C"));
  let heldAtResolve: string[] = [];
  const p = a.set("k", 1);
  const t = track(p.then(() => void (heldAtResolve = holders(c, "k"))));
  await c.run(1000);
  expect(t.state).toBe("pending");
  expect(holders(c, "k")).toEqual(["A"]);
  c.net.unblock(addr("A"), addr("B"));
  await c.until("write acknowledged", () => t.state !== "pending");
  expect(t.state).toBe("resolved");
  expect(heldAtResolve).toContain("B");
  expect(heldAtResolve.length).toBeGreaterThanOrEqual(2);
  c.stopAll();
});

test("concern 1 resolves at once even when no peer can be reached", async () => {
  const c = three(1);
  await c.run(50);
  c.net.isolate(addr("A"));
  const t = track(c.node("A").set("k", 1));
  await c.run(1);
  expect(t.state).toBe("resolved");
  expect(holders(c, "k")).toEqual(["A"]);
  c.stopAll();
});

test("concern all waits for every live node", async () => {
  const c = three("all");
  await c.run(50);
  // C reachable from nobody (else B's anti-entropy would hand it the write).
  c.net.block(addr("A"), addr("C"));
  c.net.block(addr("B"), addr("C"));
  const t = track(c.node("A").set("k", 1));
  await c.run(1000);
  expect(t.state).toBe("pending");
  expect(holders(c, "k").sort()).toEqual(["A", "B"]);
  c.net.unblock(addr("A"), addr("C"));
  await c.until("held by all", () => t.state !== "pending");
  expect(t.state).toBe("resolved");
  expect(holders(c, "k").sort()).toEqual(["A", "B", "C"]);
  c.stopAll();
});

test("concern majority counts dead members: 5 known, 2 dead -> both live peers must hold it", async () => {
  const c = new TestCluster({ concern: "majority" });
  for (const n of ["A", "B", "C", "D", "E"]) c.member(n);
  for (const n of ["A", "B", "C"]) c.start(n);
  c.membership.setEverywhere("D", "dead");
  c.membership.setEverywhere("E", "dead");
  await c.run(50);
  c.net.block(addr("A"), addr("C"));
  c.net.block(addr("B"), addr("C"));
  const t = track(c.node("A").set("k", 1));
  await c.run(1000);
  // A and B hold it: 2 of 5 is no majority.
  expect(holders(c, "k").sort()).toEqual(["A", "B"]);
  expect(t.state).toBe("pending");
  c.net.unblock(addr("A"), addr("C"));
  await c.until("majority holds it", () => t.state !== "pending");
  expect(t.state).toBe("resolved");
  c.stopAll();
});

test("ack timeout rejects with unavailable, yet the write stays and converges later", async () => {
  const c = three(2);
  await c.run(50);
  c.net.block(addr("A"), addr("B"));
  c.net.block(addr("A"), addr("C"));
  const t = track(c.node("A").set("k", "v"));
  await c.run(5100);
  expect(t.state).toBe("rejected");
  expect(t.error).toBeInstanceOf(RoomyError);
  expect((t.error as RoomyError).code).toBe("unavailable");
  expect(c.node("A").map.get("k")).toBe("v");
  expect(c.node("A").rep.stats().writesUnavailable).toBe(1);
  c.net.heal();
  await c.until("B and C hold the write", () => c.node("B").map.get("k") === "v" && c.node("C").map.get("k") === "v");
  c.stopAll();
});

test("a peer that becomes live again receives the writes still pending", async () => {
  const c = three(2);
  await c.run(50);
  c.membership.setEverywhere("C", "dead");
  c.net.isolate(addr("C"));
  c.net.block(addr("A"), addr("B"));
  const t = track(c.node("A").set("k", 1));
  await c.run(1000);
  expect(t.state).toBe("pending");
  const before = c.net.count("d", addr("A"), addr("C")).messages;
  c.net.rejoin(addr("C"));
  c.membership.setEverywhere("C", "alive");
  await c.until("acknowledged by the returning peer", () => t.state !== "pending");
  expect(t.state).toBe("resolved");
  expect(c.net.count("d", addr("A"), addr("C")).messages).toBeGreaterThan(before);
  expect(c.node("C").map.get("k")).toBe(1);
  c.stopAll();
});

test("concern 2 with every peer dead does not acknowledge: the write would not survive this node's crash", async () => {
  const c = three(2);
  await c.run(50);
  c.membership.setEverywhere("B", "dead");
  c.membership.setEverywhere("C", "dead");
  const t = track(c.node("A").set("k", 1));
  await c.run(DEFAULT_REPLICATION_CONFIG.ackTimeoutMs + 100);
  expect(t.state).toBe("rejected");
  expect(c.node("A").map.get("k")).toBe(1); // applied locally, just not acknowledged
  c.stopAll();
});
