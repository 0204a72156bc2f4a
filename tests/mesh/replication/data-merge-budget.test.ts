/**
 * A received batch of writes (`d`) is merged under a time budget per turn:
 * one batch of 4,000 entries took 20-65 ms of one turn at 1M keys, the
 * longest stalls of a loaded node. The clock here advances with the entries
 * merged, so each turn's length is known. Batches go in arrival order, each
 * is acked only once all of it is in, a fence raised meanwhile refuses the
 * rest, and a re-sent copy of a waiting batch is dropped.
 */
import { expect, test } from "bun:test";
import type { Delta, DeltaEntry } from "../../../core/crdt/lww-map.ts";
import { workClock } from "../../support/work-clock.ts";
import { MERGE_BUDGET_MS, MERGE_PIECE } from "../../../mesh/replication/chunk-queue.ts";
import { type DataMessage, DataInbox } from "../../../mesh/replication/data-inbox.ts";
import type { Message } from "../../../mesh/types.ts";

function entries(n: number, w: number): DeltaEntry[] {
  return Array.from({ length: n }, (_, k) => ({ k: `person/p${w}-${k}`, ts: { w, c: k, n: "A#1" }, v: `r${k % 7}` }));
}

function batch(first: number, e: DeltaEntry[], epoch = 1): DataMessage {
  return { t: "d", n: "A", i: "A#1", s: [first, 1], delta: { e }, e: epoch };
}

/** A clock the merging moves on (`msPerEntry`), an inbox over it, and what it did: keys merged in order, messages sent, each turn's length. */
function rig(msPerEntry: number) {
  const { sim, clock, turns, spend, spent } = workClock(true);
  const keys: string[] = [];
  const sent: Message[] = [];
  const fencing = { fence: 0, refused: 0, refuses: (stamp: number) => stamp < fencing.fence && ++fencing.refused > 0 };
  const host = {
    clock,
    self: { n: "B", i: "B#1" },
    mergeRemote: (d: Delta) => {
      spend(d.e.length * msPerEntry);
      for (const x of d.e) keys.push(x.k);
      return true;
    },
    send: (_to: string, msg: Message) => sent.push(msg) > 0,
    merged: () => {},
  };
  const inbox = new DataInbox(host, fencing);
  /** Push as a socket read would: its own turn, timed. */
  const arrive = (m: DataMessage): void => {
    const at = spent();
    inbox.push("A", m);
    if (spent() > at) turns.push(spent() - at);
  };
  return { sim, inbox, keys, sent, turns, fencing, arrive };
}

const acks = (sent: Message[]) => sent.filter((m) => m.t === "a").map((m) => (m["s"] as number[])[0]);

test("a 4,000-entry batch that takes 40 ms to merge goes over several turns of about the budget, in order, acked once at the end", () => {
  const { sim, keys, sent, turns, arrive } = rig(0.01); // 10 µs an entry: 40 ms a batch
  const big = entries(4000, 1000);
  const next = entries(300, 2000);
  arrive(batch(1, big));
  arrive(batch(4001, next));
  expect(acks(sent)).toEqual([]); // not in the turn it arrived
  for (let k = 0; k < 20; k++) sim.advance(1);
  expect(acks(sent)).toEqual([1, 4001]);
  expect(keys).toEqual([...big, ...next].map((x) => x.k));
  expect(turns.length).toBeGreaterThanOrEqual(5);
  for (const t of turns) expect(t).toBeLessThanOrEqual(MERGE_BUDGET_MS + MERGE_PIECE * 0.01 + 1e-9);
});

test("with nothing waiting, a small batch is merged and acked in the turn it arrived", () => {
  const { keys, sent, arrive } = rig(0.001);
  arrive(batch(7, entries(3, 5)));
  expect(keys.length).toBe(3);
  expect(acks(sent)).toEqual([7]);
});

test("a later batch waits for the one being merged, even when it is small", () => {
  const { sim, keys, sent, arrive } = rig(0.01);
  arrive(batch(1, entries(4000, 1000)));
  arrive(batch(4001, entries(1, 2000)));
  expect(keys.includes("person/p2000-0")).toBe(false);
  for (let k = 0; k < 20; k++) sim.advance(1);
  expect(acks(sent)).toEqual([1, 4001]);
  expect(keys[keys.length - 1]).toBe("person/p2000-0");
});

test("a fence raised while a batch is half merged refuses the rest: no more of it is merged, and it is refused, not acked", () => {
  const { sim, keys, sent, fencing, arrive } = rig(0.01);
  arrive(batch(1, entries(4000, 1000), 1));
  const before = keys.length;
  expect(before).toBeGreaterThan(0);
  expect(before).toBeLessThan(4000);
  fencing.fence = 2; // a new owner asked us to adopt its epoch
  for (let k = 0; k < 20; k++) sim.advance(1);
  expect(keys.length).toBe(before);
  expect(acks(sent)).toEqual([]);
  expect(sent.filter((m) => m.t === "fx").map((m) => m["e"])).toEqual([2]);
  expect(fencing.refused).toBe(1);
});

test("a batch re-sent while its first copy still waits is dropped: merged and acked once", () => {
  const { sim, inbox, keys, sent, arrive } = rig(0.01);
  const e = entries(4000, 1000);
  arrive(batch(1, e));
  arrive(batch(1, e));
  expect(inbox.duplicates).toBe(1);
  for (let k = 0; k < 20; k++) sim.advance(1);
  expect(acks(sent)).toEqual([1]);
  expect(keys.length).toBe(4000);
});
