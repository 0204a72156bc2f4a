/**
 * A stream to a busy receiver: resends back off while no ack comes (a pause
 * of the receiver must not make it decode and merge the window again and
 * again), and a re-sent chunk that finds its first copy still queued is
 * merged once.
 */
import { expect, test } from "bun:test";
import type { DeltaEntry } from "../../../core/crdt/lww-map.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import { ChunkQueue, type ChunkMessage } from "../../../mesh/replication/chunk-queue.ts";
import { type ChunkSource, OutStream } from "../../../mesh/replication/stream.ts";
import type { Address, Message } from "../../../mesh/types.ts";

function counting(n: number): ChunkSource<number> {
  let next = 0;
  return {
    next(out, max) {
      while (max-- > 0 && next < n) out.push(next++);
      return next >= n;
    },
  };
}

function stream(clock: SimClock, sent: { at: number; c: number }[], n = 8) {
  const result: { ok: boolean | null } = { ok: null };
  const s = new OutStream<number>({ clock, send: (_to: Address, m: Message) => (sent.push({ at: clock.now(), c: m["c"] as number }), true) }, counting(n), {
    to: "peer",
    chunk: 2,
    window: 2,
    retransmitMs: 250,
    idleMs: 3000,
    make: (c, last, items) => ({ t: "x", c, l: last, items }),
    done: (ok) => void (result.ok = ok),
  });
  return { s, result };
}

test("a stream without acks re-sends its window after 250, 500, 1000, 2000 ms more, not every 250 ms", () => {
  const clock = new SimClock(0);
  const sent: { at: number; c: number }[] = [];
  const { s, result } = stream(clock, sent);
  for (let t = 0; t < 2900; t += 50) {
    clock.advance(50);
    s.tick(clock.now());
  }
  // First sends: chunks 0 and 1 (the window), at once.
  expect(sent.filter((x) => x.at < 50).map((x) => x.c)).toEqual([0, 1]);
  const resendTimes = [...new Set(sent.filter((x) => x.at >= 50).map((x) => x.at))];
  expect(resendTimes).toEqual([250, 750, 1750]);
  // Each resend sends the whole unacked window.
  expect(sent.length).toBe(2 + 2 * 3);
  expect(result.ok).toBe(null);
  clock.advance(200);
  s.tick(clock.now());
  expect(result.ok).toBe(false); // idle: abandoned at idleMs
});

test("an ack resets the backoff: the next silence is re-sent after retransmitMs again", () => {
  const clock = new SimClock(0);
  const sent: { at: number; c: number }[] = [];
  const { s } = stream(clock, sent);
  const run = (ms: number) => {
    for (let t = 0; t < ms; t += 50) {
      clock.advance(50);
      s.tick(clock.now());
    }
  };
  run(800); // resends at 250 and 750
  expect(sent.filter((x) => x.at > 0).map((x) => x.at)).toEqual([250, 250, 750, 750]);
  const before = sent.length;
  s.ack(0);
  const ackedAt = clock.now();
  run(300); // the stream sends chunk 2 on a zero timer
  const later = sent.slice(before);
  expect(later[0]!.c).toBe(2);
  // Chunks 1 and 2 unacked: re-sent retransmitMs after the last send, not 1000 ms after.
  const resends = later.slice(1);
  expect(resends.map((x) => x.c)).toEqual([1, 2]);
  expect(resends[0]!.at - ackedAt).toBeLessThanOrEqual(300);
});

function entries(n: number, w: number): DeltaEntry[] {
  return Array.from({ length: n }, (_, k) => ({ k: `person/p${k}`, ts: { w, c: k, n: "A#1" }, v: `r${k % 7}` }));
}

function chunk(c: number, e: DeltaEntry[], r = 5): ChunkMessage {
  return { t: "ae", n: "A", i: "A#1", r, c, l: false, delta: { e }, hz: null, u: null };
}

test("a chunk that comes again while its first copy is still queued is merged once", () => {
  const clock = new SimClock(0);
  const merged: number[] = [];
  const q = new ChunkQueue(clock, { piece: () => true, merged: (_from, m) => void merged.push(m.c) });
  const e0 = entries(100, 1000);
  const e1 = entries(100, 2000);
  q.push("A", chunk(0, e0));
  q.push("A", chunk(1, e1));
  // The re-sent copies: decoded afresh (equal, not the same objects).
  q.push("A", chunk(0, e0.map((x) => ({ ...x, ts: { ...x.ts } }))));
  q.push("A", chunk(1, e1.map((x) => ({ ...x, ts: { ...x.ts } }))));
  clock.advance(10);
  expect(merged).toEqual([0, 1]);
  expect(q.duplicates).toBe(2);
  // Once merged, a copy is merged again (and acked: the sender may have missed the ack).
  q.push("A", chunk(0, e0));
  clock.advance(10);
  expect(merged).toEqual([0, 1, 0]);
});

test("the same round and index with other entries, or from another process, is no copy: both are merged", () => {
  const clock = new SimClock(0);
  const merged: string[] = [];
  const q = new ChunkQueue(clock, { piece: () => true, merged: (_from, m) => void merged.push(`${m.i}/${m.c}/${m.delta.e[0]!.ts.w}`) });
  q.push("A", chunk(0, entries(10, 1000)));
  q.push("A", chunk(0, entries(10, 1001))); // a restarted answer reusing the round: newer entries
  q.push("A", { ...chunk(0, entries(10, 1000)), i: "A#2" }); // A restarted
  q.push("A", { ...chunk(0, entries(10, 1000)), t: "ap" }); // a push back, not an answer
  q.push("A", { ...chunk(0, entries(10, 1000)), r: 6 }); // another round
  clock.advance(20);
  expect(merged.length).toBe(5);
  expect(q.duplicates).toBe(0);
});
