/**
 * Whether the node should be sent requests (GET /readyz, roomy_node_ready),
 * each failing condition naming why:
 *  - started, joined and caught up;
 *  - still the process the members count under its name (not taken over
 *    by a newer one: two nodes given one --name);
 *  - a voter, if the leader is still to promote it (so a new cluster whose
 *    nodes are all ready survives losing any one);
 *  - a clock that lets it take part in writes (the hybrid clock refuses a
 *    timestamp more than its limit ahead);
 *  - with the Raft lot, a leader it can reach;
 *  - the quorum lease, so a node woken from a freeze (SIGSTOP, a long pause)
 *    or cut off from the majority is not routed to while its reads and
 *    calls could only answer `unavailable`.
 */
import { awaitingPromotion } from "../mesh/consensus/reconfigure.ts";
import type { Node } from "../mesh/node/node.ts";

export type Readiness = { ready: true } | { ready: false; reason?: string };

export const NO_LEASE = "no quorum lease: a majority of the holders has not answered this node within the lease (woken from a pause, or cut off)";

export function readiness(node: Node, extra = true): Readiness {
  const r = readinessNow(node, extra);
  if (r.ready || node.isDraining()) return r;
  // The process that took its name is gone, and the members still remember it: say what this one waits for.
  const gone = node.membership.supersederGone?.() ?? null;
  if (gone === null) return r;
  return {
    ready: false,
    reason: `the process that took this node's name ${node.name} (id ${gone.id} at ${gone.address}) is gone; the members take this one back as ${node.name} once they forget it, in about ${Math.ceil(gone.inMs / 1000)} s (or restart this one); give every node its own --name`,
  };
}

function readinessNow(node: Node, extra: boolean): Readiness {
  if (!extra) return { ready: false, reason: "held back by the embedding application's own condition (createApp ready)" };
  if (!node.isReady()) return { ready: false, reason: notYet(node) };
  const taken = node.membership.supersededBy?.() ?? null;
  if (taken !== null) {
    return {
      ready: false,
      reason: `another process took this node's name ${node.name} (id ${taken.id} at ${taken.address}, started later): the members count that one as ${node.name}, and this one is out of the cluster while it runs; give every node its own --name, and stop this one`,
    };
  }
  const status = node.consensus.status();
  const promoting = promotionPending(node, status.voters, status.learners);
  if (promoting !== null) return { ready: false, reason: promoting };
  const clock = clockOff(node);
  if (clock !== null) return { ready: false, reason: clock };
  const reason = node.config.lot === "raft" ? status.unavailable : null;
  if (reason !== null) return { ready: false, reason };
  if (!node.registry.authoritative()) return { ready: false, reason: NO_LEASE };
  return { ready: true };
}

/**
 * Why a node that is not (or no longer) a caught-up holder is not ready: a
 * stranger reading /readyz learns what it waits for (its seeds, a
 * generation, the leader adding it, its catch-up) without reading the logs.
 */
function notYet(node: Node): string {
  if (node.isDraining()) return "draining: handing its processes to their next owners before it leaves";
  const status = node.consensus.status();
  if (status.generation === 0 && status.unavailable !== null) return status.unavailable;
  const { serving, epoch } = node.stats().registry;
  switch (serving) {
    case "outside":
      return `not yet a holder of the committed configuration (generation ${status.generation}): the leader adds a member once it has pulled the holders' data`;
    case "fencing":
    case "waiting":
      return `taking up its names for epoch ${epoch} (${serving}: the previous epoch's leases run out first)`;
    case "pulling":
      return `catching up for epoch ${epoch} from a majority of the holders`;
    default:
      return `not serving yet (${serving}, epoch ${epoch})`;
  }
}

function promotionPending(node: Node, voters: readonly string[], learners: readonly string[]): string | null {
  // Counted as the leader counts: live members of the configuration (a
  // restarted or new member is added, and counts, only once it pulled the
  // data; a draining one is dropped first).
  const inside = new Set([...voters, ...learners]);
  const live = node.membership.live().filter((m) => inside.has(m.name)).length;
  const selfLearner = learners.includes(node.name);
  if (!awaitingPromotion({ voters: voters.length, selfLearner, live, maxVoters: node.config.maxVoters })) return null;
  return `a learner still to be promoted to voter (${voters.length} voters, ${live} members of the configuration alive)`;
}

/**
 * When this node cannot take part in writes for its clock (offsets measured
 * on membership probes; the hybrid clock refuses a timestamp more than its
 * limit ahead): its own writes are refused by most members (it is that far
 * ahead of them), or the cluster's time, which hybrid clocks carry from the
 * fastest clock whose writes most members take, is that far ahead of it
 * (it then refuses their writes). Clocks taken as its own while unmeasured.
 */
function clockOff(node: Node): string | null {
  const offsetOf = node.membership.clockOffset;
  if (offsetOf === undefined) return null;
  const self = node.membership.self().address;
  const clocks = [0, ...node.membership.live().filter((m) => m.address !== self).map((m) => offsetOf(m.address) ?? 0)];
  const limit = node.hlc.maxDriftMs;
  const majority = Math.floor(clocks.length / 2) + 1;
  const takenBy = (c: number): number => clocks.filter((q) => c - q <= limit).length;
  const fix = "fix the machine's clock (NTP), then restart this node (a running node keeps the clock it started with)";
  if (takenBy(0) < majority) {
    const behind = [...clocks].sort((a, b) => a - b)[Math.floor(clocks.length / 2)]!;
    return `this node's clock is ${Math.round(-behind / 1000)} s ahead of most members' (the hybrid clock's limit is ${limit / 1000} s): they refuse its writes; ${fix}`;
  }
  const clusterTime = Math.max(...clocks.filter((c) => takenBy(c) >= majority));
  if (clusterTime > limit) {
    return `this node's clock is ${Math.round(clusterTime / 1000)} s behind the cluster's time (the hybrid clock's limit is ${limit / 1000} s): it refuses the others' writes; ${fix}`;
  }
  return null;
}
