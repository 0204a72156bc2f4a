/**
 * Failure detection on 5 real `roomy node` processes on loopback with the
 * default (lan) membership profile: the time from the signal (SIGSTOP: a
 * frozen node; SIGKILL: a killed one) until every survivor's
 * GET /v1/cluster/members reports the victim dead, polled every ~50 ms.
 * Also: a node stalled for 1 s (SIGSTOP, then SIGCONT) must not be declared
 * dead by anyone. Each run is bounded; the cluster is restored between runs.
 */
import { detectionBoundMs, lanConfig, suspicionBounds } from "../../mesh/membership/config.ts";
import { Cluster, sleep, waitState, type RoomyProcess } from "../support/cluster.ts";

export interface BenchSection {
  title: string;
  markdown: string;
}

const NODES = 5;
const RUNS = 3;
const POLL_MS = 50;
/** A run that has not seen the victim dead everywhere by then counts as a miss. */
const RUN_DEADLINE_MS = 15_000;
const STALL_MS = 1_000;
/** After a stall, keep watching this long for a late verdict. */
const STALL_WATCH_MS = 3_000;

interface Detection {
  victim: string;
  /** ms from the signal until the first survivor reported it suspect (null: never seen). */
  firstSuspect: number | null;
  /** ms until every survivor reported it dead (null: not within the deadline). */
  allDead: number | null;
}

/** Polls the survivors every POLL_MS from `t0` until all report `victim` dead (or the deadline). */
async function watch(survivors: RoomyProcess[], victim: string, t0: number, untilMs: number, stopWhenAllDead: boolean): Promise<{ firstSuspect: number | null; firstDead: number | null; allDead: number | null }> {
  const deadAt = new Map<string, number>();
  let firstSuspect: number | null = null;
  let firstDead: number | null = null;
  while (Date.now() - t0 < untilMs) {
    const tick = Date.now();
    await Promise.all(
      survivors.map(async (s) => {
        if (deadAt.has(s.name)) return;
        try {
          const m = (await s.probe.members()).find((x) => x.name === victim);
          const at = Date.now() - t0;
          if (m?.state === "suspect" && firstSuspect === null) firstSuspect = at;
          if (m?.state === "dead") {
            deadAt.set(s.name, at);
            firstDead ??= at;
            firstSuspect ??= at;
          }
        } catch {
          // a slow answer: try again next tick
        }
      }),
    );
    if (deadAt.size === survivors.length && stopWhenAllDead) break;
    await sleep(Math.max(0, POLL_MS - (Date.now() - tick)));
  }
  const allDead = deadAt.size === survivors.length ? Math.max(...deadAt.values()) : null;
  return { firstSuspect, firstDead, allDead };
}

async function frozen(cluster: Cluster, victim: RoomyProcess): Promise<Detection> {
  const survivors = cluster.running().filter((p) => p !== victim);
  const t0 = Date.now();
  victim.pause();
  try {
    const r = await watch(survivors, victim.name, t0, RUN_DEADLINE_MS, true);
    return { victim: victim.name, firstSuspect: r.firstSuspect, allDead: r.allDead };
  } finally {
    victim.resume();
    await cluster.waitConverged({ timeoutMs: 30_000 });
  }
}

async function killed(cluster: Cluster, victim: RoomyProcess): Promise<Detection> {
  const survivors = cluster.running().filter((p) => p !== victim);
  const t0 = Date.now();
  victim.proc.kill("SIGKILL");
  try {
    const r = await watch(survivors, victim.name, t0, RUN_DEADLINE_MS, true);
    return { victim: victim.name, firstSuspect: r.firstSuspect, allDead: r.allDead };
  } finally {
    await victim.kill();
    await cluster.restart(victim.name);
    await cluster.waitConverged({ timeoutMs: 30_000 });
  }
}

/** SIGSTOP for STALL_MS then SIGCONT; returns how many survivors ever reported it dead. */
async function stalled(cluster: Cluster, victim: RoomyProcess): Promise<{ victim: string; suspectedAt: number | null; deadBy: number }> {
  const survivors = cluster.running().filter((p) => p !== victim);
  const t0 = Date.now();
  victim.pause();
  const resume = sleep(STALL_MS).then(() => victim.resume());
  try {
    const r = await watch(survivors, victim.name, t0, STALL_MS + STALL_WATCH_MS, false);
    let deadBy = 0;
    if (r.firstDead !== null) {
      deadBy = 1;
      // Someone declared it dead: let it refute before the next run.
      await cluster.waitConverged({ timeoutMs: 30_000 });
    }
    return { victim: victim.name, suspectedAt: r.firstSuspect, deadBy };
  } finally {
    await resume;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number | null): string => (x === null ? "miss" : `${x} ms`);

export async function run(): Promise<BenchSection> {
  // Default profile: no --profile flag.
  const cluster = await Cluster.start({ size: NODES, deadlineMs: 60_000 });
  try {
    const froze: Detection[] = [];
    const kill: Detection[] = [];
    const stalls: { victim: string; suspectedAt: number | null; deadBy: number }[] = [];
    // A different victim each run; never the same process twice in a row.
    for (let i = 0; i < RUNS; i++) froze.push(await frozen(cluster, cluster.nodes[i % NODES]!));
    for (let i = 0; i < RUNS; i++) kill.push(await killed(cluster, cluster.nodes[(i + 2) % NODES]!));
    for (let i = 0; i < RUNS; i++) stalls.push(await stalled(cluster, cluster.nodes[(i + 4) % NODES]!));
    return { title: "Failure detection (5 real processes, loopback, lan profile)", markdown: render(froze, kill, stalls) };
  } finally {
    await cluster.close();
  }
}

function render(
  froze: Detection[],
  kill: Detection[],
  stalls: { victim: string; suspectedAt: number | null; deadBy: number }[],
): string {
  const summary = (label: string, runs: Detection[], goalMs: number): string => {
    const hits = runs.map((r) => r.allDead).filter((x): x is number => x !== null);
    const med = hits.length === runs.length ? median(hits) : null;
    const verdict = med === null ? "**missed** (a run did not finish)" : med <= goalMs ? "met" : "**not met**";
    return `| ${label} | ${med === null ? "-" : `${med} ms`} | ${hits.length > 0 ? `${Math.min(...hits)}–${Math.max(...hits)} ms` : "-"} | ${runs.map((r) => ms(r.allDead)).join(", ")} | ${runs.map((r) => ms(r.firstSuspect)).join(", ")} | ≤ ${goalMs} ms: ${verdict} |`;
  };
  const sb = suspicionBounds(lanConfig, NODES);
  // memberlist DefaultLANConfig: probe 1 s, suspicion mult 4, max mult 6.
  const mlMin = Math.round(4 * Math.log10(NODES) * 1000);
  const falseDeaths = stalls.reduce((s, r) => s + r.deadBy, 0);
  return [
    `${NODES} \`roomy node\` processes on loopback, default \`lan\` profile (probe ${lanConfig.probeIntervalMs} ms, probe timeout ${lanConfig.probeTimeoutMs} ms, suspicion ${sb.minMs}–${sb.maxMs} ms at n=${NODES}, unreachable ${lanConfig.unreachableSuspicionMs} ms).`,
    `Time from the signal until every survivor's \`GET /v1/cluster/members\` shows the victim \`dead\`; each survivor polled every ${POLL_MS} ms (figures are upper bounds, resolution ~${POLL_MS} ms). ${RUNS} runs each, a different victim per run; the cluster is restored (SIGCONT, or restart of the killed node) between runs.`,
    "",
    "| failure | median | range | runs (all dead) | runs (first suspect) | goal |",
    "| --- | --- | --- | --- | --- | --- |",
    summary("frozen (SIGSTOP)", froze, 3000),
    summary("killed (kill -9)", kill, 1000),
    "",
    `A node stalled for ${STALL_MS} ms (SIGSTOP, then SIGCONT), watched for ${STALL_WATCH_MS} ms more: declared dead in ${falseDeaths} of ${stalls.length} runs (goal 0); ` +
      `suspected after ${stalls.map((r) => ms(r.suspectedAt)).join(", ")}${stalls.some((r) => r.suspectedAt === null) ? " (miss = never seen suspect at our polling)" : ""}.`,
    "",
    `For comparison (formula, not measured): HashiCorp memberlist's DefaultLANConfig (probe 1 s, suspicion mult 4) keeps a suspect at least 4 × log10(${NODES}) × 1 s = ${mlMin} ms after its first failed probe, and up to 6× that (${6 * mlMin} ms) without confirmations, on top of the wait for the first probe (each member probes a given one once per ${NODES - 1} rounds of 1 s); it has no fast path for a killed process. roomy's own model bound for a frozen node at n=${NODES} (\`detectionBoundMs\`) is ${detectionBoundMs(lanConfig, NODES)} ms.`,
  ].join("\n");
}

if (import.meta.main) console.log((await run()).markdown);
