/**
 * who-is-in latency of the scale benchmark, with its floors timed by the
 * same client loop at the same moment (the loaded cluster idle beside them):
 *
 *   roomy       GET /v1/who-is-in of a random room on node 1, answered from
 *               node 1's replica under its read lease (read-lease.ts: no
 *               round trip), or, without one, behind its read barrier (one
 *               small round trip to the other holders, cover-barrier.ts)
 *   bare serve  a bare Bun.serve answering a fixed list (read-floor-server.ts)
 *   bare hop    a bare Bun.serve forwarding each request over raw TCP to a
 *               second Bun process and answering with its reply
 *
 * Chunks of CHUNK calls alternate between the three, the order rotating each
 * round. Around each call (outside its timed span) the main threads on its
 * path and the client's are read from /proc/<pid>/task/<pid>/schedstat: time
 * on a CPU and time runnable but waiting for one, during the call. That says
 * of a slow call whether a process on its path was waiting on the scheduler
 * or running long, which the latency alone cannot.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { call, pct, roomName, type RoomPicker } from "../support/walk-load.ts";
import { track } from "../support/procs.ts";
import type { ScaleNode } from "./scale-procs.ts";

/** Calls per chunk; chunks alternate between the systems. */
const CHUNK = 100;
/** Unmeasured calls to each system first (JIT of every path involved). */
const WARMUP = 300;
/** A call slower than this counts as slow (the goal's bound). */
const SLOW_MS = 1;
/** Run-queue wait during a call that counts as "waited on the scheduler" (ms). */
const WAITED_MS = 0.25;

export interface ReadSeries {
  label: string;
  /** latencies in ms, sorted */
  ms: number[];
  /** calls over SLOW_MS, and of those: a process on the path (client included) waited >= WAITED_MS for a CPU; a server main thread ran >= SLOW_MS/2 */
  slow: number;
  slowWaited: number;
  slowBusy: number;
  /** median per call: server main threads' CPU time (µs, summed over the path) */
  serverCpuUs: number;
}

export interface ReadFigures {
  series: ReadSeries[];
  /** roomy's calls (local and forwarded together): the goal's figure */
  all: number[];
  codes: Record<string, number>;
  rounds: number;
  chunk: number;
  warmup: number;
  /** node 1's own histogram of who-is-in (handler start to answer made), over the measured calls: count per upper bound (s) */
  serverHist: { le: string; n: number }[];
  /** node 1's reads over the measured calls, by how they were made fresh (roomy_read_lease_reads_total) */
  leaseReads: { lease: number; barrier: number } | null;
  notes: string[];
}

interface Sched {
  run: number;
  wait: number;
}

function sched(pid: number): Sched {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ");
    return { run: Number(run) / 1e6, wait: Number(wait) / 1e6 };
  } catch {
    return { run: NaN, wait: NaN };
  }
}

interface Floor {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  port: number;
}

/** Starts a mode of read-floor-server.ts; resolves at its "ready PORT" line. */
async function startFloor(args: string[]): Promise<Floor> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "read-floor-server.ts"), ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  track(proc);
  void new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  let out = "";
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const next = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, deadline - Date.now())))]);
    if (next === null || next.done) break;
    out += new TextDecoder().decode(next.value);
    const m = /ready (\d+)/.exec(out);
    if (m !== null) {
      reader.releaseLock();
      return { proc, port: Number(m[1]) };
    }
  }
  proc.kill("SIGKILL");
  throw new Error(`read-floor-server ${args.join(" ")} did not print its port: ${out.slice(0, 200)}`);
}

/** node 1's reads by path (roomy_read_lease_reads_total), or null if absent. */
async function leaseReads(node: ScaleNode): Promise<{ lease: number; barrier: number } | null> {
  const text = await node.metrics();
  const read = (path: string) => {
    const m = new RegExp(`^roomy_read_lease_reads_total\\{path="${path}"\\} (\\S+)$`, "m").exec(text);
    return m === null ? null : Number(m[1]);
  };
  const lease = read("lease");
  const barrier = read("barrier");
  return lease === null || barrier === null ? null : { lease, barrier };
}

/** node 1's who-is-in histogram buckets (cumulative counts by `le`). */
async function whoHist(node: ScaleNode): Promise<Map<string, number>> {
  const text = await node.metrics();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("roomy_http_request_duration_seconds_bucket{") || !line.includes('route="/v1/who-is-in"')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le !== undefined) out.set(le, Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return out;
}

interface Target {
  label: string;
  url: (i: number) => { url: string; series: string; pids: number[] };
}

/**
 * `perSystem` measured calls to each of roomy (random rooms on node 1),
 * the bare server and the bare hop, interleaved in chunks.
 */
export async function readLatencies(nodes: ScaleNode[], picker: RoomPicker, perSystem: number): Promise<ReadFigures> {
  const notes: string[] = [];
  const node1 = nodes[0]!;
  const pidOf = new Map(nodes.map((n) => [n.name, n.pid]));
  const floors: Floor[] = [];
  try {
    const serve = await startFloor(["serve"]);
    floors.push(serve);
    const owner = await startFloor(["owner"]);
    floors.push(owner);
    const hop = await startFloor(["hop", String(owner.port)]);
    floors.push(hop);
    const targets: Target[] = [
      {
        label: "roomy",
        url: () => {
          const room = roomName(picker.any());
          // The barrier asks both other holders: all three are on the call's path.
          return { url: `${node1.url}/v1/who-is-in?room=${room}`, series: "roomy", pids: [...pidOf.values()] };
        },
      },
      { label: "bare serve", url: () => ({ url: `http://127.0.0.1:${serve.port}/who?room=r1`, series: "bare Bun.serve", pids: [serve.proc.pid] }) },
      { label: "bare hop", url: (i) => ({ url: `http://127.0.0.1:${hop.port}/who?room=r${i}`, series: "bare two-process hop", pids: [hop.proc.pid, owner.proc.pid] }) },
    ];
    const codes: Record<string, number> = {};
    for (const t of targets) {
      for (let i = 0; i < WARMUP; i++) await call(t.url(i).url, undefined, 10_000);
    }
    (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);
    const series = new Map<string, { ms: number[]; slow: number; slowWaited: number; slowBusy: number; cpu: number[] }>();
    const all: number[] = [];
    const h0 = await whoHist(node1);
    const l0 = await leaseReads(node1);
    const rounds = Math.ceil(perSystem / CHUNK);
    const self = process.pid;
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(round + k) % targets.length]!;
        for (let i = 0; i < CHUNK; i++) {
          const { url, series: name, pids } = t.url(round * CHUNK + i);
          const before = pids.map(sched);
          const c0 = sched(self);
          const t0 = performance.now();
          const o = await call(url, undefined, 10_000);
          const ms = performance.now() - t0;
          const c1 = sched(self);
          const after = pids.map(sched);
          if (t.label === "roomy") {
            const key = o.ok ? "ok" : o.code;
            codes[key] = (codes[key] ?? 0) + 1;
            all.push(ms);
          } else if (!o.ok) notes.push(`${t.label}: ${o.code} ${o.message ?? ""}`.slice(0, 200));
          let s = series.get(name);
          if (s === undefined) series.set(name, (s = { ms: [], slow: 0, slowWaited: 0, slowBusy: 0, cpu: [] }));
          s.ms.push(ms);
          const waits = after.map((a, j) => a.wait - before[j]!.wait);
          const runs = after.map((a, j) => a.run - before[j]!.run);
          s.cpu.push(runs.reduce((x, y) => x + y, 0) * 1000);
          if (ms > SLOW_MS) {
            s.slow++;
            if (Math.max(c1.wait - c0.wait, ...waits) >= WAITED_MS) s.slowWaited++;
            if (Math.max(...runs) >= SLOW_MS / 2) s.slowBusy++;
          }
        }
      }
    }
    const h1 = await whoHist(node1);
    const l1 = await leaseReads(node1);
    const lease = l0 === null || l1 === null ? null : { lease: l1.lease - l0.lease, barrier: l1.barrier - l0.barrier };
    const order = ["roomy", "bare Bun.serve", "bare two-process hop"];
    const out: ReadSeries[] = order.filter((n) => series.has(n)).map((n) => {
      const s = series.get(n)!;
      const cpu = s.cpu.sort((a, b) => a - b);
      return { label: n, ms: s.ms.sort((a, b) => a - b), slow: s.slow, slowWaited: s.slowWaited, slowBusy: s.slowBusy, serverCpuUs: pct(cpu, 50) };
    });
    const serverHist = [...h1.entries()].map(([le, n]) => ({ le, n: n - (h0.get(le) ?? 0) }));
    return { series: out, all: all.sort((a, b) => a - b), codes, rounds, chunk: CHUNK, warmup: WARMUP, serverHist, leaseReads: lease, notes };
  } finally {
    for (const f of floors) f.proc.kill("SIGKILL");
  }
}

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");

/** The report's lines on the reads: a table per system, then what each floor leaves out. */
export function readsReport(r: ReadFigures): string[] {
  const out: string[] = [];
  out.push(`who-is-in against its floors, one client, sequential calls timed from the request to the whole body; chunks of ${r.chunk} calls alternate between roomy, the bare server and the bare hop (order rotating), ${r.rounds} rounds, after ${r.warmup} unmeasured calls to each. "waited": a process on the call's path (its server main threads or the client) was runnable but off a CPU for >= ${WAITED_MS} ms during the call (schedstat); "ran": a server main thread was on a CPU >= ${SLOW_MS / 2} ms during it.`);
  out.push("");
  out.push(`| system | calls | p50 | p99 | p99.9 | max | over ${SLOW_MS} ms | of those, waited | of those, ran | server CPU per call (median) |`);
  out.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const s of r.series) {
    out.push(`| ${s.label} | ${s.ms.length} | ${f2(pct(s.ms, 50))} ms | ${f2(pct(s.ms, 99))} ms | ${f2(pct(s.ms, 99.9))} ms | ${f2(s.ms.at(-1) ?? NaN)} ms | ${s.slow} | ${s.slowWaited} | ${s.slowBusy} | ${Math.round(s.serverCpuUs)} µs |`);
  }
  out.push("");
  const p99 = (label: string) => pct(r.series.find((s) => s.label === label)?.ms ?? [], 99);
  const over = (a: string, b: string) => `${f2(p99(a))} - ${f2(p99(b))} = ${f2(p99(a) - p99(b))} ms`;
  out.push(`What roomy adds at p99: over the bare server (one process answering from memory, as roomy does under its read lease) ${over("roomy", "bare Bun.serve")}; over the bare hop (a round trip between two processes, as roomy's read barrier makes one to its peers) ${over("roomy", "bare two-process hop")}. A floor over ${SLOW_MS} ms at p99 is this machine at that moment (its cores shared with other work): the goal cannot be shown then, whatever roomy does.`);
  const l = r.leaseReads;
  out.push("");
  out.push(l === null ? "Node 1's reads by path: not read." : `Node 1's reads over these calls, by how it knew its replica held every acknowledged write (roomy_read_lease_reads_total): ${l.lease} under its read lease, ${l.barrier} behind the read barrier.`);
  out.push("");
  const hist = r.serverHist.filter((b) => b.n > 0).map((b) => `<= ${b.le} s: ${b.n}`).join(", ");
  out.push(`Node 1's own who-is-in histogram over these calls (handler start to answer made, cumulative): ${hist || "not read"}.`);
  for (const n of r.notes.slice(0, 5)) out.push(`- ${n}`);
  return out;
}

/** What each floor leaves out, for the report's list. */
export const READS_LEAVE_OUT = [
  "The bare Bun.serve floor leaves out everything but one process's HTTP: no mesh hop, no roomy work (its own HTTP parser, routing, the registry, the room index, JSON of the list), and a small heap (a roomy node holds ~400 MB, so its garbage collections cost more).",
  "The bare hop floor leaves out roomy's work on both sides (registry routing and call table, CBOR frames, the owner's handler) and its periodic work (gossip, probes, anti-entropy, timers): each of its processes does nothing between calls. It writes from the data callback where roomy's mesh writes once per turn (setImmediate).",
  "roomy answers who-is-in from the reached node's replica: under its read lease at once (the lease's own traffic, an ask and a grant with each peer every 100 ms, is not on the call's path), or, without one, behind its read barrier (it asks the other nodes for their covers and answers once one is contained: a round trip, as the hop floor's).",
];
