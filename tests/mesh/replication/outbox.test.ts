import { expect, test } from "bun:test";
import { addr, TestCluster, track } from "./harness.ts";

function three(): TestCluster {
  const c = new TestCluster({ concern: 2 });
  for (const n of ["A", "B", "C"]) c.member(n);
  for (const n of ["A", "B", "C"]) c.start(n);
  return c;
}

test("1000 writes in one tick leave as one message per peer, and every peer holds them all", async () => {
  const c = three();
  await c.run(50);
  const a = c.node("A");
  const before = c.net.count("d", addr("A")).messages;
  const writes: ReturnType<typeof track>[] = [];
  for (let i = 0; i < 1000; i++) writes.push(track(a.set(`k${i}`, i)));
  await c.until("all acknowledged", () => writes.every((w) => w.state === "resolved"));
  const sent = c.net.count("d", addr("A"));
  expect(sent.messages - before).toBe(2); // one to B, one to C
  expect(c.net.count("a", addr("B"), addr("A")).messages).toBe(1);
  for (const n of ["B", "C"]) expect(c.node(n).map.size).toBe(1000);
  expect(a.rep.stats().deltasSent).toBe(2000);
  c.stopAll();
});

test("a burst larger than maxBatchEntries is split into batches of at most that many entries", async () => {
  const c = new TestCluster({ concern: 2, config: { maxBatchEntries: 300 } });
  for (const n of ["A", "B"]) c.member(n);
  for (const n of ["A", "B"]) c.start(n);
  await c.run(50);
  const writes: ReturnType<typeof track>[] = [];
  for (let i = 0; i < 1000; i++) writes.push(track(c.node("A").set(`k${i}`, i)));
  await c.until("all acknowledged", () => writes.every((w) => w.state === "resolved"));
  const msgs = c.net.log.filter((s) => s.t === "d" && s.from === addr("A"));
  expect(msgs.length).toBe(4);
  expect(Math.max(...msgs.map((m) => m.entries))).toBeLessThanOrEqual(300);
  expect(c.node("B").map.size).toBe(1000);
  c.stopAll();
});

test("a lost delta message is retransmitted and the write then resolves", async () => {
  const c = three();
  await c.run(50);
  c.net.block(addr("A"), addr("C"));
  c.net.dropNextMatching(addr("A"), addr("B"), "d");
  const t = track(c.node("A").set("k", 1));
  await c.run(100);
  expect(t.state).toBe("pending");
  expect(c.node("B").map.has("k")).toBe(false);
  await c.until("retransmitted and acknowledged", () => t.state !== "pending", 2000);
  expect(t.state).toBe("resolved");
  expect(c.net.count("d", addr("A"), addr("B")).messages).toBe(2);
  expect(c.node("A").rep.stats().retransmits).toBeGreaterThanOrEqual(1);
  c.stopAll();
});

test("a lost ack is covered by retransmitting the delta; the duplicate merge changes nothing", async () => {
  const c = three();
  await c.run(50);
  c.net.block(addr("A"), addr("C"));
  c.net.dropNextMatching(addr("B"), addr("A"), "a");
  const t = track(c.node("A").set("k", 1));
  await c.until("acknowledged", () => t.state !== "pending", 2000);
  expect(t.state).toBe("resolved");
  expect(c.node("B").changes.filter((ch) => ch.key === "k")).toHaveLength(1);
  c.stopAll();
});

test("flush resolves once every pending write is held by every live peer", async () => {
  const c = three();
  await c.run(50);
  c.net.block(addr("A"), addr("C"));
  c.net.block(addr("B"), addr("C"));
  const w = track(c.node("A").set("k", 1));
  const f = track(c.node("A").rep.flush(10_000));
  await c.run(1000);
  expect(w.state).toBe("resolved"); // B holds it: concern 2 met
  expect(f.state).toBe("pending"); // C does not yet
  c.net.heal();
  await c.until("flushed", () => f.state !== "pending");
  expect(c.node("C").map.get("k")).toBe(1);
  expect(c.node("A").rep.stats().pendingWrites).toBe(0);
  c.stopAll();
});

test("local writes and remote merges are reported to onChange subscribers", async () => {
  const c = three();
  await c.run(50);
  const w1 = track(c.node("A").set("x", 1));
  await c.until("set acknowledged", () => w1.state === "resolved" && c.node("B").map.has("x"));
  const w2 = track(c.node("B").del("x"));
  await c.until("delete everywhere", () => w2.state === "resolved" && !c.node("A").map.has("x") && !c.node("C").map.has("x"));
  expect(c.node("A").changes).toEqual([
    { key: "x", old: undefined, value: 1 },
    { key: "x", old: 1, value: undefined },
  ]);
  expect(c.node("C").changes).toEqual(c.node("A").changes);
  c.stopAll();
});

test("a burst sends each batch as soon as it fills, before the burst ends, so peers merge while the writer writes", async () => {
  const c = new TestCluster({ concern: 2, config: { maxBatchEntries: 300 } });
  for (const n of ["A", "B"]) c.member(n);
  for (const n of ["A", "B"]) c.start(n);
  await c.run(50);
  const writes: ReturnType<typeof track>[] = [];
  const sentBefore = c.net.log.filter((s) => s.t === "d" && s.from === addr("A")).length;
  for (let i = 0; i < 700; i++) writes.push(track(c.node("A").set(`k${i}`, i)));
  // Still inside the burst's tick: the two full batches have left already.
  const early = c.net.log.filter((s) => s.t === "d" && s.from === addr("A")).slice(sentBefore);
  expect(early.map((m) => m.entries)).toEqual([300, 300]);
  await c.until("all acknowledged", () => writes.every((w) => w.state === "resolved"));
  const all = c.net.log.filter((s) => s.t === "d" && s.from === addr("A")).slice(sentBefore);
  expect(all.map((m) => m.entries)).toEqual([300, 300, 100]);
  expect(c.node("B").map.size).toBe(700);
  c.stopAll();
});
