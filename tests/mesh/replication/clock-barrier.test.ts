/**
 * The write barrier (clock-barrier.ts): a key written by two nodes is
 * ordered by their clocks' stamps. A write acknowledged by A and B that C
 * has not merged (its stream cut) carries a stamp C's clock has not seen;
 * C's write of the same key right after must still win. After asking B's
 * clock (B merged A's write, so observed its stamp) it does; without, it
 * loses everywhere (the control below).
 */
import { expect, test } from "bun:test";
import { HEDGE_MS } from "../../../mesh/replication/clock-barrier.ts";
import { addr, converged, TestCluster, track } from "./harness.ts";

async function writeAfterUnseen(barrier: boolean): Promise<unknown> {
  const c = new TestCluster({ concern: "majority", config: { antiEntropyMs: 1_000 } });
  for (const n of ["A", "B", "C"]) c.member(n);
  for (const n of ["A", "B", "C"]) c.start(n);
  await c.run(100);
  c.net.block(addr("A"), addr("C"));
  const a = c.node("A");
  // A's clock runs 100 ms ahead of C's (within the drift a clock accepts).
  const ahead = { w: c.clock.now() + 100, c: 0, n: a.hlc.node };
  const first = track(a.rep.write({ e: [{ k: "person/q", ts: ahead, v: "from A" }] }));
  await c.until("A's write acknowledged", () => first.state === "resolved", 5_000, 1);
  const cn = c.node("C");
  if (barrier) {
    const b = track(cn.rep.clockFrom!(["B"], 1, 5_000).then(() => {}));
    await c.until("barrier done", () => b.state !== "pending", 5_000, 1);
    expect(b.state).toBe("resolved");
  }
  const second = track(cn.set("person/q", "from C"));
  await c.until("C's write acknowledged", () => second.state === "resolved", 5_000, 1);
  c.net.heal();
  await c.until("converged", () => converged([...c.nodes.values()]), 10_000);
  const v = c.node("A").map.get("person/q");
  c.stopAll();
  return v;
}

test("a write made after the barrier wins over a write acknowledged before it that this node had not merged", async () => {
  expect(await writeAfterUnseen(true)).toBe("from C");
});

test("control: without the barrier the later acknowledged write loses everywhere", async () => {
  expect(await writeAfterUnseen(false)).toBe("from A");
});

test("a write barrier whose peers do not answer rejects unavailable at its deadline", async () => {
  const c = new TestCluster({ concern: "majority" });
  for (const n of ["A", "B"]) c.member(n);
  for (const n of ["A", "B"]) c.start(n);
  await c.run(100);
  c.net.block(addr("B"), addr("A"));
  const b = track(c.node("A").rep.clockFrom!(["B"], 1, 1_000).then(() => {}));
  await c.until("done", () => b.state !== "pending", 5_000, 10);
  expect(b.state).toBe("rejected");
  expect((b.error as { code?: string }).code).toBe("unavailable");
  c.stopAll();
});

test("one peer's clock is asked when one suffices; the other once the first is slow", async () => {
  const c = new TestCluster({ concern: "majority" });
  for (const n of ["A", "B", "C"]) c.member(n);
  for (const n of ["A", "B", "C"]) c.start(n);
  await c.run(100);
  const before = c.net.count("tq", addr("C")).messages;
  const quick = track(c.node("C").rep.clockFrom!(["A", "B"], 1, 5_000).then(() => {}));
  await c.until("answered", () => quick.state !== "pending", 5_000, 1);
  expect(quick.state).toBe("resolved");
  expect(c.net.count("tq", addr("C")).messages - before).toBe(1);
  // Both silent at first: after HEDGE_MS the other is asked too; B answers once healed.
  c.net.block(addr("A"), addr("C"));
  c.net.block(addr("B"), addr("C"));
  const slow = track(c.node("C").rep.clockFrom!(["A", "B"], 1, 5_000).then(() => {}));
  await c.run(HEDGE_MS * 3, 1);
  expect(c.net.count("tq", addr("C")).messages - before).toBe(3);
  c.net.unblock(addr("B"), addr("C"));
  await c.until("answered", () => slow.state !== "pending", 5_000, 1);
  expect(slow.state).toBe("resolved");
  c.stopAll();
});
