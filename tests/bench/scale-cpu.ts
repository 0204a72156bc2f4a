/**
 * The scale bench's CPU comparison (ROOMY_SCALE_ONLY=cpu runs only this):
 * CPU per walk-into of one roomy node against 3, interleaved with the bare
 * floor (cpu-floor.ts) and optionally a second binary (ROOMY_SCALE_BIN_B).
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRooms, RoomPicker, type RoomsSpec, seeded, walkLoad } from "../support/walk-load.ts";
import { CLK_TCK, cpuTicks, metricValue } from "../support/procs.ts";
import { ScaleCluster, type ScaleNode } from "./scale-procs.ts";
import type { CpuRound } from "./scale-report.ts";
import { FloorCluster } from "./cpu-floor.ts";

const env = (k: string, d: number): number => {
  const v = process.env[k];
  return v === undefined || v === "" ? d : Number(v);
};

export const CPU_REQUESTS = env("ROOMY_SCALE_CPU_REQUESTS", 20_000);
const CPU_ROUNDS = env("ROOMY_SCALE_CPU_ROUNDS", 3);
/** Concurrent keep-alive clients of a CPU round (ROOMY_SCALE_CPU_CLIENTS). */
export const CPU_CLIENTS = env("ROOMY_SCALE_CPU_CLIENTS", 16);
/**
 * Unmeasured walk-ins before the rounds, at least: the cluster's code path is
 * larger, and after 2,000 its JIT threads still compiled for ~50 us of every
 * walk-in (the single node's: ~1 us). After 20,000-30,000 the cluster's still
 * compiled for 10-70 us of each (FTL tiers of the replication path), so the
 * warm-up goes on, CPU_WARMUP_CHUNK at a time, until the JIT threads take
 * under CPU_WARMUP_JIT_SHARE of a chunk's CPU (at most CPU_WARMUP_MAX in all).
 */
export const CPU_WARMUP = env("ROOMY_SCALE_CPU_WARMUP", 30_000);
const CPU_WARMUP_CHUNK = 10_000;
const CPU_WARMUP_MAX = env("ROOMY_SCALE_CPU_WARMUP_MAX", 150_000);
const CPU_WARMUP_JIT_SHARE = 0.03;

/** Loopback ports (below 32768, no other test's): the CPU runs 24110-24117, the bare floor 24118-24125 (its variants 24140-24145, 24154-24159). */
const SINGLE_PORT = 24110;
const SMALL_PORT = 24112;
const FLOOR_SINGLE_PORT = 24118;
const FLOOR_CLUSTER_PORT = 24120;
const FLOOR_PIGGYBACK_PORT = 24140;
/**
 * "0": the CPU comparison leaves out the bare floor (cpu-floor-node.ts);
 * a comma list of its variants adds them: "piggyback", "forward" (no replication),
 * "batched" (frames leave on a 1 ms timer, many to a socket write).
 */
const FLOOR = process.env["ROOMY_SCALE_FLOOR"] !== "0";
const FLOOR_VARIANTS = (process.env["ROOMY_SCALE_FLOOR"] ?? "").split(",");
const FLOOR_PIGGYBACK = FLOOR_VARIANTS.includes("piggyback");
const FLOOR_FORWARD = FLOOR_VARIANTS.includes("forward");
const FLOOR_BATCHED = FLOOR_VARIANTS.includes("batched");
const FLOOR_BATCHED_PORT = 24166;
const FLOOR_FORWARD_PORT = 24154;
/** Another binary (an A/B in one run): its single node and cluster join the interleaved rounds, ports 24146-24153. */
const BIN_B = process.env["ROOMY_SCALE_BIN_B"] ?? "";
const B_SINGLE_PORT = 24146;
const B_CLUSTER_PORT = 24148;

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

export async function cpuComparison(bin: string, notes: string[]): Promise<CpuRound[]> {
  const single = new ScaleCluster(bin, "scale-one", 1, SINGLE_PORT);
  const small = new ScaleCluster(bin, "scale-cpu", 3, SMALL_PORT);
  const floorOne = new FloorCluster(1, FLOOR_SINGLE_PORT);
  const floorThree = new FloorCluster(3, FLOOR_CLUSTER_PORT);
  const floorPiggyback = new FloorCluster(3, FLOOR_PIGGYBACK_PORT, "piggyback");
  const floorForward = new FloorCluster(3, FLOOR_FORWARD_PORT, "forward");
  const floorBatched = new FloorCluster(3, FLOOR_BATCHED_PORT, "batched");
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
    if (FLOOR_BATCHED) systems.push({ label: "floor-batched", nodes: await floorBatched.start() });
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
    await floorBatched.close();
    await singleB.close();
    await smallB.close();
  }
  return rounds;
}
