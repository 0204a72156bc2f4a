/**
 * GET /readyz and roomy_node_ready read one judgement (http/readiness.ts):
 * joined and caught up, a voter if the leader is still to promote it, a
 * clock that lets it take part in writes, a Raft leader (with the Raft
 * lot), and the quorum lease, in that order, each failing one naming why.
 */
import { expect, test } from "bun:test";
import type { Node } from "../../mesh/node/node.ts";
import { NO_LEASE, readiness } from "../../http/readiness.ts";

interface Shape {
  ready: boolean; lot: "raft" | "crdt"; unavailable: string | null; lease: boolean;
  voters?: string[]; learners?: string[];
  /** members n1..n<live> alive; this node is `self` (default n3) */
  live?: number; self?: string;
  /** measured clock offsets of the peers at a1, a2, ... (theirs minus ours) */
  clocks?: Record<string, number>;
  /** a newer process under this node's name, heard of alive */
  taken?: { id: string; address: string };
  /** stop() called */
  draining?: boolean;
  /** the generation it is in (0: none yet; default 1) and its serving state and epoch */
  generation?: number; serving?: string; epoch?: number;
}

function fake(o: Shape): Node {
  const self = o.self ?? "n3";
  return {
    name: self,
    isReady: () => o.ready,
    isDraining: () => o.draining === true,
    stats: () => ({ registry: { serving: o.serving ?? "serving", epoch: o.epoch ?? 1 } }),
    config: { lot: o.lot, maxVoters: 5 },
    hlc: { maxDriftMs: 60_000 },
    membership: {
      self: () => ({ name: self, address: `a${self.slice(1)}` }),
      live: () => Array.from({ length: o.live ?? 3 }, (_, i) => ({ name: `n${i + 1}`, address: `a${i + 1}` })),
      clockOffset: (address: string) => o.clocks?.[address],
      supersededBy: () => o.taken ?? null,
    },
    consensus: { status: () => ({ unavailable: o.unavailable, generation: o.generation ?? 1, voters: o.voters ?? ["n1", "n2", "n3"], learners: o.learners ?? [] }) },
    registry: { authoritative: () => o.lease },
  } as unknown as Node;
}

test("not ready before joined and caught up, then for want of a leader, then for want of the lease; ready with all three", () => {
  expect(readiness(fake({ ready: false, lot: "raft", unavailable: "electing a leader", lease: false, serving: "pulling", epoch: 4 }))).toEqual({
    ready: false, reason: "catching up for epoch 4 from a majority of the holders",
  });
  expect(readiness(fake({ ready: true, lot: "raft", unavailable: "electing a leader", lease: false }))).toEqual({ ready: false, reason: "electing a leader" });
  expect(readiness(fake({ ready: true, lot: "raft", unavailable: null, lease: false }))).toEqual({ ready: false, reason: NO_LEASE });
  expect(readiness(fake({ ready: true, lot: "crdt", unavailable: "ignored without the Raft lot", lease: false }))).toEqual({ ready: false, reason: NO_LEASE });
  expect(readiness(fake({ ready: true, lot: "raft", unavailable: null, lease: true }))).toEqual({ ready: true });
  // The app's own extra condition (a draining server) comes first.
  expect(readiness(fake({ ready: true, lot: "raft", unavailable: null, lease: true }), false)).toEqual({ ready: false, reason: expect.stringContaining("own condition") });
});

test("a node not yet ready says what it waits for: its seeds or a generation, the leader adding it, its catch-up, or its drain", () => {
  const why = (o: Partial<Shape>): string | undefined => {
    const r = readiness(fake({ ready: false, lot: "raft", unavailable: null, lease: false, ...o }));
    expect(r.ready).toBe(false);
    return r.ready ? undefined : r.reason;
  };
  // No generation yet: what the generation keeper waits for (the seeds' majority, seeds not answering).
  const seeds = "waiting for a majority of this node's 4 seeds and itself to be here before starting a generation (2 of 5)";
  expect(why({ generation: 0, unavailable: seeds, serving: "outside" })).toBe(seeds);
  expect(why({ generation: 0, unavailable: "no peer reachable yet (seeds not answering)", serving: "outside" })).toBe("no peer reachable yet (seeds not answering)");
  // In a generation, not yet a holder: the leader adds it once it pulled the data.
  expect(why({ generation: 7, serving: "outside" })).toContain("not yet a holder of the committed configuration (generation 7)");
  expect(why({ serving: "fencing", epoch: 3 })).toContain("taking up its names for epoch 3 (fencing");
  expect(why({ serving: "waiting", epoch: 3 })).toContain("(waiting:");
  expect(why({ serving: "pulling", epoch: 5 })).toBe("catching up for epoch 5 from a majority of the holders");
  // Draining comes first, whatever else holds.
  expect(why({ draining: true, serving: "serving" })).toContain("draining");
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
  // Members are counted as the leader counts them: a fifth alive but not yet in the configuration
  // (restarted, still pulling the data) does not make the learner n4 wait for a promotion that will not come.
  expect(readiness(fake({ ...healthy, self: "n4", live: 5, voters: ["n1", "n2", "n3"], learners: ["n4"] }))).toEqual({ ready: true });
  expect(readiness(fake({ ...healthy, self: "n4", live: 5, voters: ["n1", "n2", "n3"], learners: ["n4", "n5"] })).ready).toBe(false);
});

test("a node whose clock keeps it out of writes is not ready, and says why and what to do; an odd peer does not make the others unready", () => {
  const healthy = { ready: true, lot: "crdt", unavailable: null, lease: true } as const;
  // 90 s ahead of both others: they refuse its writes.
  const ahead = readiness(fake({ ...healthy, clocks: { a1: -90_000, a2: -90_400 } }));
  expect(ahead.ready === false && ahead.reason).toContain("clock is 90 s ahead of most members'");
  expect(ahead.ready === false && ahead.reason).toContain("then restart this node");
  // 75-80 s behind both: it refuses theirs.
  const behind = readiness(fake({ ...healthy, clocks: { a1: 75_000, a2: 80_000 } }));
  expect(behind.ready === false && behind.reason).toContain("80 s behind the cluster's time");
  // One peer far off: that peer is the odd one, not this node.
  expect(readiness(fake({ ...healthy, clocks: { a1: -90_000 } }))).toEqual({ ready: true });
  expect(readiness(fake({ ...healthy, clocks: { a1: 90_000 } }))).toEqual({ ready: true });
  // Seconds apart, or unmeasured: within the limit.
  expect(readiness(fake({ ...healthy, clocks: { a1: 10_000, a2: -5_000 } }))).toEqual({ ready: true });
  expect(readiness(fake({ ...healthy }))).toEqual({ ready: true });
  // Two nodes 90 s apart: only the one ahead is unready (the one behind still takes its own writes and the other's).
  expect(readiness(fake({ ...healthy, self: "n2", live: 2, clocks: { a1: -90_000 } })).ready).toBe(false);
  expect(readiness(fake({ ...healthy, self: "n2", live: 2, clocks: { a1: 90_000 } }))).toEqual({ ready: true });
  // Gaps compound through the hybrid clocks: at {+50, 0, 0, 0, -15} s every pair but one is within 60 s, yet the
  // cluster's time becomes the +50 node's (most members take its writes), 65 s ahead of the -15 node.
  const slow = readiness(fake({ ...healthy, self: "n5", live: 5, clocks: { a1: 65_000, a2: 15_000, a3: 15_000, a4: 15_000 } }));
  expect(slow.ready === false && slow.reason).toContain("65 s behind the cluster's time");
  expect(readiness(fake({ ...healthy, self: "n2", live: 5, clocks: { a1: 50_000, a3: 0, a4: 0, a5: -15_000 } }))).toEqual({ ready: true });
});

test("a node whose name a newer process took (two nodes given one --name) is not ready, and says so, whatever else holds", () => {
  const healthy = { ready: true, lot: "raft", unavailable: null, lease: true } as const;
  const r = readiness(fake({ ...healthy, taken: { id: "018bcfe5f000bbbbbbbb", address: "10.0.0.9:4370" } }));
  expect(r.ready).toBe(false);
  expect(r.ready === false ? r.reason : "").toContain("another process took this node's name n3 (id 018bcfe5f000bbbbbbbb at 10.0.0.9:4370");
  expect(readiness(fake(healthy))).toEqual({ ready: true });
});
