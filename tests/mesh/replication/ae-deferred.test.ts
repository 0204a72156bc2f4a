/**
 * An urgent round asked of a node while it is being filled (a round of its
 * own streaming it entries) is answered once that transfer is over
 * (ae-deferred.ts): answered at once, the full initiator would stream the
 * prints of its whole map to the half-filled node.
 */
import { expect, test } from "bun:test";
import type { DeltaEntry } from "../../../core/crdt/lww-map.ts";
import { addr, TestCluster, track } from "./harness.ts";

const KEYS = 5_000;

test("an urgent digest that comes while the node is being filled is answered after the transfer, and the asker's pull still completes", async () => {
  const c = new TestCluster({ concern: 1, config: { chunkEntries: 100, antiEntropyMs: 600_000 } });
  for (const n of ["A", "B", "X"]) c.member(n);
  const a = c.start("A");
  const b = c.start("B");
  const e: DeltaEntry[] = [];
  for (let k = 0; k < KEYS; k++) e.push({ k: `k/${k}`, ts: { w: c.clock.now() - 1000, c: k, n: "A#1" }, v: k });
  a.map.absorb({ e });
  b.map.absorb({ e });
  // Past retransmitMs: B's round with X from its start (X was not running yet) is stale, and a pull replaces it.
  await c.run(400);
  const x = c.start("X");
  const filled = track(x.rep.catchUpFrom(["A", "B"], 2, 60_000).then(() => {}));
  // X is part-way through one peer's transfer (one at a time: the other's round waits).
  await c.until("a few chunks in", () => x.map.size >= 1_000);
  expect(x.map.size).toBeLessThan(KEYS);
  const at = c.net.log.length;
  // B pulls from X (as a holder catching up for a new epoch would): an urgent round.
  const pulled = track(b.rep.catchUpFrom(["X"], 1, 60_000).then(() => {}));
  await c.until("both done", () => filled.state !== "pending" && pulled.state !== "pending", 60_000);
  expect(filled.state).toBe("resolved");
  expect(pulled.state).toBe("resolved");
  const after = c.net.log.slice(at);
  const lastChunkToX = after.findLastIndex((s) => s.t === "ae" && s.to === addr("X"));
  const firstAnswerToB = after.findIndex((s) => s.from === addr("X") && s.to === addr("B") && (s.t === "lf" || s.t === "eq"));
  expect(lastChunkToX).toBeGreaterThan(0);
  expect(firstAnswerToB).toBeGreaterThan(lastChunkToX);
  // Answered full, X's digest equals B's: no prints of B's map went to X.
  expect(after.filter((s) => s.t === "ls" && s.to === addr("X")).length).toBe(0);
  expect(x.map.size).toBe(KEYS);
  c.stopAll();
});
