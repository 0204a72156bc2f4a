/**
 * The seam between a Node and its cluster layer. A node needs a membership
 * view, a registry and a replicator, and to know when it is ready; how they
 * are made is the cluster factory's business. Both factories wire the same
 * parts (wiring.ts: SWIM membership, the Raft log, the cluster registry and
 * replicator): `localCluster` over a transport that reaches nobody (the
 * cluster of one in a process), `meshCluster` (tcp-parts.ts) over TCP.
 */
import type { Hlc } from "../../core/crdt/hlc.ts";
import type { LwwMap } from "../../core/crdt/lww-map.ts";
import type { Member, MembershipView } from "../membership/types.ts";
import type { NodeConfig } from "./config.ts";
import type { Registry } from "../registry/types.ts";
import type { Replicator } from "../replication/types.ts";
import type { Address, Clock, Logger, Random, Transport } from "../types.ts";
import type { Consensus, StateMachine } from "../consensus/driver.ts";
import type { ClusterStats } from "./stats.ts";
import { wireCluster } from "./wiring.ts";

/** Everything a cluster layer is built from. */
export interface ClusterContext {
  config: NodeConfig;
  /** This node as a member (name, per-start id, advertised address). */
  self: Member;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** The node's clock for writes; a replicator observes remote timestamps with it. */
  hlc: Hlc;
  /** The node's replica. */
  map: LwwMap;
  /** What the consensus log is applied to (the Raft lot). */
  machine: StateMachine;
  /** Run soon after this turn: the runtime's (setImmediate) with the real clock; absent, a 0 ms timer on `clock`. */
  defer?: (fn: () => void) => void;
  /** Whether the node's event loop stalls or just did (loop-lag.ts behind()); the registry holds calls a turn then. */
  behind?: () => boolean;
}

export interface Cluster {
  membership: MembershipView;
  /** The Raft log: the lot's commands, the committed configuration and its epoch. */
  consensus: Consensus;
  registry: Registry;
  replicator: Replicator;
  /** Joined and caught up: the node may serve (GET /readyz). */
  ready(): boolean;
  /** The mesh address listening, or null when there is no mesh. */
  meshAddress(): string | null;
  /** Every part's counters and gauges, read now (Node.stats(), /metrics). */
  stats(): ClusterStats;
  /** Leave the cluster. Called after the registry drained and the replicator flushed. */
  stop(): Promise<void>;
}

export type ClusterFactory = (ctx: ClusterContext) => Promise<Cluster>;

/** A transport no peer can reach and that reaches no peer: every send is dropped at once. */
export function isolatedTransport(local: Address): Transport {
  return { local, send: () => false, onMessage: () => {}, close: () => Promise.resolve() };
}

/**
 * A cluster of one: the cluster's own parts (the Raft log, SWIM membership,
 * the cluster registry and replicator, wired as every cluster is) over a
 * transport that reaches nobody, so the node started alone runs the code a
 * cluster runs. Its log is one voter that bootstraps alone, its registry
 * places every name on it and serves at once (isolated: no lease anywhere
 * covers a replica nobody else holds), and its replicator holds a write as
 * soon as it is merged. --join and --discover mean nothing here (node.ts
 * warns); `roomy node` joins and is joined over TCP (tcp-parts.ts).
 */
export const localCluster: ClusterFactory = (ctx) => {
  const wired = wireCluster({
    ctx,
    transport: isolatedTransport(ctx.self.address),
    isolated: true,
    defer: ctx.defer,
  });
  return Promise.resolve({ ...wired, meshAddress: () => null });
};
