/**
 * A replicator double for registry tests: each node's map, deltas copied to
 * the nodes that can be reached after 1 ms of virtual time, and the fencing
 * part of the real replicator (mesh/replication/fence.ts):
 *
 *   - writes are stamped with the writer's epoch (setEpoch); a replica whose
 *     fence is above the stamp refuses the write (merges nothing) and the
 *     writer's promise rejects `unavailable`; otherwise it resolves once a
 *     majority of the writer's holders merged it (or after 2 s without: ack
 *     timeout, `unavailable`)
 *   - setEpoch does not raise the fence: only adoptFence does (a new owner
 *     asks, once old leases ran out); fence() reads it; resetFence starts a
 *     new generation's numbering
 *   - catchUpFrom(peers, need, timeout) pulls each named peer's whole map
 *     2 ms later if it is up and reachable both ways, retrying every 2 ms,
 *     and resolves once `need` of them were pulled (rejects `unavailable`
 *     at the timeout), each with the id of the process pulled from
 *
 * Every fence adoption and pull is recorded with its virtual time, so a test
 * can check that a new owner served only after both.
 */
import { RoomyError } from "../../core/errors.ts";
import type { Change, Delta } from "../../core/crdt/lww-map.ts";
import { LwwMap } from "../../core/crdt/lww-map.ts";
import type { FencingReplicator } from "../../mesh/registry/serving.ts";
import type { PulledFrom } from "../../mesh/replication/api.ts";
import type { ReplicationStats, Replicator } from "../../mesh/replication/types.ts";
import type { Clock } from "../../mesh/types.ts";

export interface PullRecord {
  node: string;
  /** when it asked, and when it resolved (undefined until then) */
  at: number;
  doneAt: number | undefined;
  from: string[];
  /** the epoch the node stamped its writes with when it asked */
  epoch: number;
}

export interface FenceRecord {
  node: string;
  at: number;
  fence: number;
}

export type TestReplicator = Replicator & FencingReplicator;

interface Replica {
  map: LwwMap;
  listeners: Set<(c: Change[]) => void>;
  up: boolean;
  epoch: number;
  fence: number;
  holders: readonly string[];
  /** the member id of the process */
  id: string;
}

const ACK_TIMEOUT_MS = 2000;

export class ReplicaBus {
  readonly pulls: PullRecord[] = [];
  readonly fences: FenceRecord[] = [];
  /** Writes refused by a fence. */
  refused = 0;
  /** Nodes whose pulls never complete (a slow catch-up, held by the test). */
  readonly stuck = new Set<string>();
  private readonly nodes = new Map<string, Replica>();

  /** `reach(a, b)`: whether node a can send to node b now. */
  constructor(
    private readonly clock: Clock,
    private readonly reach: (from: string, to: string) => boolean,
  ) {}

  private merge(n: Replica, delta: Delta): void {
    const changes = n.map.merge(delta);
    if (changes.length > 0) for (const fn of n.listeners) fn(changes);
  }

  /** A node's replica. */
  mapOf(node: string): LwwMap {
    return this.nodes.get(node)!.map;
  }

  fenceOf(node: string): number {
    return this.nodes.get(node)?.fence ?? 0;
  }

  /** The node crashed: it takes no more deltas. */
  down(node: string): void {
    const n = this.nodes.get(node);
    if (n !== undefined) n.up = false;
  }

  private raise(node: string, self: Replica, epoch: number): void {
    if (epoch <= self.fence) return;
    self.fence = epoch;
    this.fences.push({ node, at: this.clock.now(), fence: epoch });
  }

  replicator(node: string, id = node): TestReplicator {
    const self: Replica = { map: new LwwMap(), listeners: new Set(), up: true, epoch: 0, fence: 0, holders: [], id };
    this.nodes.set(node, self);
    const bus = this;
    return {
      map: self.map,
      write(delta: Delta): Promise<void> {
        bus.merge(self, delta);
        const stamp = self.epoch;
        const holders = self.holders.length > 0 ? self.holders : [node];
        const need = Math.floor(holders.length / 2) + 1;
        let acks = holders.includes(node) ? 1 : 0;
        if (acks >= need) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          let settled = false;
          const timer = bus.clock.setTimer(ACK_TIMEOUT_MS, () => {
            if (!settled) (settled = true), reject(new RoomyError("unavailable", `write not acknowledged by a majority within ${ACK_TIMEOUT_MS} ms`));
          });
          for (const [other, o] of bus.nodes) {
            if (other === node || !bus.reach(node, other)) continue;
            bus.clock.setTimer(1, () => {
              if (!o.up || o !== bus.nodes.get(other)) return;
              if (o.fence > stamp) {
                bus.refused++;
                if (!settled && bus.reach(other, node)) {
                  settled = true;
                  timer.cancel();
                  reject(new RoomyError("unavailable", `write stamped ${stamp} refused by ${other} (fence ${o.fence})`));
                }
                return;
              }
              bus.merge(o, delta);
              if (holders.includes(other) && bus.reach(other, node) && ++acks >= need && !settled) {
                settled = true;
                timer.cancel();
                resolve();
              }
            });
          }
        });
      },
      onChange(fn: (c: Change[]) => void): () => void {
        self.listeners.add(fn);
        return () => self.listeners.delete(fn);
      },
      flush: () => Promise.resolve(),
      setEpoch(epoch: number, holders: readonly string[]): void {
        if (epoch < self.epoch) return;
        self.epoch = epoch;
        self.holders = [...holders];
      },
      resetFence(epoch: number): void {
        self.epoch = epoch;
        self.fence = epoch;
      },
      adoptFence(epoch: number): void {
        bus.raise(node, self, epoch);
      },
      fence: () => self.fence,
      catchUpFrom(peers: readonly string[], need: number, timeoutMs: number): Promise<PulledFrom[]> {
        const rec: PullRecord = { node, at: bus.clock.now(), doneAt: undefined, from: [], epoch: self.epoch };
        bus.pulls.push(rec);
        if (need <= 0) {
          rec.doneAt = rec.at;
          return Promise.resolve([]);
        }
        const deadline = bus.clock.now() + timeoutMs;
        return new Promise<PulledFrom[]>((resolve, reject) => {
          const done = new Map<string, string>();
          const round = (): void => {
            if (!self.up || self !== bus.nodes.get(node)) return;
            if (!bus.stuck.has(node)) {
              for (const p of peers) {
                const o = bus.nodes.get(p);
                if (p === node || done.has(p) || o === undefined || !o.up || !bus.reach(p, node) || !bus.reach(node, p)) continue;
                bus.merge(self, o.map.state());
                done.set(p, o.id);
              }
            }
            if (done.size >= need) {
              rec.doneAt = bus.clock.now();
              rec.from = [...done.keys()];
              return resolve([...done].map(([name, id]) => ({ name, id })));
            }
            if (bus.clock.now() >= deadline) return reject(new RoomyError("unavailable", `catch-up: ${done.size} of ${need} peers answered`));
            bus.clock.setTimer(2, round);
          };
          bus.clock.setTimer(2, round);
        });
      },
      stats(): ReplicationStats {
        return { keys: self.map.size, tombstones: self.map.tombstones, deltasSent: 0, deltasReceived: 0, antiEntropyRounds: 0, ackLatencyMs: [] };
      },
    };
  }
}
