/**
 * A received batch bigger than one merge piece (data-inbox.ts merges
 * MERGE_PIECE entries at a time, over turns) reaches the listeners (the
 * apps' indexes, which every read goes through) all at once, when it is
 * whole: a read never sees part of one write, e.g. some of a walk-into's
 * people (tests/cluster/hostile-torn-walk.test.ts, real processes).
 */
import { expect, test } from "bun:test";
import { MERGE_PIECE } from "../../../mesh/replication/chunk-queue.ts";
import { TestCluster } from "./harness.ts";

test("the changes of one received write of many entries reach the listeners in one notification", async () => {
  const c = new TestCluster({ concern: "majority", config: { antiEntropyMs: 600_000 } });
  for (const n of ["A", "B"]) c.member(n);
  for (const n of ["A", "B"]) c.start(n);
  await c.run(100);
  const told: number[] = [];
  c.node("B").rep.onChange((changes) => told.push(changes.length));
  const a = c.node("A");
  const entries = 4 * MERGE_PIECE;
  const ts = a.hlc.now(c.clock.now());
  let done = false;
  void a.rep.write({ e: Array.from({ length: entries }, (_, i) => ({ k: `person/p${i}`, ts: { ...ts, c: ts.c }, v: "hall" })) }).then(() => (done = true));
  await c.until("acknowledged", () => done, 5_000, 1);
  expect(told).toEqual([entries]);
  c.stopAll();
});
