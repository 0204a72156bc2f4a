/**
 * A stream's turn is bounded by time, not only by map slots: a source that
 * judges every entry it looks at and skips most (a whole-map transfer's
 * second phase) held an owner's event loop 100-240 ms a turn. The clock here
 * advances with the work done (a cost per slot looked at, or per key
 * judged), so each turn's length is known exactly.
 */
import { expect, test } from "bun:test";
import { type DeltaEntry, LwwMap } from "../../../core/crdt/lww-map.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import { workClock } from "../../support/work-clock.ts";
import { orderedSource } from "../../../mesh/replication/snapshot-order.ts";
import { leafSource, OutStream, SCAN_PIECE, type Scannable, STEP_BUDGET_MS, type ChunkSource } from "../../../mesh/replication/stream.ts";
import type { Clock, Message } from "../../../mesh/types.ts";


/** Streams `source` to a peer that acks every chunk at once; the items, in order. */
function drain<T>(clock: Clock, sim: SimClock, source: ChunkSource<T>, chunk = 4000): T[] {
  const got: T[] = [];
  let finished: boolean | null = null;
  const s: OutStream<T> = new OutStream<T>(
    { clock, send: (_to, m: Message) => (got.push(...(m["items"] as T[])), clock.setTimer(0, () => s.ack(m["c"] as number)), true) },
    source,
    { to: "peer", chunk, window: 4, retransmitMs: 250, idleMs: 60_000, make: (c, last, items) => ({ t: "x", c, l: last, items }), done: (ok) => void (finished = ok) },
  );
  for (let k = 0; k < 100_000 && finished === null; k++) sim.advance(1);
  expect(finished as boolean | null).toBe(true);
  return got;
}

test("a leaf walk that skips almost everything stops each turn at the time budget, and still sends every item", () => {
  const { sim, clock, turns, spend } = workClock();
  const SLOTS = 1_000_000;
  // 1 ms per 1,000 slots looked at: the old walk's 65,536 slots a turn would be 65 ms.
  const map: Scannable = {
    layout: 0,
    scan(_want, from, maxScan, max, out) {
      let i = from;
      for (; i < SLOTS && i < from + maxScan && out.length < max; i++) if (i % 50_000 === 0) out.push({ k: `k${i}`, ts: { w: 1, c: i, n: "A#1" }, v: i });
      spend((i - from) / 1000);
      return i >= SLOTS ? -1 : i;
    },
  };
  const got = drain(clock, sim, leafSource(map, new Uint8Array(1)));
  expect(got.map((e) => e.k)).toEqual(Array.from({ length: 20 }, (_, n) => `k${n * 50_000}`));
  // Each turn: the budget, plus at most the piece under way when it ran out.
  expect(Math.max(...turns)).toBeLessThanOrEqual(STEP_BUDGET_MS + SCAN_PIECE / 1000);
});

test("a whole-map transfer's second phase stops each turn at the time budget, and still sends every key the walk did not", () => {
  const { sim, clock, turns, spend } = workClock();
  const map = new LwwMap();
  const e: DeltaEntry[] = [];
  for (let i = 0; i < 200_000; i++) e.push({ k: `person/p${i}`, ts: { w: 1, c: i, n: "A#1" }, v: "r" });
  map.absorb({ e });
  // A walk that sends nothing itself and covers every key but one in 1,000
  // (judging a key costs 2 us): phase 2 looks at all 200k keys and keeps 200.
  const order = {
    begin: () => ({
      next: () => true,
      covers: (key: string) => (spend(0.002), Number(key.slice(8)) % 1000 !== 0),
    }),
  };
  const want = new Uint8Array(map.buckets * 64).fill(1);
  const src = orderedSource({ map, onChange: () => () => {} }, order, want);
  const got = drain(clock, sim, src);
  src.stop();
  expect(got.map((x) => x.k).sort()).toEqual(Array.from({ length: 200 }, (_, n) => `person/p${n * 1000}`).sort());
  // Before the budget a turn judged up to 8 scans of a chunk's keys each (8 x 4,000 x 2 us = 64 ms).
  expect(Math.max(...turns)).toBeLessThanOrEqual(STEP_BUDGET_MS + SCAN_PIECE * 0.002);
});

test("a whole-map transfer's walk (the app's order) stops each turn at the time budget, and sends every key once", () => {
  const { sim, clock, turns, spend } = workClock();
  const map = new LwwMap();
  const e: DeltaEntry[] = [];
  for (let i = 0; i < 20_000; i++) e.push({ k: `person/p${i}`, ts: { w: 1, c: i, n: "A#1" }, v: "r" });
  map.absorb({ e });
  // The app's walk gives every key, at 10 us a key: a chunk's 4,000 in one turn was 40 ms.
  const order = {
    begin: () => {
      let i = 0;
      return {
        next: (out: string[], max: number) => {
          for (; out.length < max && i < 20_000; i++) (spend(0.01), out.push(`person/p${i}`));
          return i >= 20_000;
        },
        covers: () => true,
      };
    },
  };
  const src = orderedSource({ map, onChange: () => () => {} }, order, new Uint8Array(map.buckets * 64).fill(1));
  const got = drain(clock, sim, src);
  src.stop();
  expect(got.length).toBe(20_000);
  expect(new Set(got.map((x) => x.k)).size).toBe(20_000);
  expect(Math.max(...turns)).toBeLessThanOrEqual(STEP_BUDGET_MS + 512 * 0.01);
});

test("a stream goes on with its host's nextTurn when it has one (no zero timer), and stops once closed", () => {
  const sim = new SimClock(0);
  const queued: (() => void)[] = [];
  const sent: number[] = [];
  let timers = 0;
  const clock: Clock = { now: () => sim.now(), setTimer: (ms, fn) => (timers++, sim.setTimer(ms, fn)) };
  let next = 0;
  const source: ChunkSource<number> = {
    next(out, max) {
      while (max-- > 0 && next < 1000) out.push(next++);
      return next >= 1000;
    },
  };
  const s = new OutStream<number>({ clock, send: (_to, m) => (sent.push(m["c"] as number), true), nextTurn: (fn) => void queued.push(fn) }, source, {
    to: "peer", chunk: 100, window: 2, retransmitMs: 250, idleMs: 60_000, make: (c, last, items) => ({ t: "x", c, l: last, items }), done: () => {},
  });
  const turn = () => queued.splice(0).forEach((fn) => fn());
  turn();
  turn();
  expect(sent).toEqual([0, 1]); // the window
  s.ack(0);
  turn();
  expect(sent).toEqual([0, 1, 2]);
  expect(timers).toBe(0);
  s.ack(1);
  s.abort();
  turn();
  expect(sent).toEqual([0, 1, 2]); // closed: the queued turn does nothing
});
