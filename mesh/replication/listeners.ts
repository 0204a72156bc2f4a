/**
 * The change listeners of a replicator (local or cluster): a merge lists its
 * changes only when someone listens, and one listener that throws does not
 * stop the others.
 */
import type { Change, Delta, LwwMap } from "../../core/crdt/lww-map.ts";
import type { Logger } from "../types.ts";

const NONE: Change[] = [];

export class ChangeListeners {
  private readonly fns = new Set<(changes: Change[]) => void>();
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  add(fn: (changes: Change[]) => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }

  /** Merge `delta` into `map`; the changes, listed only if someone listens (nobody watching: `absorb`, no list). */
  merge(map: LwwMap, delta: Delta): Change[] {
    if (this.fns.size === 0) {
      map.absorb(delta);
      return NONE;
    }
    return map.merge(delta);
  }

  /** Hand `changes` to every listener (none when empty). */
  notify(changes: Change[]): void {
    if (changes.length === 0) return;
    for (const fn of this.fns) {
      try {
        fn(changes);
      } catch (err) {
        this.logger.error("replication: change listener failed", { error: String(err) });
      }
    }
  }
}
