/**
 * The committed configuration of the Raft log as the registry's
 * ConfigSource: holders are the voters and learners (by name and member
 * id), stamped with the log's generation.
 */
import type { ConfigSource, HolderConfig } from "../registry/holders.ts";
import type { Consensus } from "./driver.ts";
import type { Configuration } from "./types.ts";

export function configSource(consensus: Consensus): ConfigSource {
  const toHolders = (c: Configuration): HolderConfig | null => {
    const g = consensus.generation()?.generation;
    if (g === undefined || c.epoch === 0) return null;
    const holders = [...c.voters, ...c.learners].map((s) => ({ name: s.name, id: s.id }));
    // Names move only when the holders change: the registry's epoch is the placement's.
    const h: HolderConfig = { generation: g, epoch: c.placed ?? c.epoch, previous: c.prevPlaced ?? (c.placed === undefined ? c.epoch - 1 : 0), holders };
    if (c.prevHolders !== undefined && c.prevHolders.length > 0) h.previousHolders = c.prevHolders;
    return h;
  };
  return {
    current: () => toHolders(consensus.committedConfig()),
    subscribe(fn: (c: HolderConfig) => void): () => void {
      return consensus.onConfig((c) => {
        const h = toHolders(c);
        if (h !== null) fn(h);
      });
    },
  };
}
