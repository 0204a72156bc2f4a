/**
 * Whether the node should be sent requests (GET /readyz, roomy_node_ready):
 * started, joined and caught up; a voter, if the leader is still to promote
 * it; with the Raft lot, a leader it can reach; and the quorum lease, so a
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
