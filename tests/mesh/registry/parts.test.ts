import { describe, expect, test } from "bun:test";
import { CopyFilter } from "../../../mesh/registry/dedupe.ts";
import { createQuorumLease } from "../../../mesh/registry/lease.ts";
import type { LeasePingMsg } from "../../../mesh/registry/messages.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import type { Address, Message, Transport } from "../../../mesh/types.ts";

describe("registry parts", () => {
  test("copy filter: each (origin, id, hop) passes once, in any order within the window", () => {
    const f = new CopyFilter();
    const order = [5, 3, 9, 4, 7, 6, 8, 10];
    for (const id of order) expect(f.firstSight("a", id, 0, 0)).toBe(true);
    for (const id of order) expect(f.firstSight("a", id, 0, 0)).toBe(false);
    // Another hop of the same call, or another origin, is a different copy.
    expect(f.firstSight("a", 5, 1, 0)).toBe(true);
    expect(f.firstSight("b", 5, 0, 0)).toBe(true);
    // A restarted origin's ids start far above: accepted.
    expect(f.firstSight("a", 10 + 5_000_000, 0, 0)).toBe(true);
    // Far older than the window: treated as a late duplicate.
    expect(f.firstSight("a", 11, 0, 0)).toBe(false);
  });

  test("lease: held with a majority of the holders heard within leaseMs, counted from the ping's send time, and only from pongs at this node's generation and epoch", () => {
    const clock = new SimClock(0);
    const sent: [Address, Message][] = [];
    const transport: Transport = {
      local: "me",
      send: (to, msg) => (sent.push([to, msg]), true),
      onMessage: () => {},
      close: () => Promise.resolve(),
    };
    let stamp = { g: 1, e: 3 };
    let gains = 0;
    const lease = createQuorumLease({
      self: "n0",
      transport,
      clock,
      leaseMs: 1000,
      peers: () => [1, 2, 3, 4].map((i) => ({ name: `n${i}`, address: `a${i}` })),
      holders: () => ["n0", "n1", "n2", "n3", "n4"],
      stamp: () => stamp,
      fenceStamp: () => stamp,
      draining: () => false,
      served: () => 3,
    });
    lease.onGain(() => gains++);
    // Pings carry the stamp.
    expect(sent[0]![1]).toMatchObject({ t: "lp", n: "n0", g: 1, e: 3 });
    expect(lease.canServe()).toBe(false);
    const pingAt = clock.now();
    clock.advance(100);
    // A pong from a peer at a newer epoch (or another generation) does not count.
    lease.onPong({ t: "lk", s: pingAt, n: "n1", g: 1, e: 4 });
    lease.onPong({ t: "lk", s: pingAt, n: "n2", g: 2, e: 3 });
    expect(lease.canServe()).toBe(false);
    lease.onPong({ t: "lk", s: pingAt, n: "n1", g: 1, e: 3 });
    expect(lease.canServe()).toBe(false); // 2 of 5
    lease.onPong({ t: "lk", s: pingAt, n: "n2", g: 1, e: 3 });
    expect(lease.canServe()).toBe(true); // 3 of 5
    expect(gains).toBe(1);
    // Valid until the ping's send time + leaseMs, not the pong's arrival + leaseMs.
    expect(lease.servingUntil()).toBe(pingAt + 1000);
    clock.advance(901);
    expect(lease.canServe()).toBe(false);
    // A lapse is regained by the next pongs, nothing else.
    lease.onPong({ t: "lk", s: clock.now() - 10, n: "n3", g: 1, e: 3 });
    lease.onPong({ t: "lk", s: clock.now() - 10, n: "n4", g: 1, e: 3 });
    expect(lease.canServe()).toBe(true);
    expect(gains).toBe(2);
    // A pong claiming a future send time is ignored.
    lease.onPong({ t: "lk", s: clock.now() + 5000, n: "n1", g: 1, e: 3 });
    expect(lease.servingUntil()).toBe(clock.now() - 10 + 1000);
    // A new epoch: pongs heard at the old one are forgotten at once.
    stamp = { g: 1, e: 4 };
    lease.recompute();
    expect(lease.canServe()).toBe(false);
    lease.stop();
  });

  test("lease: every pong is a vouch remembered with the pinger's stamp; staleFor says how long a vouch given at an older epoch may still count", () => {
    const clock = new SimClock(0);
    const sent: [Address, Message][] = [];
    const transport: Transport = {
      local: "me",
      send: (to, msg) => (sent.push([to, msg]), true),
      onMessage: () => {},
      close: () => Promise.resolve(),
    };
    const lease = createQuorumLease({
      self: "n0",
      transport,
      clock,
      leaseMs: 1000,
      peers: () => [],
      holders: () => ["n0", "n1", "n2"],
      stamp: () => ({ g: 1, e: 5 }),
      // This node adopted fence 6: its pongs say so, and a node at 5 will not count them.
      fenceStamp: () => ({ g: 1, e: 6 }),
      draining: () => false,
      served: () => 5,
    });
    lease.onPing("a1", { t: "lp", s: 7, n: "n1", g: 1, e: 5, r: 5 });
    expect(sent.find(([, m]) => m.t === "lk")).toEqual(["a1", { t: "lk", s: 7, n: "n0", g: 1, e: 6 }]);
    lease.onPing("a2", { t: "lp", s: 7, n: "n2", g: 1, e: 6, r: 4 });
    expect(lease.servedBy("n1", 1)).toBe(5);
    expect(lease.servedBy("n2", 1)).toBe(4);
    expect(lease.servedBy("n1", 2)).toBe(-1);
    clock.advance(400);
    // For epoch 6: n1 was vouched for at 5, 400 ms ago: it may count on it for the rest of the window (leaseMs + margin).
    const w = lease.staleFor({ g: 1, e: 6 });
    expect(w).toBeGreaterThanOrEqual(600);
    expect(w).toBeLessThanOrEqual(600 + 150);
    // Nobody was vouched for below epoch 5; and another generation's stamps are not older.
    expect(lease.staleFor({ g: 1, e: 5 })).toBe(0);
    expect(lease.staleFor({ g: 2, e: 7 })).toBe(0);
    // n1 pings again at 6: its vouch is no longer stale.
    lease.onPing("a1", { t: "lp", s: 8, n: "n1", g: 1, e: 6 });
    expect(lease.staleFor({ g: 1, e: 6 })).toBe(0);
    clock.advance(2000);
    lease.onPing("a1", { t: "lp", s: 9, n: "n1", g: 1, e: 5 });
    clock.advance(2000);
    // Past the window, an old vouch no longer counts.
    expect(lease.staleFor({ g: 1, e: 6 })).toBe(0);
    lease.stop();
  });

  test("lease: a holder that pings at this node's new epoch is pinged back at once, so the lease returns in a round trip, not at the next round", () => {
    const clock = new SimClock(0);
    const sent: [Address, Message][] = [];
    const transport: Transport = {
      local: "me",
      send: (to, msg) => (sent.push([to, msg]), true),
      onMessage: () => {},
      close: () => Promise.resolve(),
    };
    let stamp = { g: 1, e: 3 };
    const lease = createQuorumLease({
      self: "n0",
      transport,
      clock,
      leaseMs: 1000,
      peers: () => [1, 2].map((i) => ({ name: `n${i}`, address: `a${i}` })),
      holders: () => ["n0", "n1", "n2"],
      stamp: () => stamp,
      fenceStamp: () => stamp,
      draining: () => false,
      served: () => 3,
    });
    const pingsTo = (a: string): number => sent.filter(([to, m]) => to === a && m.t === "lp").length;
    lease.onPong({ t: "lk", s: 0, n: "n1", g: 1, e: 3 });
    expect(lease.canServe()).toBe(true);
    // This node (the leader) commits epoch 4 first: the pongs at 3 no longer count, and its pings to n1, still at 3, are answered at 3.
    clock.advance(10);
    stamp = { g: 1, e: 4 };
    lease.recompute();
    lease.pingNow();
    const askedAt = clock.now();
    clock.advance(1);
    lease.onPong({ t: "lk", s: askedAt, n: "n1", g: 1, e: 3 });
    expect(lease.canServe()).toBe(false);
    // n1 learns epoch 4 and pings: it is pinged back at once, and its pong gives the lease back, well before the next round (250 ms).
    clock.advance(20);
    const before = pingsTo("a1");
    lease.onPing("a1", { t: "lp", s: clock.now(), n: "n1", g: 1, e: 4, r: 3 });
    expect(pingsTo("a1")).toBe(before + 1);
    const back = sent.at(-1)![1] as LeasePingMsg;
    clock.advance(1);
    lease.onPong({ t: "lk", s: back.s, n: "n1", g: 1, e: 4 });
    expect(lease.canServe()).toBe(true);
    expect(clock.now() - askedAt).toBeLessThan(50);
    // Once heard, its further pings are only answered; a ping at another epoch, or from a non-holder, is never pinged back.
    lease.onPing("a1", { t: "lp", s: clock.now(), n: "n1", g: 1, e: 4, r: 4 });
    lease.onPing("a2", { t: "lp", s: clock.now(), n: "n2", g: 1, e: 3, r: 3 });
    lease.onPing("a9", { t: "lp", s: clock.now(), n: "n9", g: 1, e: 4, r: 4 });
    expect(pingsTo("a1")).toBe(before + 1);
    expect(pingsTo("a9")).toBe(0);
    // Pinged back at most once per 50 ms while its pong has not come.
    const n2Before = pingsTo("a2");
    lease.onPing("a2", { t: "lp", s: clock.now(), n: "n2", g: 1, e: 4, r: 4 });
    lease.onPing("a2", { t: "lp", s: clock.now(), n: "n2", g: 1, e: 4, r: 4 });
    expect(pingsTo("a2")).toBe(n2Before + 1);
    clock.advance(50);
    lease.onPing("a2", { t: "lp", s: clock.now(), n: "n2", g: 1, e: 4, r: 4 });
    expect(pingsTo("a2")).toBe(n2Before + 2);
    lease.stop();
  });
});
