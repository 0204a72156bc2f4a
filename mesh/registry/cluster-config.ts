/** The cluster registry's options, config (with defaults), stats and API. */
import type { Hlc } from "../../core/hlc.ts";
import type { MembershipView } from "../membership/types.ts";
import type { Replicator } from "../replication/types.ts";
import type { Clock, Logger, Random, Transport } from "../types.ts";
import { DEFAULT_MAILBOX_LIMIT } from "./mailbox.ts";
import type { Registry, RegistryStats } from "./types.ts";

export interface ClusterRegistryConfig {
  /** Default timeout of call and multiCall; past it the caller gets `unavailable`. */
  callTimeoutMs: number;
  /** Forwards a call may take before it is answered `unavailable`. */
  maxHops: number;
  /** Serve only while a majority was heard within this; keep it below the time to declare a node dead. */
  leaseMs: number;
  /** A name being started gives up (calls answered `unavailable`) after this; also the catch-up bound. */
  activationTimeoutMs: number;
  /** Calls a mailbox (or a starting process) holds before refusing with `unavailable`. */
  mailboxLimit: number;
  /** Retry period of activation queries and handoff retransmits. */
  retryMs: number;
  /** An activation query round unanswered this long counts as "busy" (asked again). */
  queryTimeoutMs: number;
  /** drain() waits at most this long for handoffs to be acknowledged. */
  drainTimeoutMs: number;
}

export const DEFAULT_CLUSTER_REGISTRY_CONFIG: ClusterRegistryConfig = {
  callTimeoutMs: 5000,
  maxHops: 3,
  leaseMs: 1500,
  activationTimeoutMs: 5000,
  mailboxLimit: DEFAULT_MAILBOX_LIMIT,
  retryMs: 100,
  queryTimeoutMs: 1000,
  drainTimeoutMs: 10_000,
};

export interface ClusterRegistryOptions {
  /** This node's name (as in the membership). */
  self: string;
  membership: MembershipView;
  /** A channel of its own (e.g. mux(t).channel("reg")). */
  transport: Transport;
  replicator: Replicator & { catchUp(timeoutMs?: number): Promise<void> };
  clock: Clock;
  random: Random;
  logger?: Logger;
  /** The node's HLC for group writes (default: one of the registry's own). */
  hlc?: Hlc;
  /**
   * Whether this node has joined and caught up. Until then it serves no
   * process: others may already route to it (they saw its join) while its
   * replica is still empty, and a lot served from an empty replica overfills.
   * Default: always ready.
   */
  ready?: () => boolean;
  config?: Partial<ClusterRegistryConfig>;
}

export interface ClusterRegistryStats extends RegistryStats {
  activating: number;
  leaving: number;
  handoffsInFlight: number;
  conflicts: number;
  catchUps: number;
  activationQueries: number;
  callsPending: number;
  malformedDropped: number;
  hasLease: boolean;
}

export interface ClusterRegistry extends Registry {
  /** Whether this node holds the quorum lease (may serve) now. */
  hasLease(): boolean;
  /** Whether `name` runs here, is owned here, and this node may serve it now. */
  isServing(name: string): boolean;
  stats(): ClusterRegistryStats;
  /** Stop timers and message handling; local processes stop where they are; open calls fail `unavailable`. */
  stop(): Promise<void>;
}

