/**
 * Building a batch (join, encode) of 4,000 entries takes a few ms, and an
 * ack that opened a whole window built eight in one turn, each peer its own
 * copy. A pump stops once its budget is used up and asks to go on later (a
 * retransmit leaves what is past its budget in flight for the next tick);
 * a batch built for one peer is sent as the same bytes to the other.
 * The clock here advances with each batch built (3 ms), so the budget bites.
 */
import { expect, test } from "bun:test";
import { PendingWrites } from "../../../mesh/replication/acks.ts";
import { resolveConfig } from "../../../mesh/replication/config.ts";
import { Outbox, PUMP_BUDGET_MS } from "../../../mesh/replication/outbox.ts";
import type { Clock, Message } from "../../../mesh/types.ts";

function rig(batches: number) {
  let now = 0;
  const clock: Clock = { now: () => now, setTimer: () => ({ cancel: () => {} }) };
  const config = resolveConfig({ maxBatchEntries: 100, windowEntries: 100 * batches });
  const pending = new PendingWrites(clock, 60_000, () => {});
  const sent: { to: string; msg: Message }[] = [];
  let built = 0;
  let more = 0;
  const send = (to: string, msg: Message): boolean => {
    if (!sent.some((s) => s.msg === msg)) (built++, (now += 3)); // a new batch: built and encoded
    sent.push({ to, msg });
    return true;
  };
  const outbox = new Outbox({ n: "A", i: "A#1" }, pending, send, clock, config, () => void more++);
  const b = outbox.open("B", "B#1", "b");
  const c = outbox.open("C", "C#1", "c");
  for (let k = 0; k < batches * 100; k++) {
    const { pw } = pending.add({ e: [{ k: `k${k}`, ts: { w: 1, c: k, n: "A#1" }, v: k }] }, 1, false);
    outbox.enqueue(pw.seq);
  }
  return { outbox, b, c, sent, built: () => built, more: () => more, wait: (ms: number) => void (now += ms) };
}

test("a pump that used up its budget stops, asks to go on later, and the next pump goes on from there", () => {
  const { outbox, b, sent, more } = rig(8);
  outbox.pump(b);
  const first = sent.length;
  expect(first).toBe(Math.ceil(PUMP_BUDGET_MS / 3));
  expect(first).toBeLessThan(8);
  expect(more()).toBe(1);
  while (b.queue.length > 0) outbox.pump(b);
  expect(sent.filter((s) => s.to === "b").length).toBe(8);
  expect(b.inflightEntries).toBe(800);
});

test("the other peer gets the batches already built as the same messages, built once", () => {
  const { outbox, b, c, sent, built } = rig(8);
  while (b.queue.length > 0) outbox.pump(b);
  expect(built()).toBe(8);
  while (c.queue.length > 0) outbox.pump(c);
  expect(built()).toBe(8);
  const toB = sent.filter((s) => s.to === "b").map((s) => s.msg);
  const toC = sent.filter((s) => s.to === "c").map((s) => s.msg);
  expect(toC).toEqual(toB);
  for (let k = 0; k < toB.length; k++) expect(toC[k]).toBe(toB[k]!);
});

test("a retransmit re-sends what is due until its budget is used up; the rest waits in flight for the next tick", () => {
  const { outbox, b, c, sent, wait } = rig(8);
  outbox.close("C");
  while (b.queue.length > 0) outbox.pump(b);
  expect(c.queue.length).toBe(800); // closed: not sent to
  wait(10_000); // all 8 due
  const before = sent.length;
  outbox.retransmit();
  const first = sent.length - before;
  expect(first).toBeGreaterThan(0);
  expect(first).toBeLessThan(8);
  expect(b.inflightEntries).toBe(800); // the rest still in flight, re-sent or not
  for (let k = 0; k < 8; k++) outbox.retransmit(); // the ones re-sent are not due again yet
  expect(outbox.counters.retransmits).toBe(800);
});
