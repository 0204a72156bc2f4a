/**
 * The lot under load, side by side in one run: admissions per second and
 * p50/p99 on 3 roomy nodes (the Raft lot and the CRDT lot, when the binary
 * has `--lot`) against a 3-node etcd 3.4 cluster doing the same admission as
 * one transaction; then leader failover after kill -9 (5 roomy nodes with
 * `--lot raft`, and 5 etcd members). The load client is one program for
 * both sides (lot-load.ts), in its own process; processes are in
 * lot-procs.ts, failover in lot-failover.ts. `LOT_BENCH_QUICK=1` shortens
 * every phase (for development; the figures are then rough).
 */
import { join } from "node:path";
import { ensureBinary, ROOT } from "../ship/support/binary.ts";
import { eventually } from "../ship/support/procs.ts";
import { etcdFailover, roomyFailover, type Failover } from "./lot-failover.ts";
import type { LoadConfig, LoadKind, LoadResult } from "./lot-load.ts";
import {
  CLIENT_CORE, CLK_TCK, cpuTicks, ETCD, etcdStatus, json, killEverything, lotFlagSupported, PIN, pinned, type RoomyCluster, SERVER_CORE, startEtcd, startRoomy,
} from "./lot-procs.ts";

const QUICK = process.env["LOT_BENCH_QUICK"] === "1";
const CLIENTS = 32;
const GATES = 4;
const WINDOW_MS = QUICK ? 1_500 : 3_000;
/** Rounds of every system, alternated so all see the same machine load; medians reported. */
const ROUNDS = QUICK ? 1 : 5;
const BIG_LOT = 10_000_000;
const FILL_SPACES = 1_000;
const FILL_PLATES = 1_500;
const FAILOVER_RUNS = QUICK ? 2 : 7;
const ETCD_FAILOVER_RUNS = QUICK ? 2 : 5;
/** Loopback ports (below 32768, used by no other test): etcd load cluster 231xx/232xx, failover 2312x/2322x. */
const ETCD_CLIENT = 23100;
const ETCD_PEER = 23200;
const ETCD_FO_CLIENT = 23120;
const ETCD_FO_PEER = 23220;
/** The gRPC rows need the npm package etcd3 (a dev dependency). */
const GRPC = await import("etcd3").then(() => true, () => false);
const LOAD_SCRIPT = join(ROOT, "tests", "bench", "lot-load.ts");

interface System {
  label: string;
  kind: LoadKind;
  urls: string[];
  pids: number[];
  /** warm-up admissions per client */
  warm: number;
  /** etcd key prefix */
  ns?: string;
  roomy?: "raft" | "crdt";
  /** measured in the first round only (slow, and far from the others) */
  once?: boolean;
}

interface Measured extends LoadResult {
  /** server CPU (utime + stime of every server process) per admission or refusal, µs */
  cpuUs: number;
  /** the load process's own CPU over the window, % of one core: near 100 the client, not the server, was the limit */
  clientCpuPct: number;
}

/** One load run in a child process pinned to the client core; server CPU read at its `go` and at its end. */
async function measure(sys: System, cfg: Omit<LoadConfig, "kind" | "urls" | "warm" | "ns">): Promise<Measured> {
  const full: LoadConfig = { ...cfg, kind: sys.kind, urls: sys.urls, warm: sys.warm, ...(sys.ns === undefined ? {} : { ns: sys.ns }) };
  const proc = Bun.spawn(pinned([process.execPath, LOAD_SCRIPT, JSON.stringify(full)], CLIENT_CORE), { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 180_000);
  const ticks = () => sys.pids.reduce((a, p) => a + cpuTicks(p), 0);
  let before = 0;
  let after = 0;
  let out = "";
  const dec = new TextDecoder();
  const errText = new Response(proc.stderr).text();
  for await (const chunk of proc.stdout) {
    out += dec.decode(chunk);
    if (before === 0 && /^go$/m.test(out)) before = ticks();
    if (after === 0 && /^\{.*\}$/m.test(out)) after = ticks();
  }
  clearTimeout(timer);
  await proc.exited;
  const line = /^\{.*\}$/m.exec(out)?.[0];
  if (line === undefined) throw new Error(`load client for ${sys.label} failed: ${out} ${await errText}`);
  const r = JSON.parse(line) as LoadResult;
  return {
    ...r,
    cpuUs: (((after - before) / CLK_TCK) * 1e6) / Math.max(1, r.admitted + r.refused),
    clientCpuPct: r.clientTicks < 0 ? NaN : (r.clientTicks / CLK_TCK / (r.elapsedMs / 1000)) * 100,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function medianOf(ms: Measured[]): Measured {
  const m = (f: (x: Measured) => number) => median(ms.map(f));
  return {
    admitted: ms.reduce((a, x) => a + x.admitted, 0),
    refused: ms.reduce((a, x) => a + x.refused, 0),
    errors: ms.reduce((a, x) => a + x.errors, 0),
    conflicts: ms.reduce((a, x) => a + x.conflicts, 0),
    elapsedMs: ms.reduce((a, x) => a + x.elapsedMs, 0),
    perSec: m((x) => x.perSec),
    p50ms: m((x) => x.p50ms),
    p99ms: m((x) => x.p99ms),
    cpuUs: m((x) => x.cpuUs),
    clientCpuPct: m((x) => x.clientCpuPct),
    clientTicks: ms.reduce((a, x) => a + x.clientTicks, 0),
    ...(ms.find((x) => x.firstError !== undefined)?.firstError === undefined ? {} : { firstError: ms.find((x) => x.firstError)!.firstError! }),
  };
}

/** Cars in the lot once the replicas settle: roomy from every node's GET /v1/lot, etcd by counting car keys. */
async function occupancy(sys: System): Promise<string> {
  if (sys.kind === "roomy") {
    try {
      return await eventually("every node counts the same cars", async () => {
        const ls = await Promise.all(sys.urls.map((u) => json<{ occupied: number }>(`${u}/v1/lot`)));
        return ls.every((l) => l.occupied === ls[0]!.occupied) ? String(ls[0]!.occupied) : undefined;
      }, 10_000);
    } catch {
      const ls = await Promise.all(sys.urls.map((u) => json<{ occupied: number }>(`${u}/v1/lot`).then((l) => l.occupied, () => NaN)));
      return `nodes disagree: ${ls.join(" / ")}`;
    }
  }
  const prefix = `${sys.ns}car/`;
  const end = `${sys.ns}car0`;
  const r = await json<{ count?: string }>(`${sys.urls[0]}/v3/kv/range`, { key: btoa(prefix), range_end: btoa(end), count_only: true });
  return String(Number(r.count ?? 0));
}

/** The roomy lots this binary offers: raft and crdt with `--lot`, else the one default lot. */
function roomyModes(hasLotFlag: boolean): { label: string; extra: string[]; roomy?: "raft" | "crdt" }[] {
  if (!hasLotFlag) return [{ label: "roomy, crdt (default, no --lot flag yet)", extra: [] }];
  return [
    { label: "roomy, Raft lot (`--lot raft`)", extra: ["--lot", "raft"], roomy: "raft" },
    { label: "roomy, CRDT lot (`--lot crdt`)", extra: ["--lot", "crdt"], roomy: "crdt" },
  ];
}

/** 3 roomy nodes of one lot mode; for the Raft lot, also until every node names one leader (when it says). */
async function startLot(bin: string, prefix: string, m: ReturnType<typeof roomyModes>[number], spaces: number): Promise<RoomyCluster> {
  const c = await startRoomy(bin, 3, prefix, [...m.extra, "--gates", String(GATES), "--spaces", String(spaces)]);
  if (m.roomy === "raft") {
    await eventually("every node names one leader", async () => {
      const ss = await Promise.all(c.urls.map((u) => json<{ leader: string | null }>(`${u}/v1/consensus`)));
      return ss.every((x) => x.leader !== null && x.leader === ss[0]!.leader) ? true : undefined;
    }, 20_000).catch(() => {}); // no /v1/consensus: the warm-up absorbs the start
  }
  return c;
}

const roomySystem = (c: RoomyCluster, m: ReturnType<typeof roomyModes>[number]): System => ({
  label: m.label, kind: "roomy", urls: c.urls, pids: c.pids, warm: 20, ...(m.roomy === undefined ? {} : { roomy: m.roomy }),
});

export async function run(): Promise<{ title: string; markdown: string }> {
  const bin = await ensureBinary();
  const hasLot = await lotFlagSupported(bin);
  const modes = roomyModes(hasLot);
  if (ETCD === undefined) throw new Error("etcd is not installed (Debian: apt-get install etcd-server); the comparison needs it");
  let big: Map<string, Measured>;
  let rounds: Map<string, Measured[]>;
  let fill: Map<string, Measured & { parked: string }>;
  let systems: System[];
  let consensusThere = false;
  let termNote = "";
  let roomyFo: Failover | string;
  let etcdFo: Failover | string;
  try {
    // 1. The big lot: every system up at once, rounds alternated.
    const etcd = await startEtcd(3, ETCD_CLIENT, ETCD_PEER);
    try {
      const roomies: RoomyCluster[] = [];
      try {
        for (const [i, m] of modes.entries()) roomies.push(await startLot(bin, `lot${i}`, m, BIG_LOT));
        const raftIdx = modes.findIndex((m) => m.roomy === "raft");
        if (raftIdx >= 0) consensusThere = (await fetch(`${roomies[raftIdx]!.urls[0]}/v1/consensus`)).ok;
        systems = [
          ...modes.map((m, i) => roomySystem(roomies[i]!, m)),
          { label: "etcd 3.4, slot transaction (JSON gateway)", kind: "etcd-slots", urls: etcd.urls, pids: etcd.pids, warm: 20, ns: "big-s/" },
          ...(GRPC ? [{ label: "etcd 3.4, slot transaction (gRPC, npm etcd3)", kind: "etcd-grpc-slots" as const, urls: etcd.urls, pids: etcd.pids, warm: 20, ns: "big-g/" }] : []),
          { label: "etcd 3.4, counter transaction (JSON gateway)", kind: "etcd-counter", urls: etcd.urls, pids: etcd.pids, warm: 1, ns: "big-c/", once: true },
        ];
        rounds = new Map(systems.map((s) => [s.label, []]));
        // Terms before and after: a leader change under load would explain a long p99.
        const terms = async () => ({
          etcd: await etcdStatus(etcd.urls[0]!).then((x) => Number(x.raftTerm), () => NaN),
          raft: raftIdx < 0 || !consensusThere ? NaN : await json<{ term: number }>(`${roomies[raftIdx]!.urls[0]}/v1/consensus`).then((x) => x.term, () => NaN),
        });
        const t0 = await terms();
        for (let r = 0; r < ROUNDS; r++) {
          for (const s of systems.filter((x) => r === 0 || x.once !== true)) {
            rounds.get(s.label)!.push(await measure(s, { clients: CLIENTS, prefix: `b${r}`, durationMs: WINDOW_MS, gates: GATES, spaces: BIG_LOT }));
          }
        }
        big = new Map([...rounds].map(([k, v]) => [k, medianOf(v)]));
        const t1 = await terms();
        termNote = `Leader terms across the big-lot rounds: etcd ${t0.etcd} -> ${t1.etcd}` +
          (Number.isNaN(t0.raft) ? "." : `, roomy's Raft lot ${t0.raft} -> ${t1.raft}.`) + " (A change means an election under load.)";
      } finally {
        for (const c of roomies) await c.stop();
      }
      // 2. The filling lot: fresh roomy clusters with few spaces; etcd lots under new key prefixes.
      fill = new Map();
      for (const [i, m] of modes.entries()) {
        const c = await startLot(bin, `fill${i}`, m, FILL_SPACES);
        try {
          const s = { ...roomySystem(c, m), warm: 0 };
          const res = await measure(s, { clients: CLIENTS, prefix: "f", plates: FILL_PLATES, gates: GATES, spaces: FILL_SPACES });
          fill.set(m.label, { ...res, parked: await occupancy(s) });
        } finally {
          await c.stop();
        }
      }
      for (const s of systems.filter((x) => x.kind !== "roomy")) {
        const f: System = { ...s, warm: 0, ns: `fill-${s.kind}/` };
        const res = await measure(f, { clients: CLIENTS, prefix: "f", plates: FILL_PLATES, gates: GATES, spaces: FILL_SPACES });
        fill.set(s.label, { ...res, parked: await occupancy(f) });
      }
    } finally {
      await etcd.stop();
    }
    // 3. Failover.
    roomyFo = !hasLot
      ? "not measured: this dist/roomy has no `--lot` flag (the Raft lot has not landed)"
      : !consensusThere
        ? "not measured: this dist/roomy answers no `GET /v1/consensus`"
        : await roomyFailover(bin, FAILOVER_RUNS, ["--lot", "raft"]).catch((e: unknown) => `failed: ${String(e).slice(0, 300)}`);
    etcdFo = await etcdFailover(ETCD_FAILOVER_RUNS, ETCD_FO_CLIENT, ETCD_FO_PEER).catch((e: unknown) => `failed: ${String(e).slice(0, 300)}`);
  } finally {
    killEverything();
  }
  return { title: "The lot: roomy against etcd, and leader failover", markdown: report({ modes, systems, big, rounds, fill, roomyFo, etcdFo, termNote }) };
}

interface Report {
  modes: ReturnType<typeof roomyModes>;
  systems: System[];
  big: Map<string, Measured>;
  rounds: Map<string, Measured[]>;
  fill: Map<string, Measured & { parked: string }>;
  roomyFo: Failover | string;
  etcdFo: Failover | string;
  termNote: string;
}

function report(r: Report): string {
  const k = (n: number) => Math.round(n).toLocaleString("en-US");
  const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : "n/a");
  const goal = (ok: boolean) => (ok ? "met" : "**missed**");
  const etcdRows = r.systems.filter((s) => s.kind !== "roomy");
  // The headline etcd figure is etcd's best scheme: the fairest peer.
  const etcdBest = etcdRows.reduce((a, b) => (r.big.get(b.label)!.perSec > r.big.get(a.label)!.perSec ? b : a));
  const eb = r.big.get(etcdBest.label)!;
  /** Each round's ratio to the headline etcd (back to back, so the machine's drift between rounds cancels). */
  const pairs = (label: string) => r.rounds.get(label)!.map((x, i) => x.perSec / r.rounds.get(etcdBest.label)![i]!.perSec);
  const ratioOf = (label: string) => median(pairs(label));
  const row = (s: System) => {
    const m = r.big.get(s.label)!;
    return `| ${s.label} | ${k(m.perSec)} | ${ms(m.p50ms)} / ${ms(m.p99ms)} ms | ${k(m.cpuUs)} µs | ${ratioOf(s.label).toFixed(2)} | ${k(m.clientCpuPct)} % | ${k(m.admitted)} | ${s.kind === "roomy" ? "" : k(m.conflicts)} | ${m.errors}${m.firstError ? ` (${m.firstError.slice(0, 80).replace(/[|\n]+/g, " ")})` : ""} |`;
  };
  const versus = (s: System) => {
    const m = r.big.get(s.label)!;
    return `${ratioOf(s.label).toFixed(2)}x the admissions/s of ${etcdBest.label} (median of the rounds' pairs: ${pairs(s.label).map((x) => x.toFixed(2)).join(", ")}), ` +
      `p99 ${ms(m.p99ms)} ms against ${ms(eb.p99ms)} ms; server CPU per admission ${k(m.cpuUs)} µs against ${k(eb.cpuUs)} µs (${eb.cpuUs >= m.cpuUs ? `${(eb.cpuUs / m.cpuUs).toFixed(2)}x less` : `${(m.cpuUs / eb.cpuUs).toFixed(2)}x more`})`;
  };
  const raft = r.systems.find((s) => s.roomy === "raft");
  const lines: string[] = [];
  if (raft !== undefined) {
    const m = r.big.get(raft.label)!;
    lines.push(`**Goal: the Raft lot at >= 3x etcd's admissions/s at an equal or lower p99: ${ratioOf(raft.label) >= 3 && m.p99ms <= eb.p99ms ? "met" : "missed"}** (${versus(raft)}).`);
    const crdt = r.systems.find((s) => s.roomy === "crdt");
    if (crdt !== undefined) {
      const c = r.big.get(crdt.label)!;
      lines[0] += ` The CRDT lot in the same run: ${versus(crdt)}; the Raft lot does ${(median(r.rounds.get(raft.label)!.map((x, i) => x.perSec / r.rounds.get(crdt.label)![i]!.perSec))).toFixed(2)}x its admissions/s at ${k(m.cpuUs)} µs against ${k(c.cpuUs)} µs per admission.`;
    }
  } else {
    const d = r.systems[0]!;
    lines.push(`**Goal (the Raft lot at >= 3x etcd at an equal or lower p99): not assessed, this dist/roomy has no \`--lot\` flag yet.** For reference, the default (CRDT) lot: ${versus(d)}.`);
  }
  const fo = (what: string, f: Failover | string, goalMs?: number) => {
    if (typeof f === "string") return `| ${what} | ${f.replace(/[|\n]+/g, " ")} | | |`;
    const fin = f.times.filter(Number.isFinite);
    const med = median(f.times);
    const max = Math.max(...f.times);
    const verdict = goalMs === undefined ? "" : `<= ${goalMs} ms: ${goal(med <= goalMs && fin.length === f.times.length)}`;
    return `| ${what} | ${ms(med)} ms (max ${ms(max)}${fin.length < f.times.length ? `, ${f.times.length - fin.length} over ${15} s` : ""}) | ${f.times.map((t) => (Number.isFinite(t) ? t.toFixed(0) : "timeout")).join(", ")} | ${verdict}${f.notes.length > 0 ? ` (${f.notes.join("; ")})` : ""} |`;
  };
  return [
    `${CLIENTS} concurrent clients in one load process (lot-load.ts: the same fetch code, keep-alive HTTP/1.1 and JSON, for both sides), each admitting distinct plates, client c on node c mod 3 (roomy: through gate c mod ${GATES} + 1, \`POST /v1/gates/G/park\`; etcd: \`POST /v3/kv/txn\` on member c mod 3, followers forwarding to the leader as roomy's nodes forward to the lot).`,
    `3 roomy nodes (\`dist/roomy node --profile lan\`, loopback) against 3 etcd ${"3.4"} members (Debian's \`etcd-server\`, default settings, data dirs on tmpfs under /dev/shm, removed after).`,
    PIN ? `Every server process is pinned to core ${SERVER_CORE} and the load client to core ${CLIENT_CORE} (taskset): both sides get one core for three servers (every cluster is up at once, idle while another is measured).` : "No pinning (taskset missing or one core).",
    `Big lot (${k(BIG_LOT)} spaces, never fills): ${ROUNDS} round(s) of ${WINDOW_MS / 1000} s per system, alternated, after a warm-up (the counter transaction: the first round only); medians of the rounds. ` +
      "An admission's latency is the client's, first request to answer, retries included. Server CPU: utime + stime of the three server processes (/proc/PID/stat) over the window, per admission. " +
      "On a busy machine (see the load average above) the rounds' ratios spread widely, and etcd, whose members time their heartbeats and elections on the same starved core, suffers more in its p99: read the CPU per admission and the rounds' spread before the verdict.",
    "",
    lines[0]!,
    "",
    `| system | admissions/s | p50 / p99 | server CPU per admission | x the headline etcd | load client CPU | admitted | etcd retries | errors |`,
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ...r.systems.map(row),
    "",
    r.termNote,
    "",
    `Filling lot (${k(FILL_SPACES)} spaces, ${k(FILL_PLATES)} distinct plates by ${CLIENTS} clients, fresh lot, no warm-up): exactly ${k(FILL_SPACES)} must be parked, the rest refused (\`lot_full\`).`,
    "",
    "| system | (admissions + refusals)/s | p50 / p99 | server CPU per request | load client CPU | admitted / refused | parked after (every node) | etcd retries | errors |",
    "| --- | ---: | --- | ---: | ---: | --- | --- | ---: | --- |",
    ...[...r.fill].map(([label, m]) => `| ${label} | ${k(m.perSec)} | ${ms(m.p50ms)} / ${ms(m.p99ms)} ms | ${k(m.cpuUs)} µs | ${k(m.clientCpuPct)} % | ${m.admitted} / ${m.refused} | ${m.parked}${m.parked === String(FILL_SPACES) ? "" : " **(wrong)**"} | ${label.startsWith("etcd") ? k(m.conflicts) : ""} | ${m.errors} |`),
    "",
    "What is fair: etcd has no server-side logic, so an admission is a compare-and-put from the client. Two faithful schemes are measured, both one transaction per attempt:",
    "- *counter transaction*, the issue's words: If(value(count) == n && version(car) == 0) Then(put count n+1, put car) Else(get count, get car), retried with the count read on a failed compare. Every admission writes the one counter key, so concurrent clients conflict and all but one retry: this is what etcd does for a shared counter.",
    "- *slot transaction*, roomy's own shape (a car takes a free slot, so the lot never holds more cars than spaces): If(version(slot i) == 0 && version(car) == 0) Then(put slot i, put car) Else(get car), the slot picked at random among those the client believes free (re-read with a keys-only range after a taken slot; none free is `lot_full`). No hot key: etcd's best case.",
    `The JSON gateway costs etcd a hop (HTTP/JSON into its own gRPC server) that a gRPC client does not pay, so the slot transaction is also measured over gRPC (npm \`etcd3\`, one HTTP/2 connection per member)${GRPC ? "" : ": **not in this run, the npm package etcd3 is not installed**"}. ` +
      `The headline etcd figure is the fastest etcd row of the run (here: ${etcdBest.label}); the ratios are against it. "Load client CPU" is the load process's own CPU over the window in % of its core: near 100 % the client, not the server, was the limit.`,
    "",
    "Leader failover after kill -9 (SIGKILL of the leader, then every survivor polled every 10 ms until all name one new leader with a higher term):",
    "",
    "| cluster | median (max) | runs, ms | goal |",
    "| --- | --- | --- | --- |",
    fo("roomy, 5 nodes, `--lot raft`, lan profile, a fresh cluster per run", r.roomyFo, 1000),
    fo("etcd 3.4, 5 members, defaults (heartbeat 100 ms, election timeout 1000 ms), the killed member restarted between runs", r.etcdFo),
  ].join("\n");
}

if (import.meta.main) {
  try {
    console.log((await run()).markdown);
  } finally {
    killEverything();
  }
}
