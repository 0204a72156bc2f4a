/**
 * Registry benchmarks.
 *
 * (a) Remote calls between two nodes on loopback over real TCP: our cluster
 *     registry (TCP transport, its cluster replicator beside it on the same
 *     connection, static membership) against moleculer 0.14's TCP
 *     transporter doing request/response (two ServiceBrokers, UDP discovery
 *     off, static urls, an echo action), plus our transport alone with the
 *     same messages, the floor under the registry. Same payload, same number
 *     of calls, same concurrency.
 * (b) Activating 100,000 room-like processes over 3 registries in one process,
 *     each with the real cluster replicator and a record per room in the
 *     replicated map, talking over an in-memory loop network (every message
 *     CBOR-encoded and delivered on a later macrotask, as a socket would):
 *     time, and heap used. Then a fourth node joins and takes its share over:
 *     the wait for old leases, the real fence round, the pull of the whole
 *     map, and the handoffs (registry-activate.ts).
 *
 * Fairness: every system runs in its own fresh child process
 * (registry-case.ts; both of its nodes inside it), one round after another,
 * the systems alternating within each round, so none pays for another's
 * heap, JIT state or sockets, and the machine's drifting load falls on all.
 *
 * Run alone: bun tests/bench/registry.bench.ts
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Activation, Run, System } from "./registry-case.ts";

export interface BenchSection {
  title: string;
  markdown: string;
}

const ROUNDS = 3;
const WARMUP = 20_000;
const CALLS = 30_000;
/** Measured trials per process. */
const TRIALS = 3;
const CONCURRENCY = 64;
const ACTIVATIONS = 100_000;
const CHILD_DEADLINE_MS = 300_000;
const SYSTEMS: System[] = ["roomy", "moleculer", "transport"];

function runChild<T>(args: string[]): Promise<T> {
  const script = fileURLToPath(new URL("./registry-case.ts", import.meta.url));
  const isDeno = "Deno" in globalThis;
  const argv = [...(isDeno ? ["run", "-A", "--v8-flags=--expose-gc"] : []), script, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_DEADLINE_MS);
    child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !(line.startsWith("{") || line.startsWith("["))) {
        return reject(new Error(`registry-case ${args.join(" ")} exited ${code}: ${out.slice(-500)}`));
      }
      resolve(JSON.parse(line) as T);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const rate = (r: Run): number => r.calls / r.seconds;

interface Summary {
  rate: number;
  p50: number;
  p99: number;
  cpuUs: number;
  all: number[];
}

function summary(runs: Run[]): Summary {
  return {
    rate: median(runs.map(rate)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    cpuUs: median(runs.map((r) => r.cpuUs)),
    all: runs.map(rate),
  };
}

const f0 = (x: number): string => Math.round(x).toLocaleString("en-US");
const f2 = (x: number): string => x.toFixed(2);
const mb = (x: number): string => (x / 1024 / 1024).toFixed(1);
const k = (x: number): string => `${Math.round(x / 1000)}k`;

export async function run(): Promise<BenchSection> {
  const rounds: Record<System, Run[]>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round = {} as Record<System, Run[]>;
    for (const system of SYSTEMS) {
      round[system] = await runChild<Run[]>(["calls", system, String(WARMUP), String(CALLS), String(TRIALS), String(CONCURRENCY)]);
    }
    rounds.push(round);
  }
  const act = await runChild<Activation>(["activate", String(ACTIVATIONS)]);
  const all = (s: System): Run[] => rounds.flatMap((r) => r[s]);
  const ours = summary(all("roomy"));
  const theirs = summary(all("moleculer"));
  const floor = summary(all("transport"));
  const perRound = rounds.map((r) => median(r.roomy.map(rate)) / median(r.moleculer.map(rate)));
  const total = act.perNode.reduce((s, n) => s + n.processes, 0);
  const to = act.takeover;
  const delta = act.heapAfter - act.heapBefore;
  const row = (name: string, s: Summary): string =>
    `| ${name} | ${f0(s.rate)} | ${f2(s.p50)} | ${f2(s.p99)} | ${f2(s.cpuUs)} | ${s.all.map(k).join(" ")} |`;
  const lines = [
    `Remote calls, node A -> process on node B over loopback TCP, payload \`{op, i, room}\` echoed back, ${CONCURRENCY} calls in flight for every system. Each system runs in its own fresh process (both of its nodes inside it): ${ROUNDS} rounds, the systems alternating within each round; each process makes ${f0(WARMUP)} warm-up calls, then ${TRIALS} trials of ${f0(CALLS)} calls. Figures are medians over the ${ROUNDS * TRIALS} trials of each system.`,
    "",
    "| system | calls/s | p50 ms | p99 ms | CPU µs per call (both nodes) | every trial, calls/s |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
    row('roomy registry (TCP transport, "reg" channel; its cluster replicator beside it on "repl")', ours),
    row("moleculer 0.14 (TCP transporter)", theirs),
    row("(reference) our TCP transport alone, same two messages, no registry", floor),
    "",
    `Throughput ratio roomy / moleculer (medians): **${(ours.rate / theirs.rate).toFixed(2)}x** (goal: 5x — ${ours.rate / theirs.rate >= 5 ? "met" : "not met in this run"}); per round: ${perRound.map((x) => `${x.toFixed(2)}x`).join(", ")}. CPU per call, moleculer / roomy: **${(theirs.cpuUs / ours.cpuUs).toFixed(2)}x**. p50 latency, moleculer / roomy: ${(theirs.p50 / ours.p50).toFixed(2)}x. The registry's own share of the CPU per call is about ${f2(Math.max(0, ours.cpuUs - floor.cpuUs))} µs of ${f2(ours.cpuUs)}; the rest is the transport, the CBOR codec and the benchmark's own loop. Both nodes share one process (and so one JS thread) in every system: calls/s is bounded by the CPU per call.`,
    "",
    `Activating ${f0(ACTIVATIONS)} room-like processes over 3 registries in one fresh process (in-memory loop network, CBOR per message; each node a real cluster replicator, write concern majority, the map holding one record per room, ${f0(act.records)} records written first in ${f2(act.preloadSeconds)} s; each process reads its record when it starts; calls entered through all three nodes, 10,000 at a time): **${f2(act.seconds)} s** (${f0(ACTIVATIONS / act.seconds)} activations/s).`,
    "",
    "| node | processes |",
    "| --- | ---: |",
    ...act.perNode.map((n) => `| ${n.name} | ${f0(n.processes)} |`),
    "",
    `Heap used (whole process, after GC, the map's ${f0(act.records)} records already in it): ${mb(act.heapBefore)} MB before, ${mb(act.heapAfter)} MB after: ${mb(delta)} MB for ${f0(total)} processes, about ${f0(delta / Math.max(1, total))} bytes per process, so about ${mb(delta / 3)} MB per node.`,
    "",
    `Takeover: a fourth node d starts and the configuration {a, b, c, d} is committed (epoch 2); the ${f0(to.moved)} rooms d now owns are called at once through a, b and c. d serves them only after leases granted under epoch 1 ran out, a majority adopted the new fence, and it pulled the map from the nodes that answered; each room's occupants come over in its previous owner's handoff (${f0(to.handoffsIn)} received) and its record from d's own replica (both checked on every answer).`,
    "",
    "| phase (from the commit of epoch 2) | ms |",
    "| --- | ---: |",
    `| wait for leases granted under epoch 1 to run out (d then asks for the fence) | ${f0(to.leaseWaitMs)} |`,
    `| fence round: a majority adopted epoch 2 (d's pull starts) | ${f0(to.fenceMs)} |`,
    `| pull: anti-entropy with those nodes, d's replica then holds ${f0(to.keysAfterPull)} keys | ${f0(to.pullMs)} |`,
    `| **d serving** | **${f0(to.servingMs)}** |`,
    `| every moved room answered (handoffs included) | ${f0(to.allAnsweredMs)} |`,
    "",
    `The lease wait is the registry's rule, not the machine's: d asks the holders how long the longest vouch they gave a node still at epoch 1 may count (a vouch lasts leaseMs + 150 ms = 1,650 ms by default) and waits that out, asking again every retryMs; a vouch stops counting once its node pings at epoch 2, so among long-running nodes the wait is about a round trip. Here d is a process started just before the commit, and a process younger than a vouch window answers for the vouches an earlier life of it may have given (it might be a restart under the same name), so the wait is about that window from d's start. All four nodes share one JS thread and one FIFO loop network, so the fence round and the pull queue behind the join's ${f0(to.handoffsIn)} handoffs, the calls and the anti-entropy traffic of all four; on separate machines each node's share would run in parallel, though d would still read each fence reply behind the handoffs sent to it on the same link. Left out: Raft (the configuration is committed at once and every node learns it in the same turn; a real commit adds a few round trips and the wait for a caught-up majority), SWIM (static membership) and TCP (the loop network has no kernel or syscalls).`,
  ];
  return { title: "Registry: remote calls, activation and takeover", markdown: lines.join("\n") };
}

if (import.meta.main) {
  const r = await run();
  console.log(`## ${r.title}\n\n${r.markdown}`);
  process.exit(0);
}
