/**
 * A received chunk is merged under a time budget per turn: one chunk of
 * 4,000 entries took a joiner 20-80 ms of one turn at 1.2M keys. The clock
 * here advances with the entries merged, so each turn's length is known.
 * Pieces go in order, a chunk is acked only once all of it is in, and a
 * chunk being merged still counts as waiting (a re-sent copy is dropped).
 */
import { expect, test } from "bun:test";
import type { DeltaEntry } from "../../../core/crdt/lww-map.ts";
import { workClock } from "../../support/work-clock.ts";
import { type ChunkMessage, ChunkQueue, MERGE_BUDGET_MS, MERGE_PIECE } from "../../../mesh/replication/chunk-queue.ts";

function entries(n: number, w: number): DeltaEntry[] {
  return Array.from({ length: n }, (_, k) => ({ k: `person/p${k}`, ts: { w, c: k, n: "A#1" }, v: `r${k % 7}` }));
}

function chunk(c: number, e: DeltaEntry[]): ChunkMessage {
  return { t: "ae", n: "A", i: "A#1", r: 5, c, l: false, delta: { e }, hz: null, u: null };
}

/** A clock the merging moves on (`msPerEntry`), a queue over it, and what it did: the pieces' keys in order, the acks, each turn's length. */
function rig(msPerEntry: number, refuseAt = -1) {
  const { sim, clock, turns, spend } = workClock(true);
  const keys: string[] = [];
  const acked: number[] = [];
  let pieces = 0;
  const q = new ChunkQueue(clock, {
    piece: (_from, _m, e) => {
      if (pieces++ === refuseAt) return false;
      spend(e.length * msPerEntry);
      for (const x of e) keys.push(x.k);
      return true;
    },
    merged: (_from, m) => void acked.push(m.c),
  });
  return { sim, q, keys, acked, turns };
}

test("a 4,000-entry chunk that takes 40 ms to merge goes over several turns of about the budget, in order, acked once at the end", () => {
  const { sim, q, keys, acked, turns } = rig(0.01); // 10 µs an entry: 40 ms a chunk
  const e = entries(4000, 1000);
  q.push("A", chunk(0, e));
  q.push("A", chunk(1, entries(300, 2000)));
  sim.step(); // one turn
  expect(acked).toEqual([]);
  for (let k = 0; k < 20; k++) sim.advance(1);
  expect(acked).toEqual([0, 1]);
  expect(keys).toEqual([...e.map((x) => x.k), ...entries(300, 2000).map((x) => x.k)]);
  expect(turns.length).toBeGreaterThanOrEqual(5);
  // Each turn stops after the piece that used up the budget.
  for (const t of turns) expect(t).toBeLessThanOrEqual(MERGE_BUDGET_MS + MERGE_PIECE * 0.01 + 1e-9);
});

test("a copy of the chunk being merged is dropped; a piece refused leaves the chunk unacked and the next one goes on", () => {
  const { sim, q, acked } = rig(0.01, 5); // the 6th piece, in the second turn
  const e = entries(4000, 1000);
  q.push("A", chunk(0, e));
  q.push("A", chunk(1, entries(10, 2000)));
  sim.step(); // chunk 0's first pieces are in
  q.push("A", chunk(0, e.map((x) => ({ ...x, ts: { ...x.ts } }))));
  expect(q.duplicates).toBe(1);
  for (let k = 0; k < 20; k++) sim.advance(1);
  // Its second piece was refused: chunk 0 is not acked (it comes again, whole); chunk 1 is.
  expect(acked).toEqual([1]);
});

test("clear() during a chunk stops it: nothing more is merged or acked", () => {
  const { sim, q, keys, acked } = rig(0.01);
  q.push("A", chunk(0, entries(4000, 1000)));
  sim.step();
  const before = keys.length;
  expect(before).toBeGreaterThan(0);
  expect(before).toBeLessThan(4000);
  q.clear();
  for (let k = 0; k < 20; k++) sim.advance(1);
  expect(keys.length).toBe(before);
  expect(acked).toEqual([]);
  expect(q.size).toBe(0);
});
