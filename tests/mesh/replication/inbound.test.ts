import { expect, test } from "bun:test";
import { deltaToWire } from "../../../core/crdt/lww-codec.ts";
import type { Message } from "../../../mesh/types.ts";
import { addr, TestCluster, track } from "./harness.ts";

function two(): TestCluster {
  const c = new TestCluster({ concern: 2 });
  for (const n of ["A", "B"]) c.member(n);
  for (const n of ["A", "B"]) c.start(n);
  return c;
}

test("malformed messages are dropped whole, logged, and the node keeps replicating", async () => {
  const c = two();
  await c.run(50);
  const a = c.membership.get("A");
  const from = { n: a.name, i: a.id };
  const ts = { w: c.clock.now(), c: 0, n: a.id };
  const goodThenBad = deltaToWire({ e: [{ k: "half", ts, v: 1 }, { k: "x", ts, v: 2 }] });
  // Corrupt the second entry's writer index: the first entry must not be merged either.
  const entries = (goodThenBad as unknown[])[(goodThenBad as unknown[]).length - 1] as unknown[];
  entries[8] = 99;
  const garbage: Message[] = [
    { t: "d", ...from, s: [1, 1], d: goodThenBad },
    { t: "d", ...from, s: [1, 1], d: "not a delta" },
    { t: "d", ...from, s: [5, 1], d: deltaToWire({ e: [] }) },
    { t: "d", s: [1, 1], d: deltaToWire({ e: [{ k: "anon", ts, v: 1 }] }) },
    { t: "a", ...from, s: "1-2" },
    { t: "dg", ...from, r: 1, h: new Uint8Array(7), z: 10 },
    { t: "dg", ...from, r: -1, h: new Uint8Array(256 * 8), z: 10 },
    { t: "ae", ...from, r: 1, b: [9999], c: 0, of: 1, d: deltaToWire({ e: [] }) },
    { t: "ae", ...from, r: 1, b: [1], c: 3, of: 1, d: deltaToWire({ e: [] }) },
    { t: "zz", ...from },
  ];
  const b = c.node("B");
  for (const m of garbage) c.net.inject(addr("A"), addr("B"), m);
  await c.run(100);
  expect(b.rep.stats().malformedDropped).toBe(garbage.length);
  expect(b.map.has("half")).toBe(false);
  expect(b.map.has("anon")).toBe(false);
  expect(b.logs.filter((l) => l.level === "warn").length).toBeGreaterThanOrEqual(garbage.length);
  const w = track(c.node("A").set("after", 1));
  await c.until("later write acknowledged", () => w.state === "resolved");
  expect(b.map.get("after")).toBe(1);
  c.stopAll();
});

test("a delta whose timestamp the clock refuses is not merged and not acknowledged", async () => {
  const c = two();
  await c.run(50);
  const a = c.membership.get("A");
  const far = { w: c.clock.now() + 3_600_000, c: 0, n: a.id };
  c.net.inject(addr("A"), addr("B"), { t: "d", n: a.name, i: a.id, s: [77, 77], d: deltaToWire({ e: [{ k: "future", ts: far, v: 1 }] }) });
  await c.run(100);
  const b = c.node("B");
  expect(b.map.has("future")).toBe(false);
  expect(b.rep.stats().refusedTimestamps).toBe(1);
  expect(c.net.count("a", addr("B"), addr("A")).messages).toBe(0);
  c.stopAll();
});

test("an ack from a previous process of a peer does not count", async () => {
  const c = new TestCluster({ concern: "all" });
  for (const n of ["A", "B"]) c.member(n);
  c.start("A");
  c.start("B");
  await c.run(50);
  const oldB = c.membership.get("B");
  c.net.isolate(addr("B"));
  const w = track(c.node("A").set("k", 1));
  await c.run(10);
  // Forge the old identity's ack for seq 1 after B restarted under a new id.
  c.membership.restart("B");
  c.membership.announce("B");
  c.net.inject(addr("B"), addr("A"), { t: "a", n: "B", i: oldB.id, s: [1, 1] });
  await c.run(100);
  expect(w.state).toBe("pending");
  c.stopAll();
  await c.run(10);
});
