/**
 * The cluster replicator's figures for stats() and /metrics, gathered from
 * its parts (kept out of cluster.ts, which is about behaviour).
 */
import type { LwwMap } from "../../core/crdt/lww-map.ts";
import type { PendingWrites } from "./acks.ts";
import type { AntiEntropy } from "./anti-entropy.ts";
import type { ClusterReplicationStats } from "./api.ts";
import type { EpochFence } from "./fence.ts";
import type { Outbox } from "./outbox.ts";
import type { TombstoneGc } from "./tombstone-gc.ts";
import type { ReaderWaits } from "./lease-grants.ts";
import type { ReadLease } from "./read-lease.ts";

/** Messages counted by the replicator itself. */
export interface MessageCounts {
  sent: number;
  received: number;
  deltasReceived: number;
  malformed: number;
  refused: number;
}

export function clusterStats(
  map: LwwMap,
  outbox: Outbox,
  ae: AntiEntropy,
  pending: PendingWrites,
  gc: TombstoneGc,
  n: MessageCounts,
  fence: EpochFence,
  lease: ReadLease,
  readers: ReaderWaits,
  now: number,
): ClusterReplicationStats {
  const o = outbox.counters;
  const a = ae.counters;
  return {
    keys: map.size,
    tombstones: map.tombstones,
    deltasSent: o.deltas,
    deltasReceived: n.deltasReceived,
    antiEntropyRounds: a.started,
    ackLatencyMs: pending.latencySamples(),
    ackLatency: pending.ackHistogram.snapshot(),
    livePeers: outbox.peers.size,
    pendingWrites: pending.size,
    writesAcknowledged: pending.resolved,
    writesUnavailable: pending.rejected,
    messagesSent: n.sent,
    messagesReceived: n.received,
    entriesSent: o.entries,
    retransmits: o.retransmits,
    malformedDropped: n.malformed,
    refusedTimestamps: n.refused,
    antiEntropyCompleted: a.completed,
    antiEntropyEqual: a.equal,
    antiEntropyTimeouts: a.timeouts,
    antiEntropyDeclined: a.declined,
    antiEntropyEntriesSent: a.entriesSent,
    antiEntropyEntriesReceived: a.entriesReceived,
    tombstonesCollected: gc.collected,
    tombstonesTracked: gc.tracked,
    writesFencedHere: fence.refusedHere,
    writesFenced: pending.fenced,
    fence: fence.fence,
    epoch: fence.epoch,
    readsLeased: lease.counters.leased,
    readsBarrier: lease.counters.barrier,
    leasesGranted: lease.grants.count(now),
    writesWaitedForReaders: readers.waited,
  };
}
