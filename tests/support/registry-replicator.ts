/**
 * A replicator double for registry tests: each node's map, deltas copied to
 * the nodes that can be reached after 1 ms of virtual time, and a catchUp()
 * that records when it was called (so a test can check it ran before a
 * newly owned process served) and pulls from every reachable node.
 */
import type { Change, Delta } from "../../core/lww-map.ts";
import { LwwMap } from "../../core/lww-map.ts";
import type { ReplicationStats, Replicator } from "../../mesh/replication/types.ts";
import type { Clock } from "../../mesh/types.ts";

export interface CatchUpRecord {
  node: string;
  at: number;
}

export type TestReplicator = Replicator & { catchUp(timeoutMs?: number): Promise<void> };

export class ReplicaBus {
  readonly catchUps: CatchUpRecord[] = [];
  private readonly nodes = new Map<string, { map: LwwMap; listeners: Set<(c: Change[]) => void>; up: boolean }>();

  /** `reach(a, b)`: whether node a can send to node b now. */
  constructor(
    private readonly clock: Clock,
    private readonly reach: (from: string, to: string) => boolean,
  ) {}

  private apply(node: string, delta: Delta): void {
    const n = this.nodes.get(node);
    if (n === undefined || !n.up) return;
    const changes = n.map.merge(delta);
    if (changes.length > 0) for (const fn of n.listeners) fn(changes);
  }

  /** A node's replica. */
  mapOf(node: string): LwwMap {
    return this.nodes.get(node)!.map;
  }

  /** The node crashed: it takes no more deltas. */
  down(node: string): void {
    const n = this.nodes.get(node);
    if (n !== undefined) n.up = false;
  }

  replicator(node: string): TestReplicator {
    const self = { map: new LwwMap(), listeners: new Set<(c: Change[]) => void>(), up: true };
    this.nodes.set(node, self);
    const bus = this;
    return {
      map: self.map,
      write(delta: Delta): Promise<void> {
        bus.apply(node, delta);
        for (const other of bus.nodes.keys()) {
          if (other === node || !bus.reach(node, other)) continue;
          bus.clock.setTimer(1, () => bus.apply(other, delta));
        }
        return Promise.resolve();
      },
      onChange(fn: (c: Change[]) => void): () => void {
        self.listeners.add(fn);
        return () => self.listeners.delete(fn);
      },
      flush: () => Promise.resolve(),
      catchUp(): Promise<void> {
        bus.catchUps.push({ node, at: bus.clock.now() });
        return new Promise<void>((resolve) => {
          bus.clock.setTimer(2, () => {
            for (const [other, o] of bus.nodes) {
              if (other !== node && o.up && bus.reach(other, node)) bus.apply(node, o.map.state());
            }
            resolve();
          });
        });
      },
      stats(): ReplicationStats {
        return { keys: self.map.size, tombstones: self.map.tombstones, deltasSent: 0, deltasReceived: 0, antiEntropyRounds: 0, ackLatencyMs: [] };
      },
    };
  }
}
