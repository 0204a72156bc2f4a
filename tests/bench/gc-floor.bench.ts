/**
 * The garbage collector's own pauses on a heap shaped like a roomy replica
 * at 1.2M keys, with no roomy code (gc-floor-work.ts in a child process,
 * BUN_JSC_logGC=1, read by tests/support/gc-log.ts): the floor under the
 * scale run's longest event-loop stall. Each mode runs DURATION_MS, the
 * modes alternate, ROUNDS rounds (`bun tests/bench/run.ts gc-floor`).
 */
import { join } from "node:path";
import { GC_LOG_ENV, GcPauses, type GcSummary } from "../support/gc-log.ts";
import { cleanEnv } from "../support/procs.ts";
import type { BenchSection } from "./catchup.bench.ts";

const MODES = ["new-keys", "new-keys-chunked", "fresh", "fresh-chunked", "interned", "ints"] as const;
const DURATION_MS = Number(process.env["GC_FLOOR_MS"] ?? 10_000);
const ROUNDS = Number(process.env["GC_FLOOR_ROUNDS"] ?? 2);
/** Copies of the workload run at once, and spinning processes beside them, in the shared mode. */
const SHARED = Number(process.env["GC_FLOOR_SHARED"] ?? 3);
const BUSY = Number(process.env["GC_FLOOR_BUSY"] ?? 2);
const SHARED_MODE = `new-keys-chunked x${SHARED}, ${BUSY} busy`;
/** Writes a second, as a scale-run node applies the walk-ins (~40,000 people a second). */
const RATE = Number(process.env["GC_FLOOR_RATE"] ?? 40_000);
const SAYS: Record<string, string> = {
  [SHARED_MODE]: `as new-keys-chunked, ${SHARED} processes at once beside ${BUSY} that only spin (two cores shared as in the scale run; figures summed, the longest over all)`,
  "new-keys": "a new key and a new value string per write (people walking in, as the scale load), one array per column",
  "new-keys-chunked": "the same, the columns in chunks of 128 (as core/crdt/column.ts keeps a shard's)",
  fresh: "a new value string over an existing key (people moving), one array per column",
  "fresh-chunked": "the same, the columns in chunks of 128",
  interned: "an existing value string over an existing key",
  ints: "an int into a typed column (nothing for the collector to trace)",
};

interface Row extends GcSummary {
  mode: string;
  round: number;
  writes: number;
}

/** Printed by the workload once set up: the pauses before it are the set-up's. */
const BEGIN = "gc-floor: the writes begin";

async function once(mode: string): Promise<Omit<Row, "round">> {
  return summed(mode, [await work(mode)]);
}

/**
 * SHARED copies of the chunked workload at once, beside BUSY processes that
 * only spin: the scale run's sharing of two cores (three loaded nodes and
 * the load client) without its work. The pauses are each copy's own.
 */
async function shared(): Promise<Omit<Row, "round">> {
  const burners = Array.from({ length: BUSY }, () => Bun.spawn([process.execPath, "-e", "for (;;) {}"], { stdout: "ignore", stderr: "ignore" }));
  try {
    const copies = await Promise.all(Array.from({ length: SHARED }, () => work("new-keys-chunked")));
    return summed(SHARED_MODE, copies);
  } finally {
    for (const b of burners) b.kill("SIGKILL");
  }
}

function summed(mode: string, runs: { writes: number; gc: GcSummary }[]): Omit<Row, "round"> {
  const sum = (f: (g: GcSummary) => number) => runs.reduce((a, r) => a + f(r.gc), 0);
  return {
    mode,
    writes: runs.reduce((a, r) => a + r.writes, 0),
    count: sum((g) => g.count),
    totalMs: sum((g) => g.totalMs),
    maxMs: Math.max(...runs.map((r) => r.gc.maxMs)),
    over: sum((g) => g.over),
    full: sum((g) => g.full),
  };
}

async function work(mode: string): Promise<{ writes: number; gc: GcSummary }> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "gc-floor-work.ts"), mode, String(DURATION_MS), BEGIN, String(RATE)], {
    env: cleanEnv(GC_LOG_ENV),
    stdout: "pipe",
    stderr: "pipe",
  });
  const gc = new GcPauses();
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const at = err.indexOf(BEGIN);
  if (at < 0) throw new Error(`gc-floor-work ${mode}: no "${BEGIN}" line`);
  gc.add(err.slice(at));
  if ((await proc.exited) !== 0) throw new Error(`gc-floor-work ${mode} failed: ${gc.text().slice(-500)}`);
  const { writes } = JSON.parse(out.trim().split("\n").at(-1)!) as { writes: number };
  return { writes, gc: gc.summary(20) };
}

export async function run(): Promise<BenchSection> {
  const rows: Row[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of MODES) rows.push({ round, ...(await once(mode)) });
    rows.push({ round, ...(await shared()) });
  }
  const f0 = (x: number) => Math.round(x).toLocaleString("en-US");
  const out = [
    `One Bun process per run holds 1.2M keys in 256 buckets of column arrays (one array per column, or chunks of 128 as core/crdt/column.ts keeps a shard's), ~300 MB of heap like a scale-run node, and writes into it for ${f0(DURATION_MS)} ms, ${f0(RATE)} writes a second (what a node applies in the scale run) in turns of up to 8 ms; each write also makes a little garbage. No roomy code, no I/O. The collector logs each pause (BUN_JSC_logGC=1); only those of the writes count, not those of building the 1.2M keys first. Modes alternate, ${ROUNDS} round(s); the machine's other work shares its cores, as in the scale run.`,
    "",
    "| mode | what a write stores | round | writes | pauses | paused in all | longest pause | pauses over 20 ms | full collections |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.mode} | ${SAYS[r.mode]} | ${r.round} | ${f0(r.writes)} | ${f0(r.count)} | ${f0(r.totalMs)} ms | ${r.maxMs.toFixed(1)} ms | ${r.over} | ${r.full} |`),
    "",
    "What it shows: at the scale run's write rate, the collector's pauses grow with what each write leaves it to trace. A write into an old array makes the next young collection scan that whole array again: with one array per column of a bucket, writes spread over the 256 buckets have it re-scan nearly the whole replica each time; in chunks, only the chunks written. New long-lived strings (new keys, as 1M people walking in make) cost the most; existing strings, or ints in a typed column, far less. This is the part of a node's stall no code of roomy's can split, alone on the machine; shared as the scale run shares the cores (the shared mode), the same heap and writes pause longer, each pause waiting for the collector's threads to get a core. The scale run sets each node's stall beside its own longest collector pause and the CPU its process used over the stall: a stall longer than both waited for a core.",
    "",
    "What it leaves out: roomy's own work and its other objects (the room index, the registry, sockets), so its pauses are a floor, not a model; the single modes run one process at a time, where the scale run has four nodes and a client sharing two cores; the shared mode stands for that sharing with processes that only spin, which do no allocation or I/O of their own.",
  ];
  return { title: "Garbage-collector pauses at 1.2M keys, no roomy code (the stall's floor)", markdown: out.join("\n") };
}
