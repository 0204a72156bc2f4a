import { describe, expect, test } from "bun:test";
import { createCatchUpGate } from "../../mesh/registry/catchup.ts";
import { CopyFilter } from "../../mesh/registry/dedupe.ts";
import { createQuorumLease } from "../../mesh/registry/lease.ts";
import { SimClock } from "../../mesh/sim/clock.ts";
import type { Address, Message, Transport } from "../../mesh/types.ts";

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

  test("catch-up gate: callers during a pull wait for the next one, and share it", async () => {
    let runs = 0;
    const resolvers: (() => void)[] = [];
    const gate = createCatchUpGate(() => {
      runs++;
      return new Promise<void>((r) => resolvers.push(r));
    });
    const a = gate.after();
    const b = gate.after(); // the first pull already started: b needs the next
    const c = gate.after();
    expect(runs).toBe(1);
    let bDone = false;
    void b.then(() => (bDone = true));
    resolvers[0]!();
    await a;
    expect(bDone).toBe(false);
    expect(runs).toBe(2);
    resolvers[1]!();
    await Promise.all([b, c]);
    expect(runs).toBe(2);
  });

  test("lease: held with a majority heard within leaseMs (counted from ping send time); regaining it bumps the epoch", () => {
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
      peers: () => [
        { name: "n1", address: "a1" },
        { name: "n2", address: "a2" },
        { name: "n3", address: "a3" },
        { name: "n4", address: "a4" },
      ],
      voters: () => ["n0", "n1", "n2", "n3", "n4"],
      draining: () => false,
    });
    expect(lease.canServe()).toBe(false);
    expect(lease.epoch()).toBe(0);
    const pingAt = clock.now();
    clock.advance(100);
    lease.onPong({ t: "lk", s: pingAt, n: "n1" });
    expect(lease.canServe()).toBe(false); // 2 of 5
    lease.onPong({ t: "lk", s: pingAt, n: "n2" });
    expect(lease.canServe()).toBe(true); // 3 of 5
    expect(lease.epoch()).toBe(1);
    // Valid until the ping's send time + leaseMs, not the pong's arrival + leaseMs.
    expect(lease.servingUntil()).toBe(pingAt + 1000);
    clock.advance(901);
    expect(lease.canServe()).toBe(false);
    lease.onPong({ t: "lk", s: clock.now() - 10, n: "n3" });
    lease.onPong({ t: "lk", s: clock.now() - 10, n: "n4" });
    expect(lease.canServe()).toBe(true);
    expect(lease.epoch()).toBe(2);
    // A pong claiming a future send time is ignored.
    lease.onPong({ t: "lk", s: clock.now() + 5000, n: "n1" });
    expect(lease.servingUntil()).toBe(clock.now() - 10 + 1000);
    // Answering pings vouches for the pinger, for about a lease.
    lease.onPing("a1", { t: "lp", s: 1, n: "n1" });
    expect(lease.vouches("n1")).toBe(true);
    clock.advance(2000);
    expect(lease.vouches("n1")).toBe(false);
    lease.stop();
  });
});
