/**
 * The replicator of a cluster of one: a write is held by every node (this
 * one) as soon as it is merged, so it resolves at once. It is still the only
 * path writes take, so indexes subscribed with onChange see every change.
 */
import { HELD } from "./held.ts";
import type { Change, Delta, LwwMap } from "../../core/crdt/lww-map.ts";
import type { Logger } from "../types.ts";
import { silentLogger } from "../types.ts";
import { ChangeListeners } from "./listeners.ts";
import type { ReplicationStats, Replicator } from "./types.ts";

export interface LocalReplicatorOptions {
  logger?: Logger;
}

export function createLocalReplicator(map: LwwMap, opts: LocalReplicatorOptions = {}): Replicator {
  const logger = opts.logger ?? silentLogger;
  const listeners = new ChangeListeners(logger);

  return {
    map,
    write(delta: Delta): Promise<void> {
      // Listeners run before the write resolves, so a process's next message
      // already sees its own admission in the indexes.
      listeners.notify(listeners.merge(map, delta));
      return HELD;
    },
    onChange: (fn: (changes: Change[]) => void): (() => void) => listeners.add(fn),
    flush(): Promise<void> {
      return Promise.resolve();
    },
    stats(): ReplicationStats {
      return { keys: map.size, tombstones: map.tombstones, deltasSent: 0, deltasReceived: 0, antiEntropyRounds: 0, ackLatencyMs: [] };
    },
  };
}
