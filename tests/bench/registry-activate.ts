/**
 * The registry's activation and takeover benchmark (run in a fresh child
 * process by registry.bench.ts through registry-case.ts "activate N"):
 *
 *   1. three nodes (a, b, c), each a real cluster replicator (write concern
 *      "majority", as in a node) and a cluster registry on one in-memory
 *      loop network (every message CBOR-encoded, delivered on a later
 *      macrotask), under one committed configuration {a, b, c}
 *   2. the replicated map gets one record per room (`room/<name>`), written
 *      in batches through the replicator and acknowledged by a majority
 *   3. N room-like processes are activated by calls entered through all
 *      three nodes; each reads its record from the map when it starts
 *   4. takeover: node d starts, the configuration {a, b, c, d} is committed
 *      (epoch 2), and every room d now owns is called again. d serves them
 *      only after the wait for leases granted under epoch 1 to run out, the
 *      real fence round (a majority adopts epoch 2) and the real pull
 *      (anti-entropy rounds with the peers that answered, the whole map to
 *      d); each
 *      room's state comes over in its previous owner's handoff and its
 *      record from d's own replica, and both are checked.
 *
 * Left out: Raft (a configuration is committed at once and every node learns
 * it in the same turn), SWIM (membership is a static double) and TCP (the
 * loop network has no kernel, no syscalls, no partial writes).
 */
import { Hlc } from "../../core/crdt/hlc.ts";
import { LwwMap } from "../../core/crdt/lww-map.ts";
import { ownerOf } from "../../core/placement.ts";
import { type ClusterRegistry, createClusterRegistry } from "../../mesh/registry/registry.ts";
import type { ConfigSource, Holder, HolderConfig } from "../../mesh/registry/holders.ts";
import type { FencingReplicator } from "../../mesh/registry/serving.ts";
import { type ClusterReplicator, createClusterReplicator } from "../../mesh/replication/replicator.ts";
import type { Replicator } from "../../mesh/replication/types.ts";
import { cryptoRandom } from "../../adapter/random.ts";
import { realClock } from "../../adapter/clock.ts";
import { type Address, type Logger, type Message, mux, type Transport } from "../../mesh/types.ts";
import { decode, encode } from "../../mesh/wire/codec.ts";
import { MembershipWorld } from "../support/membership.ts";

export interface Activation {
  seconds: number;
  perNode: { name: string; processes: number }[];
  heapBefore: number;
  heapAfter: number;
  /** Records written to the replicated map before activation, and how long that took (s). */
  records: number;
  preloadSeconds: number;
  takeover: Takeover;
}

export interface Takeover {
  /** Rooms whose owner became d. */
  moved: number;
  /** From the commit of epoch 2 to d asking the holders to adopt its fence (waiting out leases granted under epoch 1). */
  leaseWaitMs: number;
  /** From then to d's catch-up call (a majority adopted the fence). */
  fenceMs: number;
  /** d's pull: how long, and how many keys d's replica holds after it. */
  pullMs: number;
  keysAfterPull: number;
  /** From the commit to d serving, and to the last moved room answered. */
  servingMs: number;
  allAnsweredMs: number;
  handoffsIn: number;
}

/** A whole phase must end within this, whatever happens. */
const DEADLINE_MS = 120_000;
const BATCH = 10_000;

/** An in-memory network: CBOR on the way, delivered in batches on a later macrotask. */
export function loopNetwork(): { transport(address: Address): Transport } {
  const handlers = new Map<Address, (from: Address, msg: Message) => void>();
  let queue: [Address, Address, Uint8Array][] = [];
  let scheduled = false;
  const deliver = (): void => {
    scheduled = false;
    const q = queue;
    queue = [];
    for (const [from, to, bytes] of q) handlers.get(to)?.(from, decode(bytes) as Message);
  };
  return {
    transport(address: Address): Transport {
      return {
        local: address,
        send(to, msg) {
          queue.push([address, to, encode(msg).slice()]);
          if (!scheduled) {
            scheduled = true;
            setImmediate(deliver);
          }
          return handlers.has(to);
        },
        onMessage(h) {
          handlers.set(address, h);
        },
        close: () => {
          handlers.delete(address);
          return Promise.resolve();
        },
      };
    },
  };
}

/** One committed configuration sequence, learned by every node in the same turn. */
export function configBoard(): { source(): ConfigSource; commit(holders: Holder[]): HolderConfig } {
  const log: HolderConfig[] = [];
  const subs = new Set<(c: HolderConfig) => void>();
  return {
    source: () => ({
      current: () => log[log.length - 1] ?? null,
      subscribe(fn) {
        subs.add(fn);
        return () => subs.delete(fn);
      },
    }),
    commit(holders) {
      const c: HolderConfig = { generation: 1, epoch: log.length + 1, previous: log.length, holders };
      log.push(c);
      for (const fn of [...subs]) fn(c);
      return c;
    },
  };
}

function heapUsed(): number {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  g.Bun?.gc(true);
  g.gc?.();
  return process.memoryUsage().heapUsed;
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = performance.now() + DEADLINE_MS;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`bench: ${what} did not happen in time`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

interface BenchNode {
  name: string;
  rep: ClusterReplicator;
  reg: ClusterRegistry;
  hlc: Hlc;
  /** performance.now() of its first fence question (adopt), its pull's start and end, and of reaching "serving" per epoch */
  fenceAt?: number;
  pullAt?: number;
  pulledAt?: number;
  servingAt: Map<number, number>;
}

export async function activate(count: number): Promise<Activation> {
  const net = loopNetwork();
  const world = new MembershipWorld();
  const board = configBoard();
  const nodes: BenchNode[] = [];
  const start = (name: string): BenchNode => {
    const address = `${name}:1`;
    const view = world.add(name, address);
    const channels = mux(net.transport(address));
    const hlc = new Hlc(world.idOf(name));
    const rep = createClusterReplicator({
      map: new LwwMap(),
      observe: (ts) => hlc.observe(ts, Date.now()),
      membership: view,
      transport: channels.channel("repl"),
      clock: realClock,
      random: cryptoRandom(),
      concern: "majority",
    });
    const node: BenchNode = { name, rep, reg: undefined as unknown as ClusterRegistry, hlc, servingAt: new Map() };
    const logger: Logger = {
      debug: () => {},
      info: (msg, f) => {
        if (msg === "serving") node.servingAt.set((f as { epoch: number }).epoch, performance.now());
      },
      warn: (msg, f) => process.stderr.write(`${name} warn ${msg} ${JSON.stringify(f ?? {})}\n`),
      error: (msg, f) => process.stderr.write(`${name} error ${msg} ${JSON.stringify(f ?? {})}\n`),
    };
    // The registry's channel, its first "adopt the fence" question timed.
    const regChannel = channels.channel("reg");
    const reg: Transport = {
      local: regChannel.local,
      send(to, msg) {
        if (msg.t === "fq" && msg["a"] === true) node.fenceAt ??= performance.now();
        return regChannel.send(to, msg);
      },
      onMessage: (h) => regChannel.onMessage(h),
      close: () => regChannel.close(),
    };
    // The real replicator, its pull timed (every call passed straight through).
    const timed: Replicator & FencingReplicator = {
      map: rep.map,
      write: (delta) => rep.write(delta),
      onChange: (fn) => rep.onChange(fn),
      flush: (ms) => rep.flush(ms),
      stats: () => rep.stats(),
      setEpoch: (e, h) => rep.setEpoch(e, h),
      adoptFence: (e) => rep.adoptFence(e),
      fence: () => rep.fence(),
      catchUpFrom(peers, need, timeoutMs) {
        node.pullAt = performance.now();
        return rep.catchUpFrom(peers, need, timeoutMs).then((r) => {
          node.pulledAt = performance.now();
          return r;
        });
      },
    };
    node.reg = createClusterRegistry({
      self: name,
      configs: board.source(),
      membership: view,
      transport: reg,
      replicator: timed,
      clock: realClock,
      random: cryptoRandom(),
      logger,
      hlc,
      config: { callTimeoutMs: 60_000, activationTimeoutMs: 60_000, mailboxLimit: 100_000, catchUpTimeoutMs: 60_000 },
    });
    // Room-like: a name, its record from the map (read when it starts), a set of occupants.
    node.reg.define("room:", (room) => {
      const record = rep.map.get(`room/${room}`);
      const occupants = new Set<string>();
      return {
        handle: (m: unknown) => {
          const msg = m as { op: string; who?: string };
          if (msg.op === "enter" && msg.who !== undefined) occupants.add(msg.who);
          return { n: occupants.size, record: record !== undefined };
        },
        beginHandoff: () => ({ occupants: [...occupants] }),
        endHandoff: (s: unknown) => {
          for (const o of (s as { occupants: string[] }).occupants) occupants.add(o);
        },
      };
    });
    nodes.push(node);
    return node;
  };
  const holders = (): Holder[] => nodes.map((n) => ({ name: n.name, id: world.idOf(n.name) }));
  const rooms = Array.from({ length: count }, (_, i) => `room:r${i}`);
  try {
    for (const n of ["a", "b", "c"]) start(n);
    board.commit(holders());
    await until("epoch 1 served", () => nodes.every((n) => n.reg.authoritative()));

    // The rooms' records, as the app would have written them, acknowledged by a majority.
    const p0 = performance.now();
    const a = nodes[0]!;
    for (let s = 0; s < count; s += 1000) {
      const keys = rooms.slice(s, s + 1000).map((r) => `room/${r}`);
      const values = keys.map((_, j) => ({ capacity: 10, title: `room ${s + j}` }));
      await a.rep.write(a.rep.map.setMany(keys, values, a.hlc.now(Date.now())));
    }
    const preloadSeconds = (performance.now() - p0) / 1000;

    const heapBefore = heapUsed();
    const t0 = performance.now();
    for (let s = 0; s < count; s += BATCH) {
      if (performance.now() - t0 > DEADLINE_MS) throw new Error("bench: deadline passed");
      const ps: Promise<unknown>[] = [];
      // Calls enter through every node, as clients would spread them.
      for (let i = s; i < Math.min(count, s + BATCH); i++) ps.push(nodes[i % 3]!.reg.call(rooms[i]!, { op: "enter", who: `p${i}` }));
      await Promise.all(ps);
    }
    const seconds = (performance.now() - t0) / 1000;
    const heapAfter = heapUsed();
    const perNode = nodes.map((n) => ({ name: n.name, processes: n.reg.stats().processes }));

    // Takeover: d joins; epoch 2 gives it its share.
    const d = start("d");
    const moved = rooms.filter((r) => ownerOf(r, ["a", "b", "c", "d"]) === "d");
    const c0 = performance.now();
    board.commit(holders());
    const answers: Promise<unknown>[] = [];
    for (let i = 0; i < moved.length; i++) answers.push(nodes[i % 3]!.reg.call(moved[i]!, { op: "enter", who: `q${i}` }));
    const got = (await Promise.all(answers)) as { n: number; record: boolean }[];
    const allAnsweredMs = performance.now() - c0;
    const wrong = got.filter((g) => g.n !== 2 || !g.record).length;
    if (wrong > 0) throw new Error(`bench: ${wrong} of ${moved.length} moved rooms lost their state or their record`);
    const served = d.servingAt.get(2);
    if (served === undefined || d.fenceAt === undefined || d.pullAt === undefined || d.pulledAt === undefined) {
      throw new Error("bench: d never fenced, pulled or served");
    }
    return {
      seconds,
      perNode,
      heapBefore,
      heapAfter,
      records: count,
      preloadSeconds,
      takeover: {
        moved: moved.length,
        leaseWaitMs: d.fenceAt - c0,
        fenceMs: d.pullAt - d.fenceAt,
        pullMs: d.pulledAt - d.pullAt,
        keysAfterPull: d.rep.map.size,
        servingMs: served - c0,
        allAnsweredMs,
        handoffsIn: d.reg.stats().handoffsIn,
      },
    };
  } finally {
    for (const n of nodes) {
      await n.reg.stop();
      n.rep.stop();
    }
  }
}
