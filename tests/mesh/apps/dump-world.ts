/**
 * A few rooms apps (startRooms, the real one) over a registry world the test
 * steers: who owns which name, which node is down, what a call carries and
 * when it is delivered. Each node has its own replica; nothing replicates
 * unless the test copies a delta (replicas at different points on purpose).
 * Every call is recorded with the node it went to.
 */
import { RoomyError } from "../../../core/errors.ts";
import { Hlc } from "../../../core/crdt/hlc.ts";
import { type Delta, LwwMap } from "../../../core/crdt/lww-map.ts";
import { type Write, writesToDelta } from "../../../core/crdt/map-view.ts";
import type { AppContext } from "../../../mesh/apps/context.ts";
import { type RoomsApp, startRooms } from "../../../mesh/apps/rooms.ts";
import type { ClusterRegistry } from "../../../mesh/registry/config.ts";
import type { ProcessFactory, ProcessHandlers, Registry } from "../../../mesh/registry/types.ts";
import type { Change } from "../../../core/crdt/lww-map.ts";
import { realClock } from "../../../adapter/clock.ts";
import { runtimeDefer } from "../../../adapter/defer.ts";
import { silentLogger } from "../../../mesh/types.ts";

export interface CallRecord {
  from: string;
  to: string;
  name: string;
  msg: { t?: unknown; rooms?: unknown; people?: unknown; s?: unknown; b?: unknown };
}

export interface WorldNode {
  name: string;
  map: LwwMap;
  app: RoomsApp;
  /** Stamp `writes` with this node's clock and merge them here only; the delta, to copy elsewhere. */
  write(writes: Write[]): Delta;
  /** Merge a delta written elsewhere. */
  merge(d: Delta): void;
  /** Run `msg` in process `name` here (the registry delivered it). */
  handle(name: string, msg: unknown): unknown;
}

export class DumpWorld {
  readonly nodes = new Map<string, WorldNode>();
  readonly calls: CallRecord[] = [];
  readonly down = new Set<string>();
  /** Nodes whose calls are refused unrun (`no_effect`), as for an owner known dead. */
  readonly refusing = new Set<string>();
  /** Calls made and not yet settled, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Nodes from before who-many: they refuse "who-many", "who-hash" and "stamps" as an older room process did. */
  readonly old = new Set<string>();
  /** Nodes from before who-hash: they refuse it (and answer who-many). */
  readonly beforeHash = new Set<string>();
  /** Explicit owners (process name -> node); others by a hash of the name. */
  readonly owner = new Map<string, string>();
  /** Called as a call is delivered, before its handler runs (steer the world mid-dump here). */
  onDeliver: (c: CallRecord) => void = () => {};
  /** Called each time an app yields a turn (nextTurn), before it resumes: writes here land mid-dump. */
  onTurn: (node: string) => void = () => {};
  /** Nodes that have not caught up for their epoch (registry.authoritative() false). */
  readonly behind = new Set<string>();
  /** Nodes whose quorum lease lapsed (authoritative() and isServing() false): the gap at a new epoch. */
  readonly leaseGap = new Set<string>();
  /** Process names their owner no longer serves (moved by a new configuration). */
  readonly movedAway = new Set<string>();
  /** When set, a handler's call deadline is this far ahead of its start (registry.callDeadline()); null: none. */
  deadlineMs: number | null = null;
  /** Read barriers passed, by node. */
  readonly barriers = new Map<string, number>();
  private wall = 1_000;

  constructor(names: string[]) {
    for (const n of names) this.nodes.set(n, this.start(n));
  }

  get names(): string[] {
    return [...this.nodes.keys()];
  }

  node(name: string): WorldNode {
    return this.nodes.get(name)!;
  }

  ownerOf(proc: string): string {
    const o = this.owner.get(proc);
    if (o !== undefined) return o;
    let h = 0;
    for (let i = 0; i < proc.length; i++) h = (h * 31 + proc.charCodeAt(i)) | 0;
    const names = this.names;
    return names[Math.abs(h) % names.length]!;
  }

  /** Write on `at` and copy the delta to every other node (replicated at once). */
  writeEverywhere(at: string, writes: Write[]): void {
    const d = this.node(at).write(writes);
    for (const n of this.nodes.values()) if (n.name !== at) n.merge(d);
  }

  callsOf(t: string): CallRecord[] {
    return this.calls.filter((c) => c.msg.t === t);
  }

  private start(self: string): WorldNode {
    const map = new LwwMap();
    const hlc = new Hlc(`${self}-writer`);
    const listeners: ((c: Change[]) => void)[] = [];
    const procs = new Map<string, ProcessHandlers>();
    let factory: ProcessFactory | undefined;
    const merge = (d: Delta): void => {
      const changes = map.merge(d);
      if (changes.length > 0) for (const l of listeners) l(changes);
    };
    const write = (writes: Write[]): Delta => {
      const d = writesToDelta(writes, hlc.now(this.wall++));
      merge(d);
      return d;
    };
    const world = this;
    const registry: Registry & Pick<ClusterRegistry, "isServing"> = {
      define(_prefix, f) {
        factory = f;
      },
      call<R>(name: string, msg: unknown): Promise<R> {
        const to = world.ownerOf(name);
        const rec: CallRecord = { from: self, to, name, msg: msg as CallRecord["msg"] };
        world.calls.push(rec);
        world.maxInFlight = Math.max(world.maxInFlight, ++world.inFlight);
        // Delivered in a later turn, as over a network.
        const p = new Promise<R>((resolve, reject) => {
          setTimeout(() => {
            if (world.refusing.has(to)) return reject(new RoomyError("unavailable", `node ${to} is unreachable; retry`, true));
            if (world.down.has(to)) return reject(new RoomyError("unavailable", `node ${to} went down before answering; retry`));
            world.onDeliver(rec);
            const t = rec.msg.t;
            if ((world.old.has(to) && (t === "who-many" || t === "who-hash" || t === "stamps")) || (world.beforeHash.has(to) && t === "who-hash")) {
              return reject(new RoomyError("bad_request", `room process cannot handle ${JSON.stringify(rec.msg.t)}`));
            }
            try {
              resolve(world.node(to).handle(name, msg) as R);
            } catch (err) {
              reject(err);
            }
          }, 0);
        });
        const settled = (): void => void world.inFlight--;
        p.then(settled, settled);
        return p;
      },
      cast() {},
      ownerOf: (name) => world.ownerOf(name),
      localNames: () => [...procs.keys()].sort(),
      join: () => Promise.resolve(),
      leave: () => Promise.resolve(),
      members: () => [],
      publish() {},
      multiCall: () => Promise.resolve([]),
      drain: () => Promise.resolve(),
      authoritative: () => !world.behind.has(self) && !world.leaseGap.has(self),
      readBarrier: () => {
        world.barriers.set(self, (world.barriers.get(self) ?? 0) + 1);
        return Promise.resolve();
      },
      writeBarrier: () => Promise.resolve(),
      callDeadline: () => (world.deadlineMs === null ? null : realClock.now() + world.deadlineMs),
      callVouched: () => false,
      isServing: (name) => world.ownerOf(name) === self && !world.down.has(self) && !world.leaseGap.has(self) && !world.movedAway.has(name),
      stats: () => ({ processes: procs.size, handoffsOut: 0, handoffsIn: 0, callsLocal: 0, callsRemote: 0, forwards: 0 }),
    };
    const ctx: AppContext = {
      node: self,
      clock: realClock,
      random: { float: Math.random },
      nextTurn: () =>
        new Promise<void>((resolve) =>
          runtimeDefer(() => {
            world.onTurn(self);
            resolve();
          }),
        ),
      logger: silentLogger,
      registry,
      replicator: {
        map,
        write: (d: Delta) => {
          merge(d);
          return Promise.resolve();
        },
        onChange(fn) {
          listeners.push(fn);
          return () => {};
        },
        flush: () => Promise.resolve(),
        stats: () => ({ keys: map.size, tombstones: 0, deltasSent: 0, deltasReceived: 0, antiEntropyRounds: 0, ackLatencyMs: [] }),
      },
      map,
      write: (writes) => {
        write([...writes]);
        return Promise.resolve();
      },
    };
    const app = startRooms(ctx);
    const node: WorldNode = {
      name: self,
      map,
      app,
      write,
      merge,
      handle(name: string, msg: unknown): unknown {
        let p = procs.get(name);
        if (p === undefined) procs.set(name, (p = factory!(name)));
        return p.handle(msg);
      },
    };
    return node;
  }
}
