/**
 * GET /readyz and roomy_node_ready read one judgement (http/readiness.ts):
 * joined and caught up, a Raft leader (with the Raft lot), and the quorum
 * lease, in that order, each failing one naming why.
 */
import { expect, test } from "bun:test";
import type { Node } from "../../mesh/node/node.ts";
import { NO_LEASE, readiness } from "../../http/readiness.ts";

function fake(o: { ready: boolean; lot: "raft" | "crdt"; unavailable: string | null; lease: boolean }): Node {
  return {
    isReady: () => o.ready,
    config: { lot: o.lot },
    consensus: { status: () => ({ unavailable: o.unavailable }) },
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
