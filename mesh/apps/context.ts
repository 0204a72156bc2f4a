/** What the rooms and parking apps are given by their node. */
import type { LwwMap } from "../../core/crdt/lww-map.ts";
import type { Write } from "../../core/crdt/map-view.ts";
import type { Registry } from "../registry/types.ts";
import type { Replicator } from "../replication/types.ts";
import type { Clock, Logger, Random } from "../types.ts";

export interface AppContext {
  /** This node's name (recorded on parked cars, shown as owner). */
  node: string;
  clock: Clock;
  /** The node's random source (a dump's fingerprint seed). */
  random: Random;
  logger: Logger;
  registry: Registry;
  replicator: Replicator;
  /** The replica, read-only for apps: they change it through `write`. */
  map: LwwMap;
  /**
   * Resolves on a later turn of the event loop, so a long pass yields (the
   * runtime's "soon" on a real node, a zero-delay timer of the virtual clock
   * in the simulator).
   */
  nextTurn(): Promise<void>;
  /** Stamp `writes` with one HLC timestamp and write them as one delta (no-op when empty). */
  write(writes: readonly Write[]): Promise<void>;
}
