/**
 * The long soak of the whole-system simulation (the chaos scenario of
 * chaos.test.ts) over many seeds, in parallel worker processes:
 *
 *   npx bun tests/sim-apps/soak.ts [--seeds 1000] [--from 1] [--jobs 2]
 *     [--workload-ms 20000] [--cap-s 120] [--verbose] [--json out.json]
 *     [--jsonl seeds.jsonl]
 *
 * Prints the seeds that broke an invariant (which one, its first line, the
 * command that replays the seed), those over the per-seed time cap, those
 * whose worker failed, and the wall time. Exits 1 unless every seed ran clean.
 * --json writes every report at the end; --jsonl appends each as it comes,
 * so a soak killed half-way still says exactly which seeds ran.
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { runPool, type SeedReport } from "./soak-pool.ts";
import { type Invariant, shapeOf, soakReplay, WORKLOAD_MS } from "./soak-scenario.ts";

const { values: a } = parseArgs({
  options: {
    seeds: { type: "string", default: "1000" },
    from: { type: "string", default: "1" },
    jobs: { type: "string", default: String(Math.min(2, availableParallelism())) },
    "workload-ms": { type: "string", default: String(WORKLOAD_MS.soak) },
    "cap-s": { type: "string", default: "120" },
    verbose: { type: "boolean", default: false },
    json: { type: "string" },
    jsonl: { type: "string" },
  },
});
const int = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
  return n;
};
const count = int("seeds", a.seeds, 1);
const from = int("from", a.from, 0);
const jobs = int("jobs", a.jobs, 1);
const workloadMs = int("workload-ms", a["workload-ms"], 0);
const capMs = int("cap-s", a["cap-s"], 1) * 1000;
const seeds = Array.from({ length: count }, (_, i) => from + i);

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const firstLine = (s: string): string => (s.split("\n")[0] ?? "").slice(0, 240);

console.log(`soak: ${count} chaos seeds (${from}-${from + count - 1}), ${secs(workloadMs)} virtual workload each, ${jobs} jobs, cap ${secs(capMs)} real per seed`);
const started = performance.now();
let finished = 0;
const onReport = (r: SeedReport): void => {
  finished++;
  if (a.jsonl !== undefined) appendFileSync(a.jsonl, `${JSON.stringify(r)}\n`);
  if (r.status === "done" && Object.keys(r.outcome.broken).length > 0) {
    console.log(`seed ${r.seed}: broke ${Object.keys(r.outcome.broken).join(", ")} (${secs(r.wallMs)})`);
  } else if (r.status === "overtime") console.log(`seed ${r.seed}: over time (${secs(r.wallMs)})`);
  else if (r.status === "error") console.log(`seed ${r.seed}: error: ${firstLine(r.error)}`);
  if (a.verbose && r.status === "done") {
    const o = r.outcome;
    console.log(`seed ${o.seed} (${shapeOf(o.seed)}): ${secs(o.virtualMs)} virtual in ${secs(o.realMs)} (${secs(o.cpuMs)} CPU), ops ${JSON.stringify(o.ops)}`);
    for (const [k, lines] of Object.entries(o.broken)) console.log(`  ${k}:\n    ${lines.join("\n    ")}`);
    if (Object.keys(o.broken).length > 0) console.log(`  faults:\n    ${o.faultLog.join("\n    ")}`);
  }
  if (a.verbose && r.status === "error") console.log(r.error);
  if (finished % 50 === 0) {
    const el = performance.now() - started;
    console.log(`... ${finished}/${count} seeds in ${secs(el)} (${secs((el / finished) * (count - finished))} to go)`);
  }
};
const reports = await runPool({ runs: seeds.map((seed) => ({ seed, workloadMs })), jobs, capMs, onReport });
const wallMs = performance.now() - started;
reports.sort((x, y) => x.seed - y.seed);

const done = reports.flatMap((r) => (r.status === "done" ? [r] : []));
const clean = done.filter((r) => Object.keys(r.outcome.broken).length === 0);
const bad = done.filter((r) => Object.keys(r.outcome.broken).length > 0);
const over = reports.filter((r) => r.status === "overtime");
const errors = reports.flatMap((r) => (r.status === "error" ? [r] : []));
const byInvariant = new Map<Invariant, number[]>();
for (const r of bad) for (const k of Object.keys(r.outcome.broken) as Invariant[]) byInvariant.set(k, [...(byInvariant.get(k) ?? []), r.seed]);

console.log(`\n==== soak summary: ${count} seeds, ${secs(workloadMs)} virtual workload, ${jobs} jobs ====`);
console.log(`clean: ${clean.length}`);
console.log(`with violations: ${bad.length}`);
for (const [k, ss] of byInvariant) console.log(`  ${k}: ${ss.length} (seeds ${ss.join(", ")})`);
for (const r of bad) {
  console.log(`  seed ${r.seed} (${shapeOf(r.seed)}):`);
  for (const [k, lines] of Object.entries(r.outcome.broken)) console.log(`    ${k}: ${firstLine(lines[0] ?? "")}${lines.length > 1 ? ` (${lines.length} lines)` : ""}`);
  console.log(`    replay: ${soakReplay(r.seed, workloadMs)}`);
}
console.log(`over time (cap ${secs(capMs)}): ${over.length}${over.length > 0 ? ` (seeds ${over.map((r) => r.seed).join(", ")})` : ""}`);
for (const r of over) console.log(`  replay: ${soakReplay(r.seed, workloadMs)} --cap-s 3600`);
console.log(`errors: ${errors.length}`);
for (const r of errors) console.log(`  seed ${r.seed}: ${firstLine(r.error)}\n    replay: ${soakReplay(r.seed, workloadMs)}`);
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
const real = done.map((r) => r.outcome.realMs);
const cpu = mean(done.map((r) => r.outcome.cpuMs));
console.log(
  `wall time: ${secs(wallMs)} (${secs(wallMs / count)} per seed over ${jobs} jobs); one seed: mean ${secs(mean(real))}, max ${secs(Math.max(0, ...real))} real, ` +
    `mean ${secs(cpu)} CPU in its worker (1,000 seeds on ${jobs} idle cores: ~${Math.round((cpu * 1000) / jobs / 60_000)} min)`,
);
if (a.json !== undefined) writeFileSync(a.json, JSON.stringify({ count, from, jobs, workloadMs, capMs, wallMs, reports }, null, 1));
process.exit(bad.length > 0 || errors.length > 0 || over.length > 0 ? 1 : 0);
