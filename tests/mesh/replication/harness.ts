/**
 * A cluster of replicators for tests: virtual clock, seeded randomness, the
 * simulator's network (logging every message) and the membership double
 * (tests/support/membership.ts). Nothing happens until the test runs
 * virtual time with run()/until(), which also lets promises settle between
 * slices (the outbox flushes in a microtask).
 */
import { Hlc } from "../../../core/crdt/hlc.ts";
import { type Change, type Delta, LwwMap } from "../../../core/crdt/lww-map.ts";
import { createClusterReplicator, type ClusterReplicator } from "../../../mesh/replication/replicator.ts";
import type { ReplicationConfig } from "../../../mesh/replication/config.ts";
import type { WriteConcern } from "../../../mesh/replication/types.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import { SeededRandom } from "../../../mesh/sim/random.ts";
import type { Logger } from "../../../mesh/types.ts";
import { type NetworkOptions, SimNetwork } from "../../../mesh/sim/network.ts";
import { MembershipWorld } from "../../support/membership.ts";

export interface TestNode {
  name: string;
  address: string;
  map: LwwMap;
  hlc: Hlc;
  rep: ClusterReplicator;
  changes: Change[];
  logs: { level: string; msg: string }[];
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
}

export interface ClusterOptions {
  seed?: number | string;
  concern?: WriteConcern;
  config?: Partial<ReplicationConfig>;
  net?: Partial<NetworkOptions>;
  buckets?: number;
}

export class TestCluster {
  readonly clock = new SimClock();
  readonly random: SeededRandom;
  readonly net: SimNetwork;
  readonly membership = new MembershipWorld();
  readonly nodes = new Map<string, TestNode>();

  constructor(private readonly opts: ClusterOptions = {}) {
    this.random = new SeededRandom(opts.seed ?? 1);
    this.net = new SimNetwork(this.clock, this.random.fork("net"), opts.net);
    this.net.keepLog = true;
  }

  /** Add members first (all of them), then start replicators with start(). */
  member(name: string): void {
    this.membership.add(name, addr(name));
  }

  /** Start a replicator for member `name` (fresh empty map). */
  start(name: string, over: { concern?: WriteConcern; config?: Partial<ReplicationConfig> } = {}): TestNode {
    const address = addr(name);
    const map = new LwwMap({ buckets: this.opts.buckets });
    const me = this.membership.get(name);
    const hlc = new Hlc(me.id);
    const changes: Change[] = [];
    const logs: { level: string; msg: string }[] = [];
    const logger: Logger = {
      debug: () => {},
      info: (msg) => logs.push({ level: "info", msg }),
      warn: (msg) => logs.push({ level: "warn", msg }),
      error: (msg) => logs.push({ level: "error", msg }),
    };
    const rep = createClusterReplicator({
      map,
      observe: (ts) => hlc.observe(ts, this.clock.now()),
      last: () => hlc.last(),
      membership: this.membership.view(name),
      // A node started again after its replicator stopped is a new process at the same address.
      transport: this.net.isUp(address) ? this.net.restart(address).transport : this.net.transport(address),
      clock: this.clock,
      random: this.random.fork(name + "/" + me.id),
      concern: over.concern ?? this.opts.concern,
      logger,
      config: { tombstoneMinAgeMs: 0, ...this.opts.config, ...over.config },
    });
    rep.onChange((c) => changes.push(...c));
    const node: TestNode = {
      name,
      address,
      map,
      hlc,
      rep,
      changes,
      logs,
      set: (key, value) => rep.write(setDelta(key, value, hlc.now(this.clock.now()))),
      del: (key) => rep.write({ e: [{ k: key, ts: hlc.now(this.clock.now()), d: true }] }),
    };
    this.nodes.set(name, node);
    return node;
  }

  node(name: string): TestNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Run `ms` of virtual time in slices, letting promises settle between them. */
  async run(ms: number, sliceMs = 5): Promise<void> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      await settle();
      this.clock.advance(Math.min(sliceMs, end - this.clock.now()));
    }
    await settle();
  }

  /** Run until `cond` holds; fail after `maxMs` of virtual time. */
  async until(what: string, cond: () => boolean, maxMs = 60_000, sliceMs = 5): Promise<void> {
    const end = this.clock.now() + maxMs;
    await settle();
    while (!cond()) {
      if (this.clock.now() >= end) throw new Error(`not within ${maxMs} virtual ms: ${what}`);
      this.clock.advance(sliceMs);
      await settle();
    }
  }

  stopAll(): void {
    for (const n of this.nodes.values()) n.rep.stop();
  }
}

export function addr(name: string): string {
  return `${name}:4370`;
}

function setDelta(key: string, value: unknown, ts: { w: number; c: number; n: string }): Delta {
  return { e: [{ k: key, ts, v: value }] };
}

/** Let every queued microtask and promise reaction run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Track a promise's outcome synchronously readable by the test. */
export function track(p: Promise<void>): { state: "pending" | "resolved" | "rejected"; error?: unknown } {
  const t: { state: "pending" | "resolved" | "rejected"; error?: unknown } = { state: "pending" };
  p.then(
    () => {
      t.state = "resolved";
    },
    (err) => {
      t.state = "rejected";
      t.error = err;
    },
  );
  return t;
}

/** Whether every node's map has the same digest. */
export function converged(nodes: TestNode[]): boolean {
  const [first, ...rest] = nodes;
  if (!first) return true;
  const h = first.map.digest().h;
  return rest.every((n) => {
    const g = n.map.digest().h;
    for (let i = 0; i < h.length; i++) if (h[i] !== g[i]) return false;
    return true;
  });
}
