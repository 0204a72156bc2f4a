/**
 * Whether the node should be sent requests (GET /readyz, roomy_node_ready):
 * started, joined and caught up; a voter, if the leader is still to promote
 * it; a clock within the hybrid clock's tolerance of most members' (or
 * every write it makes is refused); with the Raft lot, a leader it can
 * reach; and the quorum lease, so a
 * node woken from a freeze (SIGSTOP, a long pause) or cut off from the
 * majority is not routed to while its reads and calls could only answer
 * `unavailable`.
 */
import { awaitingPromotion } from "../mesh/consensus/reconfigure.ts";
import type { Node } from "../mesh/node/node.ts";

export type Readiness = { ready: true } | { ready: false; reason?: string };

export const NO_LEASE = "no quorum lease: a majority of the holders has not answered this node within the lease (woken from a pause, or cut off)";

export function readiness(node: Node, extra = true): Readiness {
  if (!node.isReady() || !extra) return { ready: false };
  const status = node.consensus.status();
  const promoting = promotionPending(node, status.voters.length, status.learners.includes(node.name));
  if (promoting !== null) return { ready: false, reason: promoting };
  const clock = clockOff(node);
  if (clock !== null) return { ready: false, reason: clock };
  const reason = node.config.lot === "raft" ? status.unavailable : null;
  if (reason !== null) return { ready: false, reason };
  if (!node.registry.authoritative()) return { ready: false, reason: NO_LEASE };
  return { ready: true };
}

function promotionPending(node: Node, voters: number, selfLearner: boolean): string | null {
  const live = node.membership.live().length;
  if (!awaitingPromotion({ voters, selfLearner, live, maxVoters: node.config.maxVoters })) return null;
  return `a learner still to be promoted to voter (${voters} voters, ${live} members alive)`;
}

/**
 * When this node's clock is further from most members' than the hybrid
 * clock accepts (measured on membership probes), its writes are refused by
 * the others (or theirs by it): say so, naming the gap.
 */
function clockOff(node: Node): string | null {
  const correction = node.membership.clockCorrection;
  if (correction === undefined) return null;
  const self = node.membership.self().address;
  const peers = node.membership.live().filter((m) => m.address !== self);
  const limit = node.hlc.maxDriftMs;
  const gaps = peers.map((m) => correction(m.address)).filter((g) => Math.abs(g) > limit);
  // This node and the peers it agrees with are no majority of the members alive.
  if (gaps.length === 0 || peers.length + 1 - gaps.length > Math.floor((peers.length + 1) / 2)) return null;
  const mid = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
  const s = Math.round(Math.abs(mid) / 1000);
  const refused = mid < 0 ? "the others refuse its writes" : "it refuses the others' writes";
  return `this node's clock is ${s} s ${mid < 0 ? "ahead of" : "behind"} most members' (the hybrid clock's limit is ${limit / 1000} s): ${refused}; fix its clock (NTP)`;
}
