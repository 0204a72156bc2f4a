/** The cluster replicator's public shape: its options, stats and methods. */
import type { Timestamp } from "../../core/crdt/hlc.ts";
import type { LwwMap } from "../../core/crdt/lww-map.ts";
import type { HistogramSnapshot } from "../stats/histogram.ts";
import type { MembershipView } from "../membership/types.ts";
import type { Clock, Logger, Random, Transport } from "../types.ts";
import type { PulledFrom } from "./catch-up.ts";
import type { ReplicationConfig } from "./config.ts";
import type { ReplicationStats, Replicator, WriteConcern } from "./types.ts";

export type { PulledFrom } from "./catch-up.ts";

export interface ClusterReplicatorOptions {
  map: LwwMap;
  /** The HLC's observe: called with the largest timestamp of each remote delta before it is merged; throwing refuses the message. */
  observe: (ts: Timestamp) => void;
  /** The HLC's latest stamp issued or observed (a write barrier's answer, clock-barrier.ts); absent: none given. */
  last?: () => Timestamp;
  membership: MembershipView;
  /** A channel of its own (e.g. mux(t).channel("repl")). */
  transport: Transport;
  clock: Clock;
  random: Random;
  /** Default 2. */
  concern?: WriteConcern;
  logger?: Logger;
  config?: Partial<ReplicationConfig>;
  /**
   * When the writes queued in a turn are sent: a real node passes its
   * runtime's defer (setImmediate), so the writes of every call answered in
   * one turn of the event loop leave in one message per peer. Default: a
   * microtask (the end of the current callback; deterministic in the simulator).
   */
  defer?: (fn: () => void) => void;
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
  /** Data messages this node refused: stamped below its fence. */
  writesFencedHere: number;
  /** Our writes rejected because a peer's fence had moved past their stamp. */
  writesFenced: number;
  /** Writes stamped below this are refused here. */
  fence: number;
  /** The stamp of new writes (the committed epoch; 0 until setEpoch). */
  epoch: number;
  /** Reads answered under a read lease, and reads that took the read barrier instead (read-lease.ts). */
  readsLeased: number;
  readsBarrier: number;
  /** Read leases this node granted that run now. */
  leasesGranted: number;
  /** Times a write that met its concern waited for a reader holding a lease. */
  writesWaitedForReaders: number;
}

export interface ClusterReplicator extends Replicator {
  /** Pull from every live peer once (digest exchange); rejects `unavailable` on timeout (default 2 x ackTimeoutMs). */
  catchUp(timeoutMs?: number): Promise<void>;
  /** True once this node has pulled from every peer live at that moment (latches). */
  isCaughtUp(): boolean;
  /**
   * The committed configuration: new writes are stamped `epoch`, the fence
   * rises to at least `epoch`, and write concern "majority" then means acks
   * from floor(|holders|/2)+1 distinct holders (this node counts only if it
   * is one; acks from non-holders do not). Concerns 1, 2 and "all" keep
   * their membership meaning. An epoch below the current one is ignored.
   * Throws RangeError unless epoch is a non-negative integer.
   */
  setEpoch(epoch: number, holders: readonly string[], ids?: ReadonlyMap<string, string>): void;
  /** Raise the fence only (a new owner asks): writes stamped below it are refused here. setEpoch does not raise it. */
  adoptFence(epoch: number): void;
  /** A new generation numbers its epochs anew: stamp and fence start over at `epoch`. */
  resetFence(epoch: number): void;
  /** Writes stamped below this are refused here (never falls). */
  fence(): number;
  /** The stamp of new writes (0 until setEpoch). */
  epoch(): number;
  /**
   * Pull (an anti-entropy round) from each named peer that is a live link,
   * retrying a failed round while time remains; resolves with the peers that
   * completed once `need` of them did, each with the member id of the process
   * that answered its round (a peer restarted meanwhile answers as its new
   * process; this node, if named, counts at once: its data is here). Rejects
   * `unavailable` naming the silent ones once
   * `timeoutMs` passes first, or at once if fewer than `need` are named.
   * need <= 0 resolves at once with []. `fresh` (a read barrier): every
   * round counted began after the call (none joined from before).
   */
  catchUpFrom(peers: readonly string[], need: number, timeoutMs: number, fresh?: boolean): Promise<PulledFrom[]>;
  /**
   * A read barrier's pull (cover-barrier.ts): resolves with `need` of the
   * named peers once this replica holds every write each of them had acked
   * when asked (asked after the call); rejects `unavailable` at `timeoutMs`.
   * Absent (test doubles): the registry pulls with catchUpFrom(..., true).
   */
  barrierFrom?(peers: readonly string[], need: number, timeoutMs: number): Promise<PulledFrom[]>;
  /**
   * A write barrier's pull (clock-barrier.ts): resolves with `need` of the
   * named peers once each answered (asked after the call) with its clock's
   * latest reading and this node's clock observed it. Absent (test
   * doubles): the registry uses the read barrier's pull, which observes as
   * it merges.
   */
  clockFrom?(peers: readonly string[], need: number, timeoutMs: number): Promise<PulledFrom[]>;
  /** Whether acknowledged writes are promised to order after each other (concern `majority`): only then does a write barrier run. */
  ordersWrites?(): boolean;
  /**
   * Whether this replica holds a read lease from each of `holders` but
   * itself (read-lease.ts): every write acknowledged before now is here, and
   * a read needs no barrier. Asking notes that reads come (leases are asked
   * for only while they do). Absent (test doubles): never.
   */
  readLease?(holders: readonly { name: string; id: string }[]): boolean;
  /** Stop timers and message handling; unsettled writes reject `unavailable`. */
  stop(): void;
  stats(): ClusterReplicationStats;
}
