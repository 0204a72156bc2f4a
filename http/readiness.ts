/**
 * Whether the node should be sent requests (GET /readyz, roomy_node_ready):
 * started, joined and caught up; with the Raft lot, a leader it can reach;
 * and the quorum lease, so a node woken from a freeze (SIGSTOP, a long
 * pause) or cut off from the majority is not routed to while its reads and
 * calls could only answer `unavailable`.
 */
import type { Node } from "../mesh/node/node.ts";

export type Readiness = { ready: true } | { ready: false; reason?: string };

export const NO_LEASE = "no quorum lease: a majority of the holders has not answered this node within the lease (woken from a pause, or cut off)";

export function readiness(node: Node, extra = true): Readiness {
  if (!node.isReady() || !extra) return { ready: false };
  const reason = node.config.lot === "raft" ? node.consensus.status().unavailable : null;
  if (reason !== null) return { ready: false, reason };
  if (!node.registry.authoritative()) return { ready: false, reason: NO_LEASE };
  return { ready: true };
}
