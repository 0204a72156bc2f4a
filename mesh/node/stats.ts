/**
 * The node's counters and gauges in one typed value (Node.stats()): what
 * /metrics writes, read at scrape time. Each part's own stats() fills its
 * field; the cluster layer (wiring.ts) gathers its parts', the node adds its
 * own. A reader (http/) needs nothing else and casts into nothing.
 */
import type { ConsensusStats, ConsensusStatus } from "../consensus/driver-types.ts";
import type { MembershipStats } from "../membership/swim.ts";
import type { ClusterRegistryStats } from "../registry/config.ts";
import type { ClusterReplicationStats } from "../replication/api.ts";
import type { LoopLagStats } from "../stats/loop-lag.ts";
import type { TcpTransportStats } from "../tcp/types.ts";

/** What the cluster layer reports: one field per part. */
export interface ClusterStats {
  /** SWIM: probes, gossip, health, and the members known by state (self included). */
  membership: MembershipStats;
  registry: ClusterRegistryStats;
  replication: ClusterReplicationStats;
  /** The Raft log: where it is now, and what happened since start. */
  consensus: { status: ConsensusStatus; counters: ConsensusStats };
  /** The mesh's TCP transport, or null where there is none (the cluster of one, the simulator). */
  transport: TcpTransportStats | null;
}

export interface NodeStats extends ClusterStats {
  /** How late the event loop runs. */
  loopLag: LoopLagStats;
}
