/**
 * The replicated LWW map as the rest of the node sees it: local reads,
 * writes that resolve once the write concern holds, change subscriptions.
 */
import type { Change, Delta, LwwMap } from "../../core/crdt/lww-map.ts";

/** How many nodes must hold a write before it is acknowledged. */
export type WriteConcern = 1 | 2 | "majority" | "all";

export interface Replicator {
  /** This node's replica (read it freely; write only through `write`). */
  readonly map: LwwMap;
  /**
   * Merge `delta` locally, send it to every peer, and resolve once the write
   * concern holds; rejects with RoomyError("unavailable") if it cannot within
   * the timeout (the write stays applied locally and keeps replicating).
   */
  write(delta: Delta): Promise<void>;
  // (A write held at once returns HELD from held.ts: callers may test for it and go on synchronously.)
  /** Called with the visible changes of every local write or remote merge. */
  onChange(fn: (changes: Change[]) => void): () => void;
  /** Push everything not yet acknowledged to peers and wait (drain). */
  flush(timeoutMs?: number): Promise<void>;
  stats(): ReplicationStats;
}

export interface ReplicationStats {
  keys: number;
  tombstones: number;
  deltasSent: number;
  deltasReceived: number;
  antiEntropyRounds: number;
  /** Recent write-ack latencies in ms (for metrics). */
  ackLatencyMs: number[];
}
