/**
 * GET /readyz and roomy_node_ready read one judgement (http/readiness.ts):
 * joined and caught up, a Raft leader (with the Raft lot), and the quorum
 * lease, in that order, each failing one naming why.
 */
import { expect, test } from "bun:test";
import type { Node } from "../../mesh/node/node.ts";
import { NO_LEASE, readiness } from "../../http/readiness.ts";

interface Shape { ready: boolean; lot: "raft" | "crdt"; unavailable: string | null; lease: boolean; voters?: string[]; learners?: string[]; live?: number; clocks?: Record<string, number> }

function fake(o: Shape): Node {
  return {
    name: "n3",
    isReady: () => o.ready,
    config: { lot: o.lot, maxVoters: 5 },
    hlc: { maxDriftMs: 60_000 },
    membership: {
      self: () => ({ name: "n3", address: "a3" }),
      live: () => Array.from({ length: o.live ?? 3 }, (_, i) => ({ name: `n${i + 1}`, address: `a${i + 1}` })),
      clockCorrection: (address: string) => o.clocks?.[address] ?? 0,
    },
    consensus: { status: () => ({ unavailable: o.unavailable, voters: o.voters ?? ["n1", "n2", "n3"], learners: o.learners ?? [] }) },
    registry: { authoritative: () => o.lease },
  } as unknown as Node;
}

test("not ready before joined and caught up, then for want of a leader, then for want of the lease; ready with all three", () => {
  expect(readiness(fake({ ready: false, lot: "raft", unavailable: "electing a leader", lease: false }))).toEqual({ ready: false });
  expect(readiness(fake({ ready: true, lot: "raft", unavailable: "electing a leader", lease: false }))).toEqual({ ready: false, reason: "electing a leader" });
  expect(readiness(fake({ ready: true, lot: "raft", unavailable: null, lease: false }))).toEqual({ ready: false, reason: NO_LEASE });
  expect(readiness(fake({ ready: true, lot: "crdt", unavailable: "ignored without the Raft lot", lease: false }))).toEqual({ ready: false, reason: NO_LEASE });
  expect(readiness(fake({ ready: true, lot: "raft", unavailable: null, lease: true }))).toEqual({ ready: true });
  // The app's own extra condition (a draining server) comes first.
  expect(readiness(fake({ ready: true, lot: "raft", unavailable: null, lease: true }), false)).toEqual({ ready: false });
});

test("a learner the leader is still to promote is not ready: all three of a new cluster ready means all three vote", () => {
  const healthy = { ready: true, lot: "crdt", unavailable: null, lease: true } as const;
  const pending = readiness(fake({ ...healthy, voters: ["n1", "n2"], learners: ["n3"] }));
  expect(pending.ready).toBe(false);
  expect(pending.ready === false && pending.reason).toContain("learner still to be promoted");
  // Promoted: ready.
  expect(readiness(fake({ ...healthy, voters: ["n1", "n2", "n3"], learners: [] }))).toEqual({ ready: true });
  // Two members alive aim at one voter: the learner of a 2-node cluster is ready.
  expect(readiness(fake({ ...healthy, voters: ["n1"], learners: ["n3"], live: 2 }))).toEqual({ ready: true });
  // A fourth member stays a learner with three voters (an even count is no safer): ready.
  expect(readiness(fake({ ...healthy, voters: ["n1", "n2", "n4"], learners: ["n3"], live: 4 }))).toEqual({ ready: true });
  // Another learner is pending, not this one: this one (a voter) is ready.
  expect(readiness(fake({ ...healthy, voters: ["n1", "n3"], learners: ["n2"] }))).toEqual({ ready: true });
});

test("a node whose clock is past the hybrid clock's limit from most members' is not ready, and says by how much; one odd peer does not make it so", () => {
  const healthy = { ready: true, lot: "crdt", unavailable: null, lease: true } as const;
  const ahead = readiness(fake({ ...healthy, clocks: { a1: -90_000, a2: -90_400 } }));
  expect(ahead.ready === false && ahead.reason).toContain("clock is 90 s ahead of most members'");
  const behind = readiness(fake({ ...healthy, clocks: { a1: 75_000, a2: 80_000 } }));
  expect(behind.ready === false && behind.reason).toContain("s behind most members'");
  // One peer far off: that peer is the odd one, not this node.
  expect(readiness(fake({ ...healthy, clocks: { a1: -90_000 } }))).toEqual({ ready: true });
  // Seconds apart: within the limit.
  expect(readiness(fake({ ...healthy, clocks: { a1: 10_000, a2: -5_000 } }))).toEqual({ ready: true });
});
