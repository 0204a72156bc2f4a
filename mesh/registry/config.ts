/** The cluster registry's options, config (with defaults), stats and API. */
import type { Hlc } from "../../core/crdt/hlc.ts";
import type { MembershipView } from "../membership/types.ts";
import type { Replicator } from "../replication/types.ts";
import type { ConfigSource, Holder } from "./holders.ts";
import type { FencingReplicator } from "./serving.ts";
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
  /** Retry period of fence rounds, "swept?" questions and handoff retransmits. */
  retryMs: number;
  /** A catch-up for a new epoch that takes longer is abandoned and started over. */
  catchUpTimeoutMs: number;
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
  catchUpTimeoutMs: 30_000,
  drainTimeoutMs: 10_000,
};

export interface ClusterRegistryOptions {
  /** This node's name (as in the membership). */
  self: string;
  /** The committed configurations names are owned under (the Raft log's, in a node). */
  configs: ConfigSource;
  membership: MembershipView;
  /** A channel of its own (e.g. mux(t).channel("reg")). */
  transport: Transport;
  replicator: Replicator & FencingReplicator;
  clock: Clock;
  random: Random;
  logger?: Logger;
  /** The node's HLC for group writes (default: one of the registry's own). */
  hlc?: Hlc;
  config?: Partial<ClusterRegistryConfig>;
  /**
   * No transport reaches this node and none ever did (the in-process cluster
   * of one): nothing it serves can be under a lease anyone holds, so a new
   * generation it starts alone is served at once (serving.ts).
   */
  isolated?: boolean;
  /** Whether this node's event loop stalls or just did (stalled-calls.ts); absent: never. */
  behind?: () => boolean;
}

export interface ClusterRegistryStats extends RegistryStats {
  starting: number;
  leaving: number;
  handoffsInFlight: number;
  conflicts: number;
  /** Calls dropped on arrival because their caller had given up (by the origin's clock). */
  expiredDropped: number;
  /** Catch-ups for a new epoch started, and how many failed (and were started over). */
  catchUps: number;
  catchUpFailures: number;
  /** The serving state (serving.ts) and the epoch it is at. */
  serving: string;
  epoch: number;
  callsPending: number;
  malformedDropped: number;
  /** This node holds the quorum lease now (authoritative() also needs it caught up). */
  lease: boolean;
}

export interface ClusterRegistry extends Registry {
  /** A holder of the committed configuration that caught up for an epoch of it (/readyz also wants the lease: authoritative()). */
  ready(): boolean;
  /** Whether this node drains. */
  isDraining(): boolean;
  /** Names of peers that said they are draining (the configuration should drop them). */
  draining(): ReadonlySet<string>;
  /** Whether member `name`, outside the configuration, said it pulled the holders' data (presync.ts): the leader adds it only then. */
  synced(name: string): boolean;
  /** Whether a majority of `holders` (of epoch `epoch`) caught up for it, as far as this node heard (`previous`: the holders' names at the placement before). */
  caughtUp(epoch: number, holders: readonly Holder[], previous?: readonly string[], next?: readonly string[]): boolean;
  stats(): ClusterRegistryStats;
  /** Stop timers and message handling; local processes stop where they are; open calls fail `unavailable`. */
  stop(): Promise<void>;
}

