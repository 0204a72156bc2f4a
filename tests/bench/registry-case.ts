/**
 * One system's side of the registry benchmark, run in a fresh child process
 * by registry.bench.ts so that no system's timings include another's heap,
 * JIT state or leftover sockets:
 *
 *   <runtime> tests/bench/registry-case.ts calls SYSTEM WARMUP CALLS TRIALS CONCURRENCY
 *   <runtime> tests/bench/registry-case.ts activate N
 *
 * SYSTEM is roomy (our cluster registry and cluster replicator over the TCP
 * transport, static membership, one committed configuration), moleculer (0.14's TCP transporter doing request/response: two
 * ServiceBrokers, UDP discovery off, static urls, an echo action) or
 * transport (our TCP transport alone carrying the same two messages per
 * call, the floor under ours). Both nodes of a system live in that one child
 * process and talk over loopback TCP. "activate": registry-activate.ts.
 * Prints one JSON line.
 */
import { createServer } from "node:net";
import { Hlc } from "../../core/crdt/hlc.ts";
import { LwwMap } from "../../core/crdt/lww-map.ts";
import { type ClusterRegistry, createClusterRegistry } from "../../mesh/registry/registry.ts";
import { type ClusterReplicator, createClusterReplicator } from "../../mesh/replication/replicator.ts";
import { cryptoRandom } from "../../adapter/random.ts";
import { realClock } from "../../adapter/clock.ts";
import { createTcpTransport, type TcpTransport } from "../../mesh/tcp/lanes.ts";
import { mux } from "../../mesh/types.ts";
import { MembershipWorld } from "../support/membership.ts";
import { activate, configBoard } from "./registry-activate.ts";

export type { Activation } from "./registry-activate.ts";

export type System = "roomy" | "moleculer" | "transport";

/** A whole loop must end within this, whatever happens. */
const DEADLINE_MS = 120_000;

export interface Run {
  seconds: number;
  calls: number;
  p50: number;
  p99: number;
  /** CPU time (user + system) of the whole process per call, microseconds: steadier than wall time on a busy machine. */
  cpuUs: number;
}

const payload = (i: number): { op: string; i: number; room: string } => ({ op: "echo", i, room: "kitchen" });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** `n` calls, at most `concurrency` in flight; per-call latency in ms. */
async function drive(n: number, concurrency: number, call: (i: number) => Promise<unknown>): Promise<Run> {
  const lat = new Float64Array(n);
  let next = 0;
  const deadline = performance.now() + DEADLINE_MS;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  async function worker(): Promise<void> {
    while (next < n) {
      if (performance.now() > deadline) throw new Error("bench: deadline passed");
      const i = next++;
      const s = performance.now();
      await call(i);
      lat[i] = performance.now() - s;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const sorted = Array.from(lat).sort((a, b) => a - b);
  return { seconds, calls: n, p50: sorted[Math.floor(n * 0.5)]!, p99: sorted[Math.floor(n * 0.99)]!, cpuUs: (cpu.user + cpu.system) / n };
}

interface Rig {
  call(i: number): Promise<unknown>;
  close(): Promise<void>;
}

async function roomyRig(): Promise<Rig> {
  const world = new MembershipWorld();
  const board = configBoard();
  const ts: TcpTransport[] = [];
  const reps: ClusterReplicator[] = [];
  const regs: ClusterRegistry[] = [];
  const close = async (): Promise<void> => {
    for (const r of regs) await r.stop();
    for (const r of reps) r.stop();
    for (const t of ts) await t.close();
  };
  try {
    for (const name of ["a", "b"]) {
      ts.push(await createTcpTransport({ bind: "127.0.0.1:0", name, id: `${name}-1`, cookie: "bench" }));
    }
    for (const [i, name] of ["a", "b"].entries()) world.add(name, ts[i]!.local);
    for (const [i, name] of ["a", "b"].entries()) {
      // Channels of their own, as in a node (the channel adds a field to every message).
      const channels = mux(ts[i]!);
      const hlc = new Hlc(world.idOf(name));
      const rep = createClusterReplicator({
        map: new LwwMap(),
        observe: (t) => hlc.observe(t, Date.now()),
        membership: world.view(name),
        transport: channels.channel("repl"),
        clock: realClock,
        random: cryptoRandom(),
        concern: "majority",
      });
      reps.push(rep);
      const reg = createClusterRegistry({
        self: name,
        configs: board.source(),
        membership: world.view(name),
        transport: channels.channel("reg"),
        replicator: rep,
        clock: realClock,
        random: cryptoRandom(),
        hlc,
      });
      reg.define("echo:", () => ({ handle: (m: unknown) => m }));
      regs.push(reg);
    }
    board.commit(["a", "b"].map((name) => ({ name, id: world.idOf(name) })));
    // Names owned by b, called from a: every call crosses the wire.
    const names: string[] = [];
    for (let i = 0; names.length < 256 && i < 100_000; i++) if (regs[0]!.ownerOf(`echo:${i}`) === "b") names.push(`echo:${i}`);
    const a = regs[0]!;
    const deadline = performance.now() + 10_000;
    while (!regs.every((r) => r.authoritative())) {
      if (performance.now() > deadline) throw new Error("bench: not serving");
      await new Promise((r) => setTimeout(r, 5));
    }
    return { call: (i) => a.call(names[i % names.length]!, payload(i)), close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function moleculerRig(): Promise<Rig> {
  // moleculer is CommonJS without types: a narrow local shape is all we use.
  type Broker = {
    start(): Promise<void>;
    stop(): Promise<void>;
    createService(s: unknown): void;
    waitForServices(names: string[], timeout: number): Promise<void>;
    call(action: string, params: unknown): Promise<unknown>;
  };
  const mod = (await import("moleculer")) as unknown as { ServiceBroker: new (o: unknown) => Broker };
  const [pa, pb] = [await freePort(), await freePort()];
  const broker = (id: string, port: number, peer: string): Broker =>
    new mod.ServiceBroker({
      nodeID: id,
      logger: false,
      transporter: { type: "TCP", options: { udpDiscovery: false, port, urls: [peer] } },
    });
  const a = broker("ma", pa, `127.0.0.1:${pb}/mb`);
  const b = broker("mb", pb, `127.0.0.1:${pa}/ma`);
  b.createService({ name: "echo", actions: { hi: (ctx: { params: unknown }) => ctx.params } });
  const close = async (): Promise<void> => {
    await a.stop();
    await b.stop();
  };
  try {
    await Promise.all([a.start(), b.start()]);
    await a.waitForServices(["echo"], 20_000);
    return { call: (i) => a.call("echo.hi", payload(i)), close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The floor under ours: the same two messages per call (a call tuple, a
 * reply) over the same transport and channel, with no registry at all.
 */
async function transportRig(): Promise<Rig> {
  const a = await createTcpTransport({ bind: "127.0.0.1:0", name: "ra", id: "ra-1", cookie: "bench" });
  const b = await createTcpTransport({ bind: "127.0.0.1:0", name: "rb", id: "rb-1", cookie: "bench" });
  const ca = mux(a).channel("reg");
  const cb = mux(b).channel("reg");
  cb.onMessage((from, m) => {
    const t = m["a"] as [number, string, unknown];
    cb.send(from, { t: "r", id: t[0], v: t[2] });
  });
  const pending = new Map<number, () => void>();
  ca.onMessage((_from, m) => {
    const id = m["id"] as number;
    const done = pending.get(id);
    pending.delete(id);
    done?.();
  });
  let seq = 0;
  return {
    call: (i) =>
      new Promise<void>((resolve) => {
        const id = seq++;
        pending.set(id, resolve);
        ca.send(b.local, { t: "c", a: [id, "echo:1", payload(i), 0, 5000] });
      }),
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

const RIGS: Record<System, () => Promise<Rig>> = { roomy: roomyRig, moleculer: moleculerRig, transport: transportRig };

/** Warm up, then `trials` measured runs of `calls` calls, all on one rig. */
export async function callsCase(system: System, warmup: number, calls: number, trials: number, concurrency: number): Promise<Run[]> {
  const rig = await RIGS[system]();
  try {
    await drive(warmup, concurrency, rig.call);
    const runs: Run[] = [];
    for (let t = 0; t < trials; t++) runs.push(await drive(calls, concurrency, rig.call));
    return runs;
  } finally {
    await rig.close();
  }
}

if (import.meta.main) {
  const [mode, ...args] = process.argv.slice(2);
  let out: unknown;
  if (mode === "calls") {
    const [system, warmup, calls, trials, concurrency] = args;
    if (system !== "roomy" && system !== "moleculer" && system !== "transport") throw new Error(`unknown system ${system}`);
    out = await callsCase(system, Number(warmup), Number(calls), Number(trials), Number(concurrency));
  } else if (mode === "activate") {
    out = await activate(Number(args[0] ?? 100_000));
  } else {
    throw new Error("usage: registry-case.ts calls SYSTEM WARMUP CALLS TRIALS CONCURRENCY | activate N");
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
}
