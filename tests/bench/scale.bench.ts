/**
 * Scale on real processes, in one run (`bun tests/bench/run.ts scale`):
 * 3 `dist/roomy` nodes on loopback, ROOMY_SCALE_ROOMS rooms (default
 * 100,000) created through the HTTP API, ROOMY_SCALE_PEOPLE distinct people
 * (default 1,000,000) walked in round robin over the nodes; then RSS, every
 * node's dump (timed, compared, checked), who-is-in latency, a 4th node
 * joining, the longest event-loop stall, and CPU per walk-into of one node
 * against the cluster. Sizes and caps come from the environment (below), so
 * it can be developed small; the load stops at ROOMY_SCALE_CAP_S and reports
 * how far it got. ROOMY_SCALE_BIN names a binary to run instead of an
 * up-to-date dist/roomy (ROOMY_SCALE_BIN_LABEL says in the report what it
 * is). ROOMY_SCALE_ONLY=cpu skips the loaded cluster and runs only the CPU
 * comparison (scale-cpu.ts, a few minutes). Ports 24100-24107 here.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, ensureBinary, ROOT } from "../ship/support/binary.ts";
import { checkDump, compareDumps, type Dump, type DumpCheck, takeDump } from "./scale-check.ts";
import {
  createRooms, Ledger, pct, RoomPicker, type RoomsSpec, seeded, walkLoad, type Walk, type WalkLoadResult,
} from "../support/walk-load.ts";
import { readLatencies } from "./scale-reads.ts";
import { CLK_TCK, cpuTicks, metricValue, rssBytes, sleep, until } from "../support/procs.ts";
import { ScaleCluster, type ScaleNode, watchReadiness } from "./scale-procs.ts";
import { report, type ScaleFigures, type Stall } from "./scale-report.ts";
import { cpuComparison, CPU_CLIENTS, CPU_REQUESTS, CPU_WARMUP } from "./scale-cpu.ts";

const env = (k: string, d: number): number => {
  const v = process.env[k];
  return v === undefined || v === "" ? d : Number(v);
};
const PEOPLE = env("ROOMY_SCALE_PEOPLE", 1_000_000);
const ROOMS = env("ROOMY_SCALE_ROOMS", 100_000);
const PER_REQUEST = env("ROOMY_SCALE_PER_REQUEST", 10);
const CLIENTS = env("ROOMY_SCALE_CLIENTS", 16);
const CAP_S = env("ROOMY_SCALE_CAP_S", 600);
/** people a second the load is paced to (0: as fast as the nodes answer) */
const RATE = env("ROOMY_SCALE_RATE", 0);
const ROOMS_CAP_S = env("ROOMY_SCALE_ROOMS_CAP_S", 300);
/** "cpu": only the CPU comparison (the loaded cluster is skipped); "reads": no 4th node and no CPU comparison (quick who-is-in runs); "load": no CPU comparison (quick stall runs). */
const ONLY = process.env["ROOMY_SCALE_ONLY"] ?? "";
/** Measured who-is-in calls to roomy, and to each of its floors (scale-reads.ts). */
const WHO_CALLS = env("ROOMY_SCALE_WHO_CALLS", 4_000);
const SPEC: RoomsSpec = { rooms: ROOMS, capEvery: 10, capacity: 50 };
/** Loopback ports (below 32768, no other test's): the loaded cluster 24100-24107, the CPU runs 24110-24117, the bare floor 24118-24125 (its variants 24140-24145, 24154-24159). */
const MAIN_PORT = 24100;

/** Which build ran: the commit, whether sources were changed since, the binary's age. */
function buildId(bin: string, notes: string[]): string {
  const given = process.env["ROOMY_SCALE_BIN"];
  if (given !== undefined && given !== "") {
    // e.g. a binary built from a clean export of one commit while the tree is being edited
    const label = process.env["ROOMY_SCALE_BIN_LABEL"];
    return `${label ?? `the binary ${given}`}, built ${statSync(bin).mtime.toISOString()}`;
  }
  let head = "unknown commit";
  try {
    head = execFileSync("git", ["log", "-1", "--format=%h %cI"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "cli", "core", "mesh", "http", "mod.ts"], { cwd: ROOT, encoding: "utf8" }).trim();
    if (dirty !== "") head += `, with uncommitted changes in ${dirty.split("\n").length} source file(s)`;
  } catch (err) {
    notes.push(`git: ${String(err)}`);
  }
  const built = existsSync(BINARY) ? statSync(BINARY).mtime.toISOString() : "missing";
  return `commit ${head}; dist/roomy built ${built}`;
}

async function binary(notes: string[]): Promise<string> {
  const given = process.env["ROOMY_SCALE_BIN"];
  if (given !== undefined && given !== "") {
    return given;
  }
  try {
    return await ensureBinary();
  } catch (err) {
    if (!existsSync(BINARY)) throw err;
    notes.push(`The build failed (${String(err).split("\n")[0]}); measured the existing dist/roomy, older than the sources.`);
    return BINARY;
  }
}

/** After a failed dump: tries again every 5 s for up to a minute; the last try. */
async function dumpAgain(url: string): Promise<Dump & { tries: number }> {
  const deadline = performance.now() + 60_000;
  for (let tries = 1; ; tries++) {
    await sleep(5_000);
    const d = await takeDump(url);
    if (d.text !== undefined || performance.now() > deadline) return { ...d, tries };
  }
}

/** CPU time the nodes' processes used so far, summed (ms). */
const cpuMsOf = (nodes: ScaleNode[]): number => nodes.reduce((sum, n) => sum + (cpuTicks(n.pid) * 1000) / CLK_TCK, 0);

/**
 * Waits (at most 20 s) until every node used under 5% of a core over half a
 * second; how long that took (ms) and whether they got there.
 */
async function quiet(nodes: ScaleNode[]): Promise<{ ms: number; quiet: boolean }> {
  const t0 = performance.now();
  while (performance.now() - t0 < 20_000) {
    const before = nodes.map((n) => cpuMsOf([n]));
    await sleep(500);
    const busiest = Math.max(...nodes.map((n, i) => cpuMsOf([n]) - before[i]!));
    if (busiest < 25) return { ms: performance.now() - t0, quiet: true };
  }
  return { ms: performance.now() - t0, quiet: false };
}

/** Each node's longest event-loop stall since it started, and its replica's live keys, from /metrics. */
async function stalls(nodes: ScaleNode[], notes: string[]): Promise<Stall[]> {
  const out: Stall[] = [];
  for (const n of nodes) {
    try {
      const text = await n.metrics();
      out.push({
        node: n.name,
        seconds: metricValue(text, "roomy_event_loop_stall_max_seconds"),
        cpuSeconds: metricValue(text, "roomy_event_loop_stall_max_cpu_seconds"),
        majorFaults: metricValue(text, "roomy_event_loop_stall_max_major_faults"),
        ranSeconds: metricValue(text, "roomy_event_loop_stall_max_ran_seconds"),
        waitedSeconds: metricValue(text, "roomy_event_loop_stall_max_waited_seconds"),
        ownSeconds: metricValue(text, "roomy_event_loop_stall_own_max_seconds"),
        gcMaxMs: n.gc?.longest() ?? NaN,
        keys: metricValue(text, "roomy_map_keys"),
      });
    } catch (err) {
      notes.push(`${n.name} /metrics: ${String(err)}`);
    }
  }
  return out;
}

/** The nodes' logs (warnings and errors), for whoever reads the figures: not in the report, which stays short. */
function saveLogs(c: ScaleCluster): void {
  const dir = join(tmpdir(), "roomy-scale-bench-logs");
  mkdirSync(dir, { recursive: true });
  for (const n of c.nodes) writeFileSync(join(dir, `${n.name}.log`), n.logs());
  console.log(`scale: the nodes' logs are in ${dir}`);
}


/** The distinct-people load of the bench: each person once, `PER_REQUEST` a request, tenths timed. */
async function loadPeople(urls: string[], picker: RoomPicker, ledger: Ledger): Promise<{ load: WalkLoadResult; tenthsMs: number[] }> {
  let nextPerson = 0;
  let answered = 0;
  const tenthsMs: number[] = [];
  const t0 = performance.now();
  let lastLog = t0;
  const load = await walkLoad({
    urls,
    clients: CLIENTS,
    capMs: CAP_S * 1000,
    ...(RATE > 0 ? { ratePerS: RATE / PER_REQUEST } : {}),
    next(): Walk | undefined {
      if (nextPerson >= PEOPLE) return undefined;
      const n = Math.min(PER_REQUEST, PEOPLE - nextPerson);
      const people = Array.from({ length: n }, (_, i) => nextPerson + i);
      nextPerson += n;
      return { room: picker.pick(n), people };
    },
    done: () => nextPerson >= PEOPLE,
    answered(w, o) {
      ledger.record(w.people, w.room, o);
      answered += w.people.length;
      if (performance.now() - lastLog > 30_000) {
        lastLog = performance.now();
        console.log(`scale: ${answered} people answered after ${Math.round(lastLog - t0)} ms`);
      }
      while (tenthsMs.length < 10 && answered >= ((tenthsMs.length + 1) * PEOPLE) / 10) {
        tenthsMs.push(performance.now() - t0);
        console.log(`scale: ${tenthsMs.length}/10 of the people answered after ${Math.round(tenthsMs.at(-1)!)} ms`);
      }
      return false;
    },
  });
  return { load, tenthsMs };
}


/** who-sampler.ts beside the walk-ins; stop() ends it and reads its figures. */
function startWhoSampler(urls: string[], rooms: number, capS: number): { stop(): Promise<ScaleFigures["whoUnderLoad"]> } {
  const proc = Bun.spawn([process.execPath, join(ROOT, "tests/bench/who-sampler.ts"), urls.join(","), String(rooms), "20", String(capS)], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  return {
    async stop() {
      proc.stdin.write("stop\n");
      await proc.stdin.end();
      const killer = setTimeout(() => proc.kill(9), 30_000);
      const text = await new Response(proc.stdout).text();
      clearTimeout(killer);
      const r = JSON.parse(text) as { ms: number[]; healthMs: number[]; codes: Record<string, number> };
      return { p50: pct(r.ms, 50), p99: pct(r.ms, 99), max: r.ms.at(-1) ?? NaN, count: r.ms.length, codes: r.codes, health: { p50: pct(r.healthMs, 50), p99: pct(r.healthMs, 99) } };
    },
  };
}

/** Thrown to skip the loaded cluster (ROOMY_SCALE_ONLY=cpu). */
class SkipLoad extends Error {}

export async function run(): Promise<{ title: string; markdown: string }> {
  const notes: string[] = [];
  const bin = await binary(notes);
  const build = buildId(bin, notes);
  // Its nodes log their collector's pauses (the stall figure's neighbour).
  const cluster = new ScaleCluster(bin, "scale", 4, MAIN_PORT, [], true);
  const log = (s: string) => console.log(`scale: ${new Date().toISOString().slice(11, 19)} ${s}`);
  let watch: ReturnType<typeof watchReadiness> | undefined;
  const mark = (what: string) => {
    if (watch !== undefined) fig.marks.push({ what, at: performance.now() - watch.t0 });
  };
  const fig: ScaleFigures = {
    build, people: PEOPLE, rooms: ROOMS, capEvery: SPEC.capEvery, capacity: SPEC.capacity, perRequest: PER_REQUEST, clients: CLIENTS, capS: CAP_S,
    startMs: NaN, roomsResult: { created: new Uint8Array(0), createdCount: 0, requests: 0, ms: NaN, errors: {}, capped: true },
    load: { requests: 0, ms: NaN, codes: {}, firstErrors: {}, capped: true, clientCpuMs: 0 }, acked: 0, refusedPeople: 0, tenthsMs: [],
    rssAfterLoad: [], rssAfterDumps: [], dumps: [], dumpsEqual: null, check: null, who: null, whoUnderLoad: null, reads: null, join: null, stalls: [], stallPhases: [], gc: [], readiness: [], marks: [],
    cpu: [], cpuRequests: CPU_REQUESTS, cpuClients: CPU_CLIENTS, cpuWarmup: CPU_WARMUP, notes,
  };
  try {
    if (ONLY === "cpu") throw new SkipLoad();
    let t = performance.now();
    const three = await cluster.start(3);
    fig.startMs = performance.now() - t;
    watch = watchReadiness(cluster.nodes);
    mark("the room creation starts");
    const urls = three.map((n) => n.url);
    fig.stallPhases.push({ phase: "after the start", stalls: await stalls(three, notes) });
    log(`3 nodes up in ${Math.round(fig.startMs)} ms; creating ${ROOMS} rooms`);
    fig.roomsResult = await createRooms(urls, SPEC, { clients: CLIENTS, batch: 1_000, capMs: ROOMS_CAP_S * 1000, retry: true });
    log(`${fig.roomsResult.createdCount} rooms in ${Math.round(fig.roomsResult.ms)} ms; walking ${PEOPLE} people in`);
    mark("the walk-ins start");
    const picker = new RoomPicker(SPEC, fig.roomsResult.created, seeded(42));
    const ledger = new Ledger(PEOPLE);
    const sampler = startWhoSampler(urls, ROOMS, CAP_S);
    const { load, tenthsMs } = await loadPeople(urls, picker, ledger);
    fig.whoUnderLoad = await sampler.stop().catch((err: unknown) => (notes.push(`who-is-in under load not read: ${String(err)}`), null));
    fig.load = load;
    fig.tenthsMs = tenthsMs;
    fig.acked = ledger.ackedCount();
    fig.refusedPeople = ledger.refusedPeople;
    fig.rssAfterLoad = three.map((n) => rssBytes(n.pid));
    mark("the walk-ins end");
    fig.stallPhases.push({ phase: "after the walk-ins", stalls: await stalls(three, notes) });
    log(`${fig.acked} people in after ${Math.round(load.ms)} ms (${JSON.stringify(load.codes)}); dumps`);
    // Walks sent are answered; a write still replicating settles within the anti-entropy round.
    await sleep(2_000);
    const texts: string[] = [];
    for (const n of three) {
      const d = await takeDump(n.url);
      // A failed dump misses its goal; more tries (not timed for the goal) still let the dumps be compared.
      const again = d.text === undefined ? await dumpAgain(n.url) : undefined;
      fig.dumps.push({
        node: n.name, ms: d.ms, bytes: (d.text ?? again?.text)?.length ?? 0, ...(d.error === undefined ? {} : { error: d.error }),
        ...(again === undefined ? {} : { retry: again.text !== undefined ? `answered at try ${again.tries + 1} (${Math.round(again.ms)} ms)` : `${again.tries} more tries over a minute, all failed, the last: ${again.error}` }),
      });
      const text = d.text ?? again?.text;
      if (text !== undefined) texts.push(text);
      log(`dump ${n.name}: ${Math.round(d.ms)} ms ${d.error ?? ""} ${again === undefined ? "" : `retry ${Math.round(again.ms)} ms ${again.error ?? ""}`}`);
    }
    let check: DumpCheck | null = null;
    if (texts.length === three.length) {
      fig.dumpsEqual = compareDumps(texts);
      check = checkDump(texts[0]!, ledger, fig.roomsResult.created);
    } else if (texts.length > 0) {
      check = checkDump(texts[0]!, ledger, fig.roomsResult.created);
    }
    fig.check = check;
    const reference = texts[0];
    texts.length = 0;
    fig.rssAfterDumps = three.map((n) => rssBytes(n.pid));
    fig.stallPhases.push({ phase: "after the dumps", stalls: await stalls(three, notes) });
    mark("the dumps end");
    log(`who-is-in latency`);
    // The client's own garbage (three 10 MiB dumps parsed and checked just now) collected first: its GC pause is not roomy's latency.
    (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);
    // "An idle cluster": the nodes' own aftermath of the dumps (collecting their garbage) done first.
    fig.whoQuiet = await quiet(three);
    const reads = await readLatencies(three, picker, WHO_CALLS);
    fig.reads = reads;
    fig.who = { p50: pct(reads.all, 50), p99: pct(reads.all, 99), max: reads.all.at(-1) ?? NaN, count: reads.all.length, codes: reads.codes };
    if (ONLY === "reads") throw new SkipLoad();
    log(`a 4th node joins`);
    const fourth = cluster.nodes[3]!;
    mark("the 4th node starts");
    t = performance.now();
    const othersBefore = cpuMsOf(three);
    await cluster.startOne(fourth);
    let readyMs: number | null = null;
    let joinCpu = { own: NaN, others: NaN };
    try {
      readyMs = await until("the 4th node answers /readyz 200", async () => ((await fourth.ready(500)) ? performance.now() - t : undefined), 300_000, 10);
      // What bounds the join: the joining node's CPU until ready, and the others' over the same span (both in ms).
      joinCpu = { own: cpuMsOf([fourth]), others: cpuMsOf(three) - othersBefore };
    } catch (err) {
      notes.push(String(err));
    }
    if (readyMs !== null) {
      const d = await takeDump(fourth.url);
      const cmp = d.text === undefined || reference === undefined ? null : compareDumps([reference, d.text]);
      fig.join = { readyMs, cpu: joinCpu, dumpMs: d.ms, equal: cmp?.equal ?? false, detail: cmp === null ? `no dump: ${d.error ?? "no reference dump"}` : cmp.equal ? "equal to node 1's" : cmp.detail };
    } else {
      fig.join = { readyMs: null, cpu: joinCpu, dumpMs: NaN, equal: null, detail: "not compared: never ready" };
    }
    log(`join: ${JSON.stringify(fig.join)}`);
    fig.stallPhases.push({ phase: "after the join", stalls: await stalls(cluster.nodes, notes) });
    fig.stalls = fig.stallPhases.at(-1)!.stalls;
  } catch (err) {
    if (err instanceof SkipLoad) notes.push(ONLY === "cpu" ? "ROOMY_SCALE_ONLY=cpu: only the CPU comparison ran; the loaded cluster's figures are empty." : "ROOMY_SCALE_ONLY=reads: no 4th node and no CPU comparison.");
    else {
      notes.push(`The run stopped early: ${String(err)}`);
      console.error(cluster.logs().slice(-5_000));
    }
  } finally {
    mark("the cluster is stopped");
    fig.gc = cluster.nodes.flatMap((n) => (n.gc === null || n.child === null ? [] : [{ node: n.name, ...n.gc.summary(20) }]));
    await watch?.stop();
    fig.readiness = watch?.changes ?? [];
    saveLogs(cluster);
    await cluster.close();
  }
  if (ONLY === "load") notes.push("ROOMY_SCALE_ONLY=load: no CPU comparison.");
  else if (ONLY !== "reads") {
    log(`CPU comparison`);
    fig.cpu = await cpuComparison(bin, notes);
  }
  const n = (x: number) => x.toLocaleString("en-US");
  return { title: `Scale: ${n(ROOMS)} rooms and ${n(PEOPLE)} people on 3 real nodes`, markdown: report(fig) };
}

if (import.meta.main) {
  console.log((await run()).markdown);
  process.exit(0);
}
