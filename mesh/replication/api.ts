/** The cluster replicator's public shape: its options, stats and methods. */
import type { Timestamp } from "../../core/hlc.ts";
import type { LwwMap } from "../../core/lww-map.ts";
import type { HistogramSnapshot } from "../histogram.ts";
import type { MembershipView } from "../membership/types.ts";
import type { Clock, Logger, Random, Transport } from "../types.ts";
import type { ReplicationConfig } from "./config.ts";
import type { ReplicationStats, Replicator, WriteConcern } from "./types.ts";

export interface ClusterReplicatorOptions {
  map: LwwMap;
  /** The HLC's observe: called with the largest timestamp of each remote delta before it is merged; throwing refuses the message. */
  observe: (ts: Timestamp) => void;
  membership: MembershipView;
  /** A channel of its own (e.g. mux(t).channel("repl")). */
  transport: Transport;
  clock: Clock;
  random: Random;
  /** Default 2. */
  concern?: WriteConcern;
  logger?: Logger;
  config?: Partial<ReplicationConfig>;
}

export interface ClusterReplicationStats extends ReplicationStats {
  /** Every write's time to its concern since start, seconds. */
  ackLatency: HistogramSnapshot;
  livePeers: number;
  pendingWrites: number;
  writesAcknowledged: number;
  writesUnavailable: number;
  messagesSent: number;
  messagesReceived: number;
  /** Entries carried by outbox messages (first sends and retransmits). */
  entriesSent: number;
  retransmits: number;
  malformedDropped: number;
  /** Remote deltas refused because the HLC refused their timestamp. */
  refusedTimestamps: number;
  antiEntropyCompleted: number;
  antiEntropyEqual: number;
  antiEntropyTimeouts: number;
  /** Routine rounds this node declined while sending the initiator writes. */
  antiEntropyDeclined: number;
  antiEntropyEntriesSent: number;
  antiEntropyEntriesReceived: number;
  tombstonesCollected: number;
  tombstonesTracked: number;
}

export interface ClusterReplicator extends Replicator {
  /** Pull from every live peer once (digest exchange); rejects `unavailable` on timeout (default 2 x ackTimeoutMs). */
  catchUp(timeoutMs?: number): Promise<void>;
  /** True once this node has pulled from every peer live at that moment (latches). */
  isCaughtUp(): boolean;
  /** Stop timers and message handling; unsettled writes reject `unavailable`. */
  stop(): void;
  stats(): ClusterReplicationStats;
}
