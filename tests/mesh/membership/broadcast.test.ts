import { describe, expect, test } from "bun:test";
import { BroadcastQueue, type DoneReason } from "../../../mesh/membership/broadcast.ts";
import { makeConfig, retransmitLimit } from "../../../mesh/membership/config.ts";
import { ALIVE, SUSPECT, type Update } from "../../../mesh/membership/messages.ts";

const up = (n: string, c = 0, k: Update["k"] = ALIVE): Update => ({ k, n, i: "0123456789abcdef0123", a: `${n}:4370`, c });

describe("broadcast queue", () => {
  test("retransmit limit is mult * ceil(log10(n + 1))", () => {
    const cfg = makeConfig({ retransmitMult: 4 });
    expect(retransmitLimit(cfg, 1)).toBe(4);
    expect(retransmitLimit(cfg, 9)).toBe(4);
    expect(retransmitLimit(cfg, 10)).toBe(8);
    expect(retransmitLimit(cfg, 100)).toBe(12);
    expect(retransmitLimit(cfg, 1000)).toBe(16);
  });

  test("an update is sent `limit` times, then leaves the queue with reason 'sent'", () => {
    const q = new BroadcastQueue();
    const done: DoneReason[] = [];
    q.enqueue(up("a"), (r) => done.push(r));
    for (let i = 0; i < 3; i++) expect(q.take(1000, 3, `peer${i}`)).toHaveLength(1);
    expect(q.size).toBe(0);
    expect(q.take(1000, 3, "peer9")).toEqual([]);
    expect(done).toEqual(["sent"]);
  });

  test("a newer update about the same member replaces the queued one", () => {
    const q = new BroadcastQueue();
    const done: DoneReason[] = [];
    q.enqueue(up("a", 1, SUSPECT), (r) => done.push(r));
    q.take(1000, 5, "p1");
    q.enqueue(up("a", 2, ALIVE));
    expect(done).toEqual(["replaced"]);
    expect(q.size).toBe(1);
    expect(q.transmits("a")).toBe(0);
    expect(q.take(1000, 5, "p1")).toEqual([up("a", 2, ALIVE)]);
  });

  test("updates sent fewest times go first", () => {
    const q = new BroadcastQueue();
    q.enqueue(up("old"));
    q.take(1000, 10, "p1");
    q.take(1000, 10, "p2");
    q.enqueue(up("new"));
    // Room for one update only.
    const one = q.take(80, 10, "p3");
    expect(one.map((u) => u.n)).toEqual(["new"]);
  });

  test("the byte budget bounds what one message carries", () => {
    const q = new BroadcastQueue();
    for (let i = 0; i < 100; i++) q.enqueue(up(`member-${i}`));
    const taken = q.take(1000, 4, "p");
    expect(taken.length).toBeGreaterThan(5);
    expect(taken.length).toBeLessThan(100);
    expect(q.take(10, 4, "p2")).toEqual([]);
  });

  test("an update is never piggybacked twice to the same peer", () => {
    const q = new BroadcastQueue();
    q.enqueue(up("a"));
    expect(q.take(1000, 10, "p1")).toHaveLength(1);
    expect(q.take(1000, 10, "p1")).toEqual([]);
    expect(q.take(1000, 10, "p2")).toHaveLength(1);
    expect(q.transmits("a")).toBe(2);
  });

  test("when the cluster shrinks, updates already past the new limit are dropped", () => {
    const q = new BroadcastQueue();
    q.enqueue(up("a"));
    for (let i = 0; i < 5; i++) q.take(1000, 12, `p${i}`);
    expect(q.transmits("a")).toBe(5);
    expect(q.take(1000, 4, "p9")).toEqual([]);
    expect(q.size).toBe(0);
  });

  test("the queue is bounded: past maxItems the most-sent update is dropped", () => {
    const q = new BroadcastQueue(3);
    const done: string[] = [];
    q.enqueue(up("a"), (r) => done.push(`a:${r}`));
    q.take(1000, 10, "p");
    q.enqueue(up("b"));
    q.enqueue(up("c"));
    q.enqueue(up("d"));
    expect(q.size).toBe(3);
    expect(done).toEqual(["a:dropped"]);
    expect(q.peek("a")).toBeUndefined();
  });
});
