import { expect, test } from "bun:test";
import { eagerPeers } from "../../../mesh/replication/lazy-acks.ts";
import { addr, TestCluster, track } from "./harness.ts";

function three(): TestCluster {
  const c = new TestCluster({ concern: 2 });
  for (const n of ["A", "B", "C"]) c.member(n);
  for (const n of ["A", "B", "C"]) c.start(n);
  return c;
}

const lazy = (m: { msg: Record<string, unknown> }) => m.msg["q"] === 1;

test("a turn's writes wait on one peer's ack (taken in turn): the other's data is marked lazy, and its ack still comes", async () => {
  const c = three();
  await c.run(50);
  const a = c.node("A");
  const from = c.net.log.length;
  for (let turn = 0; turn < 4; turn++) {
    const w = track(a.set(`k${turn}`, turn));
    const t0 = c.clock.now();
    // Eager ack: within the network's round trip (<= 2 ms), well before a lazy one (10 ms).
    await c.until("acknowledged", () => w.state === "resolved", 60_000, 0.25);
    expect(c.clock.now() - t0).toBeLessThan(5);
    await c.run(30);
  }
  const data = c.net.log.slice(from).filter((s) => s.t === "d" && s.from === addr("A"));
  expect(data.length).toBe(8);
  for (let turn = 0; turn < 4; turn++) {
    const pair = data.slice(2 * turn, 2 * turn + 2);
    expect(pair.filter(lazy).length).toBe(1); // one eager, one lazy
  }
  // Each peer was the eager one in some turn.
  expect(new Set(data.filter((s) => !lazy(s)).map((s) => s.to)).size).toBe(2);
  // The lazy acks came too: every write is held by both peers and retired.
  expect(c.net.log.slice(from).filter((s) => s.t === "a" && s.to === addr("A")).length).toBe(8);
  expect(a.rep.stats().pendingWrites).toBe(0);
  c.stopAll();
});

test("a lazy ack leaves with the next eager ack to the same writer (one socket write), not on its own timer", async () => {
  const c = three();
  await c.run(50);
  const a = c.node("A");
  const acksAt: { from: string; at: number }[] = [];
  c.net.tap = (from, to, msg) => void (msg.t === "a" && to === addr("A") && acksAt.push({ from, at: c.clock.now() }));
  const from = c.net.log.length;
  // Two writes in consecutive turns within the lazy delay: the peer lazy for the first is eager for the second.
  const w1 = track(a.set("x", 1));
  await c.until("first acknowledged", () => w1.state === "resolved", 60_000, 0.25);
  const w2 = track(a.set("y", 2));
  await c.until("second acknowledged", () => w2.state === "resolved", 60_000, 0.25);
  const lazyPeer = c.net.log.slice(from).find((s) => s.t === "d" && lazy(s))!.to;
  const fromLazy = acksAt.filter((x) => x.from === lazyPeer);
  expect(fromLazy.length).toBe(2);
  expect(Math.abs(fromLazy[1]!.at - fromLazy[0]!.at)).toBeLessThanOrEqual(1); // sent together
  expect(fromLazy[0]!.at - acksAt[0]!.at).toBeLessThan(10); // before its lazy timer
  c.net.tap = undefined;
  await c.run(30);
  c.stopAll();
});

test("the eager peer cut off: the write is acknowledged by the lazy peer's ack, late but held by two", async () => {
  const c = three();
  await c.run(50);
  const a = c.node("A");
  // Find which peer the next turn waits on, by sending one write and reading the marks.
  const w0 = track(a.set("probe", 0));
  await c.until("probe acknowledged", () => w0.state === "resolved");
  await c.run(30);
  // The rotor moved on: the next turn's eager peer is the one that was lazy for the probe.
  const probe = c.net.log.filter((s) => s.t === "d" && s.from === addr("A")).slice(-2);
  const nextEager = probe.find(lazy)!.to;
  c.net.block(addr("A"), nextEager);
  const w = track(a.set("k", 1));
  const t0 = c.clock.now();
  await c.until("acknowledged by the lazy peer", () => w.state === "resolved", 60_000, 0.25);
  expect(c.clock.now() - t0).toBeGreaterThanOrEqual(10); // the lazy ack's wait
  expect(c.clock.now() - t0).toBeLessThan(20);
  const other = ["B", "C"].map(addr).find((x) => x !== nextEager)!;
  expect(c.node(other === addr("B") ? "B" : "C").map.get("k")).toBe(1);
  c.net.heal();
  c.stopAll();
});

test("eagerPeers: enough peers for the quorum, in turn, among those whose acks count", () => {
  const any = { required: 2, holders: null, selfCounts: true };
  expect([...eagerPeers(any, ["B", "C"], 0)!]).toEqual(["B"]);
  expect([...eagerPeers(any, ["B", "C"], 1)!]).toEqual(["C"]);
  // Every peer's ack needed: all eager.
  expect(eagerPeers({ required: 3, holders: null, selfCounts: true }, ["B", "C"], 0)).toBeNull();
  // Held here alone: no ack is waited on.
  expect(eagerPeers({ required: 1, holders: null, selfCounts: true }, ["B", "C"], 0)!.size).toBe(0);
  // Only holders' acks count: the non-holder D is never the eager one.
  const holders = { required: 2, holders: new Set(["A", "B", "C"]), selfCounts: true };
  for (let r = 0; r < 6; r++) expect(eagerPeers(holders, ["B", "C", "D"], r)!.has("D")).toBe(false);
  // This node not a holder: two holders' acks needed, of two: all eager.
  expect(eagerPeers({ required: 2, holders: new Set(["B", "C"]), selfCounts: false }, ["B", "C", "D"], 0)).toBeNull();
});
