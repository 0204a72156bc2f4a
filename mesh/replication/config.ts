/** Tunables of the cluster replicator, with the defaults the node runs with. */

export interface ReplicationConfig {
  /** A write not acknowledged by its concern within this rejects with `unavailable`. */
  ackTimeoutMs: number;
  /** Unacknowledged deltas are re-sent after this (doubling per try, up to 16x). */
  retransmitMs: number;
  /** Period of anti-entropy rounds with one random live peer. */
  antiEntropyMs: number;
  /** Entries per anti-entropy message. */
  chunkEntries: number;
  /** Entries per outbox message (one message may carry many writes). */
  maxBatchEntries: number;
  /** Entries sent to one peer and not yet acknowledged, beyond which the outbox waits. */
  windowEntries: number;
  /** An anti-entropy round without a complete answer within this is abandoned. */
  roundTimeoutMs: number;
  /**
   * A tombstone is collected only once its write is at least this old (by the
   * injected clock against the timestamp's wall time), on top of every member
   * holding it: a margin for a writer whose clock lags behind.
   */
  tombstoneMinAgeMs: number;
}

export const DEFAULT_REPLICATION_CONFIG: Readonly<ReplicationConfig> = Object.freeze({
  ackTimeoutMs: 5000,
  retransmitMs: 250,
  antiEntropyMs: 1000,
  chunkEntries: 4000,
  maxBatchEntries: 4000,
  windowEntries: 32_000,
  roundTimeoutMs: 3000,
  tombstoneMinAgeMs: 10_000,
});

/** Defaults overlaid with `over`; throws RangeError on a nonsensical value. */
export function resolveConfig(over: Partial<ReplicationConfig> = {}): ReplicationConfig {
  const c: ReplicationConfig = { ...DEFAULT_REPLICATION_CONFIG };
  // maxBatchEntries follows chunkEntries unless given.
  if (over.chunkEntries !== undefined && over.maxBatchEntries === undefined) c.maxBatchEntries = over.chunkEntries;
  for (const [k, v] of Object.entries(over)) {
    if (v !== undefined) (c as unknown as Record<string, number>)[k] = v;
  }
  for (const k of ["ackTimeoutMs", "retransmitMs", "antiEntropyMs", "roundTimeoutMs"] as const) {
    if (!(c[k] > 0) || !Number.isFinite(c[k])) throw new RangeError(`replication: ${k} must be a positive number`);
  }
  for (const k of ["chunkEntries", "maxBatchEntries", "windowEntries"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new RangeError(`replication: ${k} must be a positive integer`);
  }
  if (!(c.tombstoneMinAgeMs >= 0)) throw new RangeError("replication: tombstoneMinAgeMs must be >= 0");
  if (c.windowEntries < c.maxBatchEntries) c.windowEntries = c.maxBatchEntries;
  return c;
}
