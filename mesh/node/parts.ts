/**
 * The seam between a Node and its cluster layer. A node needs a membership
 * view, a registry and a replicator, and to know when it is ready; how they
 * are made is the cluster factory's business. `localCluster` builds the
 * cluster of one; the mesh (SWIM membership, routed registry, replicating
 * map) provides another factory with the same shape.
 */
import type { Hlc } from "../../core/crdt/hlc.ts";
import type { LwwMap } from "../../core/crdt/lww-map.ts";
import type { MemberEvent, MembershipView, Member } from "../membership/types.ts";
import type { NodeConfig } from "./config.ts";
import { createLocalRegistry } from "../registry/local.ts";
import type { Registry } from "../registry/types.ts";
import { createLocalReplicator } from "../replication/local.ts";
import type { Replicator } from "../replication/types.ts";
import type { Clock, Logger, Random } from "../types.ts";
import { Consensus, type StateMachine } from "../consensus/driver.ts";

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
  /** Leave the cluster. Called after the registry drained and the replicator flushed. */
  stop(): Promise<void>;
}

export type ClusterFactory = (ctx: ClusterContext) => Promise<Cluster>;

/** The membership of a cluster of one: only self, always alive. */
export function staticMembership(self: Member): MembershipView {
  const frozen: Member = { ...self, state: "alive" };
  return {
    self: () => ({ ...frozen }),
    members: () => [{ ...frozen }],
    live: () => [{ ...frozen }],
    subscribe: (_fn: (ev: MemberEvent) => void) => () => {},
  };
}

/** A cluster of one: every process local, every write held at once. */
export const localCluster: ClusterFactory = (ctx) => {
  const { config, self, clock, logger, map } = ctx;
  const membership = staticMembership(self);
  // A log of one voter: commits at once, never sends (no peer is ever added).
  const consensus = new Consensus({
    self: { id: self.id, name: self.name, address: self.address },
    clock,
    random: ctx.random,
    transport: { local: self.address, send: () => false, onMessage: () => {}, close: () => Promise.resolve() },
    membership,
    logger,
    machine: ctx.machine,
    mayBootstrapAlone: true,
    defer: ctx.defer,
  });
  return Promise.resolve({
    membership,
    consensus,
    registry: createLocalRegistry({
      node: config.name,
      clock,
      logger,
      mailboxLimit: config.mailboxLimit,
      callTimeoutMs: config.callTimeoutMs,
    }),
    replicator: createLocalReplicator(map, { logger }),
    ready: () => true,
    meshAddress: () => null,
    stop: () => consensus.stop(),
  });
};
