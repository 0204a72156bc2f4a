/**
 * Read leases (read-lease.ts, lease-grants.ts) on three replicators over the
 * simulated network: a reader that holds a grant from every other holder
 * answers with no round trip, and every write acknowledged while it holds
 * them is in its replica, whatever is cut or crashed. The checks run after
 * every virtual millisecond where a test says so.
 */
import { expect, test } from "bun:test";
import { COMPLAIN_AFTER_MS, DRIFT, LAG_MS, LEASE_MS } from "../../../mesh/replication/lease-grants.ts";
import { READER_SHARE, RENEW_MS, WANTED_MS } from "../../../mesh/replication/read-lease.ts";
import type { Message } from "../../../mesh/types.ts";
import { addr, converged, TestCluster, track } from "./harness.ts";

const NAMES = ["A", "B", "C"];

async function three(): Promise<TestCluster> {
  const c = new TestCluster({ concern: "majority", config: { antiEntropyMs: 600_000 } });
  for (const n of NAMES) c.member(n);
  for (const n of NAMES) c.start(n);
  for (const n of NAMES) c.node(n).rep.setEpoch(1, NAMES);
  await c.run(100);
  const w = [0, 1, 2].map((i) => track(c.node("A").set(`k/${i}`, i)));
  await c.until("the first writes are everywhere", () => w.every((x) => x.state === "resolved") && converged([...c.nodes.values()]));
  return c;
}

const holders = (c: TestCluster) => NAMES.map((name) => ({ name, id: c.membership.get(name).id }));
const leased = (c: TestCluster, at: string): boolean => c.node(at).rep.readLease!(holders(c));

/** Run until `at` holds a lease (reading every virtual ms); whether it never held one without `key` = `value` meanwhile. */
async function leaseOnlyWith(c: TestCluster, at: string, key: string, value: unknown, maxMs: number): Promise<boolean> {
  let without = false;
  await c.until(
    `${at} holds a lease`,
    () => {
      const held = leased(c, at);
      if (held && c.node(at).map.get(key) !== value) without = true;
      return held;
    },
    maxMs,
    1,
  );
  return !without;
}

/** Take a lease on `at`: the first read asks, a round trip later it holds. */
async function lease(c: TestCluster, at: string): Promise<void> {
  expect(leased(c, at)).toBe(false);
  await c.until(`${at} holds a read lease`, () => leased(c, at), 1_000, 1);
}

test("a reader holds a lease from every other holder a round trip after its first read, then reads with no message", async () => {
  const c = await three();
  await lease(c, "C");
  const asks = c.net.count("vq").messages;
  for (let k = 0; k < 20; k++) {
    expect(leased(c, "C")).toBe(true);
    await c.run(20, 1);
  }
  expect(c.net.count("vq").messages).toBe(asks);
  expect(c.node("C").rep.stats().readsLeased).toBeGreaterThanOrEqual(20);
  expect(c.node("A").rep.stats().leasesGranted).toBe(1);
  c.stopAll();
});

test("a write acknowledged while the reader holds its lease is in its replica; with its stream to the reader cut, it waits until the reader's grants run out", async () => {
  const c = await three();
  await lease(c, "C");
  c.net.block(addr("A"), addr("C")); // A's writes and grants to C are lost; B acks, and lists C
  const w = track(c.node("A").set("late", "v"));
  let sawLeaseWithout = false;
  const t0 = c.clock.now();
  await c.until(
    "the write is acknowledged",
    () => {
      // The promise, after every virtual millisecond: a reader with a lease holds every acknowledged write.
      if (w.state === "resolved" && leased(c, "C") && c.node("C").map.get("late") !== "v") sawLeaseWithout = true;
      return w.state !== "pending";
    },
    5_000,
    1,
  );
  expect(sawLeaseWithout).toBe(false);
  expect(String(w.error ?? "")).toBe("");
  expect(w.state).toBe("resolved");
  // It waited for C's grants to run out: A and B stopped granting once C's cover lagged theirs by LAG_MS.
  expect(c.clock.now() - t0).toBeGreaterThanOrEqual(LEASE_MS * READER_SHARE);
  expect(c.clock.now() - t0).toBeLessThanOrEqual(LAG_MS + RENEW_MS + LEASE_MS * DRIFT + 50);
  expect(c.node("A").rep.stats().leasesGranted).toBe(0);
  expect(leased(c, "C")).toBe(false);
  expect(c.node("A").rep.stats().writesWaitedForReaders).toBeGreaterThan(0);
  c.stopAll();
});

test("an ack lists the readers its node granted: the origin waits for them, though it granted none itself", async () => {
  const c = await three();
  // C asks only B: its ask to A is lost, so A grants nothing; B's acks list C.
  c.net.block(addr("C"), addr("A"));
  expect(leased(c, "C")).toBe(false);
  await c.run(50, 1);
  expect(c.node("A").rep.stats().leasesGranted).toBe(0);
  expect(c.node("B").rep.stats().leasesGranted).toBe(1);
  c.net.block(addr("A"), addr("C"));
  const w = track(c.node("A").set("via-b", 1));
  await c.run(100, 1);
  // B holds it and acked; A waits for C, which B listed.
  expect(c.node("B").map.get("via-b")).toBe(1);
  expect(w.state).toBe("pending");
  await c.until("acknowledged once the listed grant ran out", () => w.state !== "pending", 2_000, 1);
  expect(w.state).toBe("resolved");
  c.stopAll();
});

test("a reader whose acks to a writer are cut is complained of: the writer's writes go on once its grants ran out", async () => {
  const c = await three();
  // C's messages to A are lost (its acks and asks); A's writes reach C, so C's cover keeps up and B keeps granting it.
  c.net.block(addr("C"), addr("A"));
  expect(leased(c, "C")).toBe(false);
  await c.run(50, 1);
  expect(c.node("B").rep.stats().leasesGranted).toBe(1);
  // A write every 20 ms for 2 s; C keeps reading (and asking) all along. Each of B's acks lists C afresh.
  const writes: { at: number; w: ReturnType<typeof track>; done: number }[] = [];
  const t0 = c.clock.now();
  while (c.clock.now() - t0 < 2_000) {
    const x = { at: c.clock.now(), w: track(c.node("A").set(`w/${writes.length}`, 1)), done: -1 };
    writes.push(x);
    for (let k = 0; k < 20; k++) {
      leased(c, "C");
      await c.run(1, 1);
      for (const y of writes) if (y.done < 0 && y.w.state !== "pending") y.done = c.clock.now();
    }
  }
  await c.until("all answered", () => writes.every((y) => y.w.state !== "pending"), 6_000, 1);
  for (const y of writes) if (y.done < 0) y.done = c.clock.now();
  expect(writes.every((y) => y.w.state === "resolved")).toBe(true);
  const slowest = Math.max(...writes.map((y) => y.done - y.at));
  expect(slowest).toBeLessThanOrEqual(COMPLAIN_AFTER_MS + LEASE_MS * DRIFT + 100);
  // Once B's grant ran out, writes wait for no one.
  const last = writes.slice(-10).map((y) => y.done - y.at);
  expect(Math.max(...last)).toBeLessThan(20);
  expect(c.net.count("lx", addr("A")).messages).toBeGreaterThan(0);
  expect(c.node("B").rep.stats().leasesGranted).toBe(0);
  c.stopAll();
});

test("a grant counts only once the reader holds the cover it came with", async () => {
  const c = await three();
  // A write of A that C lacks (its stream to C cut), acknowledged by A and B before C asks for a lease.
  c.net.block(addr("A"), addr("C"));
  const w = track(c.node("A").set("before", 1));
  await c.until("acknowledged", () => w.state === "resolved", 2_000, 1);
  c.net.unblock(addr("A"), addr("C"));
  // Both grants reach C at once; the write comes only with A's retransmit.
  expect(leased(c, "C")).toBe(false);
  expect(await leaseOnlyWith(c, "C", "before", 1, 2_000)).toBe(true);
  expect(c.net.count("lg", addr("A"), addr("C")).messages).toBeGreaterThan(1);
  c.stopAll();
});

test("a write the reader refused as fenced stays out of its cover: refused as lagging, it fetches what the grantors held and then holds a lease", async () => {
  const c = await three();
  c.node("C").rep.adoptFence(5); // A's writes (epoch 1) are refused at C; B acks them
  const w = track(c.node("A").set("fenced-at-c", 1));
  await c.until("answered", () => w.state !== "pending", 2_000, 1);
  expect(c.node("C").map.get("fenced-at-c")).toBeUndefined();
  await c.run(300, 1); // older than LAG_MS at the grantors
  expect(leased(c, "C")).toBe(false);
  expect(await leaseOnlyWith(c, "C", "fenced-at-c", 1, 5_000)).toBe(true);
  expect(c.node("A").rep.stats().leasesGranted).toBe(1);
  c.stopAll();
});

test("a crashed reader holds writes back at most one grant's length", async () => {
  const c = await three();
  await lease(c, "C");
  c.net.crash(addr("C"));
  const t0 = c.clock.now();
  const w = track(c.node("A").set("after-crash", 1));
  await c.until("acknowledged", () => w.state !== "pending", 3_000, 1);
  expect(w.state).toBe("resolved");
  expect(c.clock.now() - t0).toBeLessThanOrEqual(LEASE_MS * DRIFT + 20);
  // A second write waits for no one: the grant ran out.
  const t1 = c.clock.now();
  const w2 = track(c.node("A").set("after-crash-2", 1));
  await c.until("acknowledged", () => w2.state !== "pending", 3_000, 1);
  expect(c.clock.now() - t1).toBeLessThan(50);
  c.stopAll();
});

test("with no reads for a while a node stops asking, and writes wait for no reader", async () => {
  const c = await three();
  await lease(c, "C");
  await c.run(WANTED_MS + LEASE_MS + 100, 10);
  const asks = c.net.count("lq").messages;
  await c.run(1_000, 10);
  expect(c.net.count("lq").messages).toBe(asks);
  expect(c.node("A").rep.stats().leasesGranted).toBe(0);
  c.net.block(addr("A"), addr("C"));
  const t0 = c.clock.now();
  const w = track(c.node("A").set("no-reader", 1));
  await c.until("acknowledged", () => w.state !== "pending", 1_000, 1);
  expect(c.clock.now() - t0).toBeLessThan(50);
  c.stopAll();
});

test("under write concern 2 no node grants or reads by lease", async () => {
  const c = new TestCluster({ concern: 2, config: { antiEntropyMs: 600_000 } });
  for (const n of NAMES) c.member(n);
  for (const n of NAMES) c.start(n);
  for (const n of NAMES) c.node(n).rep.setEpoch(1, NAMES);
  await c.run(100);
  expect(leased(c, "C")).toBe(false);
  await c.run(300, 1);
  expect(leased(c, "C")).toBe(false);
  expect(c.net.count("lq").messages).toBe(0);
  c.stopAll();
});

test("a malformed grant or reader list is dropped and counted, and nothing else changes", async () => {
  const c = await three();
  const a = c.node("A");
  const before = a.rep.stats().malformedDropped;
  const from = { n: "B", i: c.membership.get("B").id };
  const send = (msg: Record<string, unknown>) => c.net.inject(addr("B"), addr("A"), { ...from, ...msg } as unknown as Message);
  send({ t: "lg", r: 1, d: -5, v: [] });
  send({ t: "lg", r: 1, d: 500, v: "nope" });
  send({ t: "lq", r: 1 });
  send({ t: "a", s: [1, 1], l: [["C", -1]] });
  send({ t: "a", s: [1, 1], l: "C" });
  await c.run(20, 1);
  expect(a.rep.stats().malformedDropped).toBe(before + 5);
  expect(leased(c, "A")).toBe(false);
  c.stopAll();
});
