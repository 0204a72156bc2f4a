/**
 * Registry benchmarks.
 *
 * (a) Remote calls between two nodes on loopback over real TCP: our cluster
 *     registry (TCP transport, static membership) against moleculer 0.14's TCP
 *     transporter doing request/response (two ServiceBrokers, UDP discovery
 *     off, static urls, an echo action), plus our transport alone with the
 *     same messages, the floor under the registry. Same payload, same number
 *     of calls, same concurrency.
 * (b) Activating 100,000 room-like processes over 3 registries in one process,
 *     talking over an in-memory loop network (every message CBOR-encoded and
 *     delivered on a later macrotask, as a socket would): time, and heap used.
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
  const delta = act.heapAfter - act.heapBefore;
  const row = (name: string, s: Summary): string =>
    `| ${name} | ${f0(s.rate)} | ${f2(s.p50)} | ${f2(s.p99)} | ${f2(s.cpuUs)} | ${s.all.map(k).join(" ")} |`;
  const lines = [
    `Remote calls, node A -> process on node B over loopback TCP, payload \`{op, i, room}\` echoed back, ${CONCURRENCY} calls in flight for every system. Each system runs in its own fresh process (both of its nodes inside it): ${ROUNDS} rounds, the systems alternating within each round; each process makes ${f0(WARMUP)} warm-up calls, then ${TRIALS} trials of ${f0(CALLS)} calls. Figures are medians over the ${ROUNDS * TRIALS} trials of each system.`,
    "",
    "| system | calls/s | p50 ms | p99 ms | CPU µs per call (both nodes) | every trial, calls/s |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
    row('roomy registry (TCP transport, "reg" channel)', ours),
    row("moleculer 0.14 (TCP transporter)", theirs),
    row("(reference) our TCP transport alone, same two messages, no registry", floor),
    "",
    `Throughput ratio roomy / moleculer (medians): **${(ours.rate / theirs.rate).toFixed(2)}x** (goal: 5x — ${ours.rate / theirs.rate >= 5 ? "met" : "not met in this run"}); per round: ${perRound.map((x) => `${x.toFixed(2)}x`).join(", ")}. CPU per call, moleculer / roomy: **${(theirs.cpuUs / ours.cpuUs).toFixed(2)}x**. p50 latency, moleculer / roomy: ${(theirs.p50 / ours.p50).toFixed(2)}x. The registry's own share of the CPU per call is about ${f2(Math.max(0, ours.cpuUs - floor.cpuUs))} µs of ${f2(ours.cpuUs)}; the rest is the transport, the CBOR codec and the benchmark's own loop. Both nodes share one process (and so one JS thread) in every system: calls/s is bounded by the CPU per call.`,
    "",
    `Activating ${f0(ACTIVATIONS)} room-like processes over 3 registries in one fresh process (in-memory loop network, CBOR per message; calls entered through all three nodes, 10,000 at a time): **${f2(act.seconds)} s** (${f0(ACTIVATIONS / act.seconds)} activations/s).`,
    "",
    "| node | processes |",
    "| --- | ---: |",
    ...act.perNode.map((n) => `| ${n.name} | ${f0(n.processes)} |`),
    "",
    `Heap used (whole process, after GC): ${mb(act.heapBefore)} MB before, ${mb(act.heapAfter)} MB after: ${mb(delta)} MB for ${f0(total)} processes, about ${f0(delta / Math.max(1, total))} bytes per process, so about ${mb(delta / 3)} MB per node.`,
  ];
  return { title: "Registry: remote calls and activation", markdown: lines.join("\n") };
}

if (import.meta.main) {
  const r = await run();
  console.log(`## ${r.title}\n\n${r.markdown}`);
  process.exit(0);
}
