/**
 * The replicated map, end to end: 100,000 keys set on one replica, the state
 * encoded, and decoded + merged into an empty replica. roomy's LwwMap against
 * Yjs (Y.Map in one transaction, encodeStateAsUpdate, applyUpdate into a
 * fresh doc) and Automerge (one change with 100k puts, save, loadIncremental
 * into a fresh doc), same keys, same values, same run.
 *
 * Fairness: each library runs in its own fresh child process (crdt-case.ts),
 * several processes per library, interleaved roomy / Yjs / roomy / Yjs..., so
 * no library's timings include collecting another library's garbage, and the
 * machine's drifting load falls on both alike.
 *
 * Run alone: bun tests/bench/crdt.bench.ts   (BENCH_CRDT_N to change the size)
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { CaseResult, Lib, Run } from "./crdt-case.ts";

export interface BenchSection {
  title: string;
  markdown: string;
}

const N = Number(process.env.BENCH_CRDT_N ?? 100_000);
/** Fresh processes per library (roomy and Yjs), interleaved. */
const PROCESSES = 5;
const WARMUP = 5;
/** Measured reps per process. */
const REPS = 3;
const CHILD_DEADLINE_MS = 180_000;

function runChild(lib: Lib, warmups: number, reps: number): Promise<CaseResult> {
  const script = fileURLToPath(new URL("./crdt-case.ts", import.meta.url));
  const isDeno = "Deno" in globalThis;
  const args = [...(isDeno ? ["run", "-A", "--v8-flags=--expose-gc"] : []), script, lib, String(N), String(warmups), String(reps)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_DEADLINE_MS);
    child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) return reject(new Error(`crdt-case ${lib} exited ${code}: ${out.slice(-500)}`));
      resolve(JSON.parse(line) as CaseResult);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Summary extends Run {
  min: number;
  max: number;
  count: number;
}

function summary(runs: Run[]): Summary {
  const totals = runs.map((r) => r.total);
  return {
    set: median(runs.map((r) => r.set)),
    encode: median(runs.map((r) => r.encode)),
    merge: median(runs.map((r) => r.merge)),
    total: median(totals),
    bytes: runs[0]!.bytes,
    min: Math.min(...totals),
    max: Math.max(...totals),
    count: runs.length,
  };
}

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
/** One process's figure can be off when a collection lands mid-measure: the median of them all. */
const heldMedian = (cs: { heldBytes: number | null }[]): number | null => {
  const xs = cs.map((c) => c.heldBytes).filter((x): x is number => x !== null);
  return xs.length === 0 ? null : median(xs);
};
const mb = (b: number | null): string => (b === null ? "n/a" : `${(b / 1e6).toFixed(2)} MB`);
const ratio = (x: number, base: number): string => `${(x / base).toFixed(1)}x`;

export async function run(): Promise<BenchSection> {
  const ours: CaseResult[] = [];
  const each: CaseResult[] = [];
  const theirs: CaseResult[] = [];
  for (let p = 0; p < PROCESSES; p++) {
    ours.push(await runChild("roomy", WARMUP, REPS));
    theirs.push(await runChild("yjs", WARMUP, REPS));
    each.push(await runChild("roomy-each", WARMUP, REPS));
  }
  // Automerge takes tens of seconds at 100k: one process, one measured run.
  const am = await runChild("automerge", 1, 1);
  const so = summary(ours.flatMap((c) => c.runs));
  const sy = summary(theirs.flatMap((c) => c.runs));
  const se = summary(each.flatMap((c) => c.runs));
  const sa = summary(am.runs);
  // The ratio per interleaved pair of processes: how much it moves between processes.
  const pairs = ours.map((c, i) => median(theirs[i]!.runs.map((r) => r.total)) / median(c.runs.map((r) => r.total)));
  const row = (name: string, s: Summary) =>
    `| ${name} | ${ms(s.set)} | ${ms(s.encode)} | ${ms(s.merge)} | **${ms(s.total)}** (${ms(s.min)}–${ms(s.max)}) | ${mb(s.bytes)} | ${ratio(s.total, so.total)} |`;
  const goal = sy.total / so.total;
  const md = [
    `${N.toLocaleString("en-US")} keys \`person/p<i>\` = \`{ room: "r<i mod 10>" }\` set on one replica, the whole state encoded, then decoded and merged into an empty replica. Each library runs in its own fresh processes (${PROCESSES} for each roomy row and ${PROCESSES} for Yjs, started in turn; each does ${WARMUP} warm-ups, then ${REPS} measured reps), so none pays for another's garbage. Before every rep, in every library, the keys and values are built (flat strings, fresh objects) and a full GC runs; then the clock starts. Times in ms: median of the ${so.count} reps (range of totals in brackets); Automerge: one process, one run (it takes seconds at this size).`,
    "",
    "| | set | encode | decode + merge | total | encoded | total vs roomy |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    row("roomy LwwMap (one write of all keys at one HLC stamp, CBOR)", so),
    row("roomy LwwMap (every key its own write and HLC stamp)", se),
    row("Yjs 13 Y.Map (one transaction, encodeStateAsUpdate, applyUpdate)", sy),
    row("Automerge 3 (one change, save, loadIncremental)", sa),
    "",
    `JS heap held by a receiving replica of ${N.toLocaleString("en-US")} keys: roomy ${mb(heldMedian(ours))}, Yjs ${mb(heldMedian(theirs))} (median over their processes; Automerge keeps its document in WebAssembly memory, not measured).`,
    "",
    `Like for like (all keys in one write against all keys in one Yjs transaction), Yjs end to end takes **${goal.toFixed(2)}x** roomy's time (goal: at least 5x — ${goal >= 5 ? "met" : "not met in this run"}); with a stamp per key, ${(sy.total / se.total).toFixed(2)}x. Per process pair (one write): ${pairs.map((x) => `${x.toFixed(1)}x`).join(", ")}. Per phase: set ${ratio(sy.set, so.set)}, encode ${ratio(sy.encode, so.encode)}, decode + merge ${ratio(sy.merge, so.merge)}. Automerge end to end: ${ratio(sa.total, so.total)}.`,
    "",
    "Each library checks its copy is complete (roomy: same size and equal anti-entropy digests). roomy's set includes `Date.now()` and an HLC stamp per write (one for the whole batch in the first row, as Yjs's one transaction has one clock; one per key in the second) and keeps the incremental digest up to date; decode validates every field. The receiving replica has no change listener, so it merges with `absorb` (no change list; a node's replicator does the same when nothing watches its map), as Y.applyUpdate runs with no observer; `merge`, which also returns the 100,000 changes, costs a few ms more.",
  ].join("\n");
  return { title: `CRDT map: ${N.toLocaleString("en-US")} keys, set → encode → merge (roomy vs Yjs vs Automerge)`, markdown: md };
}

if (import.meta.main) {
  const s = await run();
  console.log(`## ${s.title}\n\n${s.markdown}`);
}
