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
 * comparison (about a minute). Ports 24100-24117.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
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
import { type CpuRound, report, type ScaleFigures } from "./scale-report.ts";
import { FloorCluster } from "./cpu-floor.ts";

const env = (k: string, d: number): number => {
  const v = process.env[k];
  return v === undefined || v === "" ? d : Number(v);
};
const PEOPLE = env("ROOMY_SCALE_PEOPLE", 1_000_000);
const ROOMS = env("ROOMY_SCALE_ROOMS", 100_000);
const PER_REQUEST = env("ROOMY_SCALE_PER_REQUEST", 10);
const CLIENTS = env("ROOMY_SCALE_CLIENTS", 16);
const CAP_S = env("ROOMY_SCALE_CAP_S", 600);
const ROOMS_CAP_S = env("ROOMY_SCALE_ROOMS_CAP_S", 300);
const CPU_REQUESTS = env("ROOMY_SCALE_CPU_REQUESTS", 20_000);
const CPU_ROUNDS = env("ROOMY_SCALE_CPU_ROUNDS", 3);
const CPU_CLIENTS = 16;
/** "cpu": only the CPU comparison (the loaded cluster is skipped); "reads": no 4th node and no CPU comparison (quick who-is-in runs). */
const ONLY = process.env["ROOMY_SCALE_ONLY"] ?? "";
/**
 * Unmeasured walk-ins before the rounds, at least: the cluster's code path is
 * larger, and after 2,000 its JIT threads still compiled for ~50 us of every
 * walk-in (the single node's: ~1 us). After 20,000-30,000 the cluster's still
 * compiled for 10-70 us of each (FTL tiers of the replication path), so the
 * warm-up goes on, CPU_WARMUP_CHUNK at a time, until the JIT threads take
 * under CPU_WARMUP_JIT_SHARE of a chunk's CPU (at most CPU_WARMUP_MAX in all).
 */
const CPU_WARMUP = env("ROOMY_SCALE_CPU_WARMUP", 30_000);
const CPU_WARMUP_CHUNK = 10_000;
const CPU_WARMUP_MAX = env("ROOMY_SCALE_CPU_WARMUP_MAX", 150_000);
const CPU_WARMUP_JIT_SHARE = 0.03;
/** Measured who-is-in calls to roomy, and to each of its floors (scale-reads.ts). */
const WHO_CALLS = env("ROOMY_SCALE_WHO_CALLS", 4_000);
const SPEC: RoomsSpec = { rooms: ROOMS, capEvery: 10, capacity: 50 };
/** Loopback ports (below 32768, no other test's): the loaded cluster 24100-24107, the CPU runs 24110-24117, the bare floor 24118-24125 (its variants 24140-24145, 24154-24159). */
const MAIN_PORT = 24100;
const SINGLE_PORT = 24110;
const SMALL_PORT = 24112;
const FLOOR_SINGLE_PORT = 24118;
const FLOOR_CLUSTER_PORT = 24120;
const FLOOR_PIGGYBACK_PORT = 24140;
/**
 * "0": the CPU comparison leaves out the bare floor (cpu-floor-node.ts);
 * a comma list of its variants adds them: "piggyback", "forward" (no replication).
 */
const FLOOR = process.env["ROOMY_SCALE_FLOOR"] !== "0";
const FLOOR_VARIANTS = (process.env["ROOMY_SCALE_FLOOR"] ?? "").split(",");
const FLOOR_PIGGYBACK = FLOOR_VARIANTS.includes("piggyback");
const FLOOR_FORWARD = FLOOR_VARIANTS.includes("forward");
const FLOOR_FORWARD_PORT = 24154;
/** Another binary (an A/B in one run): its single node and cluster join the interleaved rounds, ports 24146-24153. */
const BIN_B = process.env["ROOMY_SCALE_BIN_B"] ?? "";
const B_SINGLE_PORT = 24146;
const B_CLUSTER_PORT = 24148;

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

/** Each node's longest event-loop stall since it started, and its replica's live keys, from /metrics. */
async function stalls(nodes: ScaleNode[], notes: string[]): Promise<{ node: string; seconds: number; keys: number }[]> {
  const out: { node: string; seconds: number; keys: number }[] = [];
  for (const n of nodes) {
    try {
      const text = await n.metrics();
      out.push({ node: n.name, seconds: metricValue(text, "roomy_event_loop_stall_max_seconds"), keys: metricValue(text, "roomy_map_keys") });
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

/** What a CPU round measures: a process with an HTTP API and /metrics (a roomy node or a bare floor node). */
type CpuNode = Pick<ScaleNode, "pid" | "url" | "metrics">;

const ticks = (nodes: CpuNode[]) => nodes.reduce((a, n) => a + cpuTicks(n.pid), 0);

/** CPU ticks of a process's JIT compiler threads (JavaScriptCore's "JITWorker"), from /proc/PID/task. */
function jitTicks(pid: number): number {
  let sum = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, "utf8");
        if (!stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).startsWith("JITWorker")) continue;
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        sum += Number(fields[11]) + Number(fields[12]);
      } catch {
        // the thread ended
      }
    }
  } catch {
    // the process is gone
  }
  return sum;
}
const jitOf = (nodes: CpuNode[]) => nodes.reduce((a, n) => a + jitTicks(n.pid), 0);

/** stime of a process (all its threads), in clock ticks: the kernel's share (sockets, epoll). */
function sysTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[12]);
  } catch {
    return 0;
  }
}
const sysOf = (nodes: CpuNode[]) => nodes.reduce((a, n) => a + sysTicks(n.pid), 0);

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

/** The mesh counters summed over `nodes` (frames sent, socket writes), from /metrics. */
async function meshCounters(nodes: CpuNode[]): Promise<{ frames: number; writes: number }> {
  let frames = 0;
  let writes = 0;
  for (const n of nodes) {
    const text = await n.metrics();
    frames += metricValue(text, "roomy_transport_frames_sent_total");
    writes += metricValue(text, "roomy_transport_writes_total");
  }
  return { frames, writes };
}

/** The JIT compiler threads' CPU in the last round: µs per walk-into, and share of the round's CPU. */
let lastJitUs = 0;
let lastJitShare = 0;

/**
 * Unmeasured walk-ins until JIT compilation has settled (see CPU_WARMUP);
 * returns how many ran and the JIT threads' share of the last chunk's CPU.
 */
async function warmUp(label: CpuRound["label"], nodes: CpuNode[], picker: RoomPicker): Promise<{ walkIns: number; jitShare: number }> {
  await cpuRound(label, nodes, picker, 10_000_000, CPU_WARMUP);
  let walkIns = CPU_WARMUP;
  let jitShare = lastJitShare;
  while (walkIns < CPU_WARMUP_MAX) {
    await cpuRound(label, nodes, picker, 10_000_000 + walkIns, CPU_WARMUP_CHUNK);
    walkIns += CPU_WARMUP_CHUNK;
    jitShare = lastJitShare;
    if (jitShare < CPU_WARMUP_JIT_SHARE) break;
  }
  return { walkIns, jitShare };
}

/**
 * One measured round: `requests` single-person walk-ins over `nodes`; CPU per
 * walk-into in µs. `mesh`: where the round's mesh messages and socket writes
 * per walk-into (summed over the nodes) are noted.
 */
async function cpuRound(label: CpuRound["label"], nodes: CpuNode[], picker: RoomPicker, firstPerson: number, requests: number, mesh?: string[]): Promise<CpuRound> {
  let next = 0;
  const m0 = mesh === undefined ? undefined : await meshCounters(nodes);
  const jit0 = jitOf(nodes);
  const sys0 = sysOf(nodes);
  const before = ticks(nodes);
  const r = await walkLoad({
    urls: nodes.map((n) => n.url),
    clients: CPU_CLIENTS,
    capMs: 120_000,
    next: () => (next < requests ? { room: picker.pick(1), people: [firstPerson + next++] } : undefined),
    done: () => next >= requests,
    answered: () => false,
  });
  const cpu = ticks(nodes) - before;
  const sys = sysOf(nodes) - sys0;
  lastJitUs = ((jitOf(nodes) - jit0) / CLK_TCK) * 1e6 / Math.max(1, r.requests);
  lastJitShare = cpu > 0 ? (jitOf(nodes) - jit0) / cpu : 0;
  if (mesh !== undefined && m0 !== undefined) {
    const m1 = await meshCounters(nodes);
    const per = (x: number) => (x / r.requests).toFixed(2);
    mesh.push(`${label}: ${per(m1.frames - m0.frames)} mesh messages, ${per(m1.writes - m0.writes)} socket writes and ${Math.round(lastJitUs)} µs of JIT compiler threads per walk-into`);
  }
  return { label, requests: r.requests, ok: r.codes["ok"] ?? 0, perSec: r.requests / (r.ms / 1000), cpuUs: ((cpu / CLK_TCK) * 1e6) / r.requests, sysUs: ((sys / CLK_TCK) * 1e6) / r.requests, codes: r.codes };
}

async function cpuComparison(bin: string, notes: string[]): Promise<CpuRound[]> {
  const single = new ScaleCluster(bin, "scale-one", 1, SINGLE_PORT);
  const small = new ScaleCluster(bin, "scale-cpu", 3, SMALL_PORT);
  const floorOne = new FloorCluster(1, FLOOR_SINGLE_PORT);
  const floorThree = new FloorCluster(3, FLOOR_CLUSTER_PORT);
  const floorPiggyback = new FloorCluster(3, FLOOR_PIGGYBACK_PORT, "piggyback");
  const floorForward = new FloorCluster(3, FLOOR_FORWARD_PORT, "forward");
  const singleB = new ScaleCluster(BIN_B, "scale-one-b", 1, B_SINGLE_PORT);
  const smallB = new ScaleCluster(BIN_B, "scale-cpu-b", 3, B_CLUSTER_PORT);
  const rounds: CpuRound[] = [];
  const mesh: string[] = [];
  const warm: string[] = [];
  try {
    const systems: { label: CpuRound["label"]; nodes: CpuNode[] }[] = [{ label: "single", nodes: await single.start(1) }, { label: "cluster", nodes: await small.start(3) }];
    if (FLOOR) systems.push({ label: "floor-single", nodes: await floorOne.start() }, { label: "floor-cluster", nodes: await floorThree.start() });
    if (FLOOR_PIGGYBACK) systems.push({ label: "floor-piggyback", nodes: await floorPiggyback.start() });
    if (FLOOR_FORWARD) systems.push({ label: "floor-forward", nodes: await floorForward.start() });
    if (BIN_B !== "") systems.push({ label: "single-b", nodes: await singleB.start(1) }, { label: "cluster-b", nodes: await smallB.start(3) });
    const spec: RoomsSpec = { rooms: 1_000, capEvery: 0, capacity: 1 };
    const pickers = new Map<string, RoomPicker>();
    for (const s of systems) {
      // The bare floor has no rooms to create: a walk-into takes any room name.
      const made = s.label.startsWith("floor") ? { created: new Uint8Array(spec.rooms).fill(1), createdCount: spec.rooms, errors: {} }
        : await createRooms(s.nodes.map((n) => n.url), spec, { clients: 4, batch: 500, capMs: 60_000, retry: true });
      if (made.createdCount === 0) throw new Error(`${s.label}: no room created (${JSON.stringify(made.errors)})`);
      pickers.set(s.label, new RoomPicker(spec, made.created, seeded(7)));
      const w = await warmUp(s.label, s.nodes, pickers.get(s.label)!);
      warm.push(`${s.label} ${w.walkIns.toLocaleString("en-US")} (JIT threads ${Math.round(100 * w.jitShare)}% of the last ${CPU_WARMUP_CHUNK.toLocaleString("en-US")}'s CPU)`);
    }
    for (let i = 0; i < CPU_ROUNDS; i++) {
      for (const s of systems) rounds.push(await cpuRound(s.label, s.nodes, pickers.get(s.label)!, (i + 1) * 1_000_000, CPU_REQUESTS, mesh));
    }
    notes.push(`CPU warm-up, unmeasured walk-ins until the JIT compiler threads took under ${100 * CPU_WARMUP_JIT_SHARE}% of ${CPU_WARMUP_CHUNK.toLocaleString("en-US")}'s CPU (at least ${CPU_WARMUP.toLocaleString("en-US")}, at most ${CPU_WARMUP_MAX.toLocaleString("en-US")}): ${warm.join("; ")}.`);
    if (mesh.length > 0) notes.push(`Mesh traffic of the CPU rounds, summed over the nodes: ${mesh.join("; ")}.`);
  } catch (err) {
    notes.push(`The CPU comparison failed: ${String(err)}`);
  } finally {
    await single.close();
    await small.close();
    await floorOne.close();
    await floorThree.close();
    await floorPiggyback.close();
    await floorForward.close();
    await singleB.close();
    await smallB.close();
  }
  return rounds;
}

/** Thrown to skip the loaded cluster (ROOMY_SCALE_ONLY=cpu). */
class SkipLoad extends Error {}

export async function run(): Promise<{ title: string; markdown: string }> {
  const notes: string[] = [];
  const bin = await binary(notes);
  const build = buildId(bin, notes);
  const cluster = new ScaleCluster(bin, "scale", 4, MAIN_PORT);
  const log = (s: string) => console.log(`scale: ${new Date().toISOString().slice(11, 19)} ${s}`);
  let watch: ReturnType<typeof watchReadiness> | undefined;
  const mark = (what: string) => {
    if (watch !== undefined) fig.marks.push({ what, at: performance.now() - watch.t0 });
  };
  const fig: ScaleFigures = {
    build, people: PEOPLE, rooms: ROOMS, capEvery: SPEC.capEvery, capacity: SPEC.capacity, perRequest: PER_REQUEST, clients: CLIENTS, capS: CAP_S,
    startMs: NaN, roomsResult: { created: new Uint8Array(0), createdCount: 0, requests: 0, ms: NaN, errors: {}, capped: true },
    load: { requests: 0, ms: NaN, codes: {}, firstErrors: {}, capped: true, clientCpuMs: 0 }, acked: 0, refusedPeople: 0, tenthsMs: [],
    rssAfterLoad: [], rssAfterDumps: [], dumps: [], dumpsEqual: null, check: null, who: null, reads: null, join: null, stalls: [], stallPhases: [], readiness: [], marks: [],
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
    const { load, tenthsMs } = await loadPeople(urls, picker, ledger);
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
    const reads = await readLatencies(three, picker, WHO_CALLS);
    fig.reads = reads;
    fig.who = { p50: pct(reads.all, 50), p99: pct(reads.all, 99), max: reads.all.at(-1) ?? NaN, count: reads.all.length, codes: reads.codes };
    if (ONLY === "reads") throw new SkipLoad();
    log(`a 4th node joins`);
    const fourth = cluster.nodes[3]!;
    mark("the 4th node starts");
    t = performance.now();
    await cluster.startOne(fourth);
    let readyMs: number | null = null;
    try {
      readyMs = await until("the 4th node answers /readyz 200", async () => ((await fourth.ready(500)) ? performance.now() - t : undefined), 300_000, 10);
    } catch (err) {
      notes.push(String(err));
    }
    if (readyMs !== null) {
      const d = await takeDump(fourth.url);
      const cmp = d.text === undefined || reference === undefined ? null : compareDumps([reference, d.text]);
      fig.join = { readyMs, dumpMs: d.ms, equal: cmp?.equal ?? false, detail: cmp === null ? `no dump: ${d.error ?? "no reference dump"}` : cmp.equal ? "equal to node 1's" : cmp.detail };
    } else {
      fig.join = { readyMs: null, dumpMs: NaN, equal: null, detail: "not compared: never ready" };
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
    await watch?.stop();
    fig.readiness = watch?.changes ?? [];
    saveLogs(cluster);
    await cluster.close();
  }
  log(`CPU comparison`);
  if (ONLY !== "reads") fig.cpu = await cpuComparison(bin, notes);
  const n = (x: number) => x.toLocaleString("en-US");
  return { title: `Scale: ${n(ROOMS)} rooms and ${n(PEOPLE)} people on 3 real nodes`, markdown: report(fig) };
}

if (import.meta.main) {
  console.log((await run()).markdown);
  process.exit(0);
}
