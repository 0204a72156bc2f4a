/**
 * The markdown of the scale benchmark: goals with the figures and whether
 * each is met, then the details, then what each comparison leaves out.
 */
import type { GcSummary } from "../support/gc-log.ts";
import type { DumpCheck } from "./scale-check.ts";
import type { RoomsResult, WalkLoadResult } from "../support/walk-load.ts";
import type { ReadyChange } from "./scale-procs.ts";
import { type ReadFigures, READS_LEAVE_OUT, readsReport } from "./scale-reads.ts";

export interface CpuRound {
  /** roomy alone and as 3 nodes; the bare floor (tests/bench/cpu-floor-node.ts) alone and as 3. */
  label: "single" | "cluster" | "floor-single" | "floor-cluster" | "floor-piggyback" | "floor-forward" | "floor-batched" | "single-b" | "cluster-b";
  requests: number;
  ok: number;
  perSec: number;
  cpuUs: number;
  /** of cpuUs, the kernel's (stime) */
  sysUs?: number;
  codes: Record<string, number>;
}

/** A node's longest event-loop stall so far (/metrics), the CPU its process used over it, its collector's longest pause so far. */
export interface Stall {
  node: string;
  seconds: number;
  /** CPU of all the process's threads from the tick before the stall to its end (NaN: not read) */
  cpuSeconds?: number;
  /** major page faults of the process over the same span (NaN: not read) */
  majorFaults?: number;
  /** the event loop's own thread over the same span: on a CPU, and runnable waiting for one (NaN: not read) */
  ranSeconds?: number;
  waitedSeconds?: number;
  /** the longest stall less the time the loop's thread waited for a core in its span (NaN: not read) */
  ownSeconds?: number;
  /** the longest collector pause so far (NaN: not logged) */
  gcMaxMs?: number;
  keys?: number;
}

export interface ScaleFigures {
  build: string;
  people: number;
  rooms: number;
  capEvery: number;
  capacity: number;
  perRequest: number;
  clients: number;
  capS: number;
  startMs: number;
  roomsResult: RoomsResult;
  load: WalkLoadResult;
  acked: number;
  refusedPeople: number;
  /** ms at which each tenth of the people had been answered (cumulative from the start of the load) */
  tenthsMs: number[];
  rssAfterLoad: number[];
  rssAfterDumps: number[];
  /** each node's dump: time, size, and when it failed, the error and the outcome of one more try */
  dumps: { node: string; ms: number; bytes: number; error?: string; retry?: string }[];
  dumpsEqual: { equal: boolean; detail: string } | null;
  check: DumpCheck | null;
  who: { p50: number; p99: number; max: number; count: number; codes: Record<string, number> } | null;
  /** who-is-in sampled while the walk-ins ran (who-sampler.ts), null if not taken */
  whoUnderLoad: { p50: number; p99: number; max: number; count: number; codes: Record<string, number>; health: { p50: number; p99: number } } | null;
  /** who-is-in split by owner, against its floors (scale-reads.ts) */
  reads: ReadFigures | null;
  /** before the who-is-in calls: how long until the nodes were idle (each under 5% of a core for 0.5 s) */
  whoQuiet?: { ms: number; quiet: boolean };
  join: { readyMs: number | null; cpu: { own: number; others: number }; dumpMs: number; equal: boolean | null; detail: string } | null;
  stalls: Stall[];
  /** the same, read along the way: after the start, the load, the dumps (the longest so far, per node) */
  stallPhases: { phase: string; stalls: Stall[] }[];
  /** each node's collector pauses over the whole run (JSC's own log), read before the cluster stopped */
  gc: (GcSummary & { node: string })[];
  /** every change of a node's /readyz while the loaded cluster ran, and when each phase began (ms from the same origin) */
  readiness: ReadyChange[];
  marks: { what: string; at: number }[];
  cpu: CpuRound[];
  cpuRequests: number;
  cpuClients: number;
  /** unmeasured walk-ins each system got before the rounds */
  cpuWarmup: number;
  notes: string[];
}

const MiB = 2 ** 20;
const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a");
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
const codes = (c: Record<string, number>) =>
  Object.entries(c).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toLocaleString("en-US")}`).join(", ") || "none";
const errorsSaid = (e: Record<string, string>) =>
  Object.keys(e).length === 0 ? "" : ` (first of each: ${Object.entries(e).map(([k, m]) => `${k}: "${m.replace(/[|\n]/g, " ").slice(0, 160)}"`).join("; ")})`;
const verdict = (ok: boolean | null) => (ok === null ? "not measured" : ok ? "met" : "**MISSED**");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The phases and every node's readiness changes, in order; a node that flaps has its changes cut short. */
function timeline(x: ScaleFigures): string {
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const perNode = new Map<string, number>();
  const items: { at: number; text: string }[] = x.marks.map((m) => ({ at: m.at, text: `_${m.what}_ ${s(m.at)}` }));
  let cut = 0;
  for (const c of x.readiness) {
    const k = (perNode.get(c.node) ?? 0) + 1;
    perNode.set(c.node, k);
    if (k > 12) {
      cut++;
      continue;
    }
    if (k === 1 && c.ready) continue; // ready from the start: nothing to say
    items.push({ at: c.at, text: `${c.node} ${c.ready ? "ready" : `not ready (${c.why})`} ${s(c.at)}` });
  }
  items.sort((a, b) => a.at - b.at);
  return `${items.map((i) => i.text).join("; ")}${cut > 0 ? `; ${cut} later changes left out` : ""}`;
}

/** people/s over each tenth of the people (as far as the load got). */
export function tenthRates(people: number, tenthsMs: number[]): number[] {
  return tenthsMs.map((t, i) => people / 10 / ((t - (i === 0 ? 0 : tenthsMs[i - 1]!)) / 1000));
}

export function report(x: ScaleFigures): string {
  const loadS = x.load.ms / 1000;
  const overall = x.acked / loadS;
  const rates = tenthRates(x.people, x.tenthsMs);
  const first = rates[0] ?? NaN;
  const last = x.tenthsMs.length === 10 ? rates[9]! : NaN;
  const maxRss = (xs: number[]) => Math.max(...xs.filter(Number.isFinite));
  const rssOk = [...x.rssAfterLoad, ...x.rssAfterDumps].every((r) => Number.isFinite(r) && r <= 512 * MiB);
  const dumpMax = Math.max(...x.dumps.map((d) => d.ms));
  const dumpsOk = x.dumps.length > 0 && x.dumps.every((d) => d.error === undefined);
  const stallMax = Math.max(...x.stalls.map((s) => s.seconds));
  const owns = x.stalls.map((s) => s.ownSeconds).filter(known);
  const ownMax = owns.length === 0 ? null : Math.max(...owns);
  const singles = x.cpu.filter((r) => r.label === "single");
  const clusters = x.cpu.filter((r) => r.label === "cluster");
  const ratios = clusters.map((c, i) => c.cpuUs / (singles[i]?.cpuUs ?? NaN));
  const ratio = median(ratios);
  const floorSingles = x.cpu.filter((r) => r.label === "floor-single");
  const floorRatios = x.cpu.filter((r) => r.label === "floor-cluster").map((c, i) => c.cpuUs / (floorSingles[i]?.cpuUs ?? NaN));
  const floorRatio = median(floorRatios);
  const rows: [string, string, string, boolean | null][] = [
    ["walk-ins, whole load", ">= 20,000 people/s", `${f0(overall)} people/s (${f0(x.acked)} of ${f0(x.people)} people in, ${f1(loadS)} s${x.load.capped ? `, **stopped at the ${x.capS} s cap**` : ""})`, x.load.capped ? false : overall >= 20_000],
    ["last tenth against the first", ">= 0.7x", x.tenthsMs.length === 10 ? `${f0(last)} / ${f0(first)} = ${f2(last / first)}x` : `only ${x.tenthsMs.length} tenths reached`, x.tenthsMs.length === 10 ? last / first >= 0.7 : false],
    ["RSS per node after loading and after the dumps", "<= 512 MiB", `max ${f0(maxRss(x.rssAfterLoad) / MiB)} MiB after loading, ${f0(maxRss(x.rssAfterDumps) / MiB)} MiB after the dumps`, rssOk],
    ["GET /v1/dump, each node", "<= 1 s", dumpsOk ? `slowest ${f0(dumpMax)} ms` : `failed: ${x.dumps.filter((d) => d.error).map((d) => `${d.node}: ${d.error}`).join("; ")}`, dumpsOk && dumpMax <= 1_000],
    ["dumps equal on the 3 nodes and complete", "equal, complete", `${x.dumpsEqual?.detail ?? "not compared"}; ${x.check === null ? "not checked" : x.check.ok ? `complete (${f0(x.check.people)} people in ${f0(x.check.rooms)} rooms)` : `${x.check.missing} missing, ${x.check.misplaced} misplaced, ${x.check.duplicated} listed twice, ${x.check.unexpected} unexpected, ${x.check.roomsMissing} rooms missing`}${x.acked < x.people ? ` (of the ${f0(x.acked)} acknowledged)` : ""}`, x.dumpsEqual === null ? null : x.dumpsEqual.equal && x.check?.ok === true],
    ["who-is-in, sequential calls to random rooms, p99", "<= 1 ms", x.who === null ? "not measured" : `p50 ${f2(x.who.p50)} ms, p99 ${f2(x.who.p99)} ms, max ${f1(x.who.max)} ms (${f0(x.who.count)} calls; floors below)`, x.who === null ? null : x.who.p99 <= 1],
    ["a 4th node joins: /readyz 200", "<= 5 s", x.join === null ? "not measured" : x.join.readyMs === null ? "never ready" : `${f0(x.join.readyMs)} ms`, x.join === null ? null : x.join.readyMs !== null && x.join.readyMs <= 5_000],
    ["its dump when first ready equals the others'", "equal", x.join === null ? "not measured" : `${x.join.detail} (dump took ${f0(x.join.dumpMs)} ms)`, x.join?.equal ?? null],
    ["longest event-loop stall, any node", "<= 50 ms", x.stalls.length === 0 ? "not read" : `${f0(stallMax * 1000)} ms (${x.stalls.map((s) => `${s.node} ${f0(s.seconds * 1000)}`).join(", ")})${gcNote(x.stalls)}`, x.stalls.length === 0 ? null : stallMax <= 0.05],
    ["the same less the time the loop's thread waited for a core (what the node held its loop for), any node", "<= 50 ms", ownMax === null ? "not read" : `${f0(ownMax * 1000)} ms (${x.stalls.map((s) => `${s.node} ${known(s.ownSeconds) ? f0(s.ownSeconds * 1000) : "?"}`).join(", ")})`, ownMax === null ? null : ownMax <= 0.05],
    ["CPU per walk-into, cluster / single node", "<= 2x", Number.isFinite(ratio) ? `${f2(ratio)}x (median of ${ratios.map(f2).join(", ")})${floorRatios.length > 0 ? `; the bare floor in the same run ${f2(floorRatio)}x` : ""}` : "not measured", Number.isFinite(ratio) ? ratio <= 2 : null],
  ];
  const out: string[] = [];
  out.push(`${f0(x.rooms)} rooms and ${f0(x.people)} distinct people through the HTTP API of 3 \`dist/roomy\` nodes on loopback (build: ${x.build}). Every node runs with \`--profile lan --log-level warn\`, nothing pinned: the nodes and this load client share the machine's cores.`);
  out.push("");
  out.push("| measure | goal | figure | |");
  out.push("| --- | --- | --- | --- |");
  for (const [m, g, fig, ok] of rows) out.push(`| ${m} | ${g} | ${fig} | ${verdict(ok)} |`);
  out.push("");
  out.push("### The load");
  out.push("");
  out.push(`- Cluster start: ${f0(x.startMs)} ms until all 3 nodes saw each other and answered /readyz 200.`);
  const rr = x.roomsResult;
  out.push(`- Rooms: ${f0(rr.createdCount)} of ${f0(x.rooms)} created in ${f1(rr.ms / 1000)} s (${f0(rr.createdCount / (rr.ms / 1000))} rooms/s) by POST /v1/rooms, batches of up to 1,000 names round robin over the nodes; every ${x.capEvery}th room with capacity ${x.capacity}, the rest unlimited; errors: ${codes(rr.errors)}${rr.capped ? " (**stopped at the cap**)" : ""}. No warm-up of any kind before the walk-ins.`);
  out.push(`- Walk-ins: ${x.perRequest} people per POST /v1/walk-into (one room per request, chosen at random, never more people sent to a capacity room than its seats), ${x.clients} concurrent keep-alive clients, each request to the next node in turn; no retries. ${f0(x.load.requests)} requests in ${f1(loadS)} s; answers by code: ${codes(x.load.codes)}${errorsSaid(x.load.firstErrors)}; people refused with a definite answer: ${f0(x.refusedPeople)}. Time cap ${x.capS} s.`);
  out.push(`- The load client used ${f0((x.load.clientCpuMs / x.load.ms) * 100)}% of one core over the load.`);
  out.push(`- people/s per tenth of the people: ${rates.map(f0).join(", ") || "none"}${x.tenthsMs.length < 10 ? ` (only ${x.tenthsMs.length} tenths reached)` : ""}.`);
  const loaded = x.stallPhases.find((p) => p.phase === "after the walk-ins")?.stalls ?? [];
  out.push(`- RSS (VmRSS) after loading: ${x.rssAfterLoad.map((r) => `${f0(r / MiB)} MiB`).join(", ")} (live map keys then, from roomy_map_keys: ${loaded.map((s) => f0(s.keys ?? NaN)).join(", ") || "not read"}); after the dumps: ${x.rssAfterDumps.map((r) => `${f0(r / MiB)} MiB`).join(", ")}.`);
  out.push(`- Dumps (GET /v1/dump, one node at a time): ${x.dumps.map((d) => `${d.node} ${f0(d.ms)} ms${d.error === undefined ? ` (${f1(d.bytes / MiB)} MiB)` : ` failed: ${d.error}; then ${d.retry ?? "not tried again"}`}`).join("; ")}.`);
  if (x.check !== null && x.check.examples.length > 0) out.push(`- Dump check, first findings: ${x.check.examples.join("; ")}.`);
  if (x.who !== null) out.push(`- who-is-in on node 1, ${x.who.count} sequential GETs to random rooms, each timed in the client from the request to the whole body: p50 ${f2(x.who.p50)} ms, p99 ${f2(x.who.p99)} ms; answers: ${codes(x.who.codes)}.`);
  if (x.whoUnderLoad !== null) out.push(`- who-is-in while the walk-ins ran (not a goal; what a read costs under write load, under its lease or behind the barrier): ${x.whoUnderLoad.count} sequential GETs to random rooms, the nodes in turn, 20 ms apart, from a process of their own: p50 ${f2(x.whoUnderLoad.p50)} ms, p99 ${f2(x.whoUnderLoad.p99)} ms, max ${f1(x.whoUnderLoad.max)} ms; answers: ${codes(x.whoUnderLoad.codes)}. Its peer, a GET /healthz of the same node right after each (same HTTP and event loop, no read at all): p50 ${f2(x.whoUnderLoad.health.p50)} ms, p99 ${f2(x.whoUnderLoad.health.p99)} ms.`);
  if (x.reads !== null) out.push("", "### who-is-in and its floors", "", ...readsReport(x.reads), "");
  out.push(`- Longest event-loop stall so far, per node (ms), read ${x.stallPhases.map((p) => `${p.phase}: ${p.stalls.map((s) => f0(s.seconds * 1000)).join(", ") || "not read"}`).join("; ")}.`);
  if (x.stallPhases.some((p) => p.stalls.some((s) => known(s.ownSeconds)))) {
    out.push(`- The same less the time each node's event-loop thread waited for a core in the stall's span (roomy_event_loop_stall_own_max_seconds: what the node itself held its loop for), per node (ms): ${x.stallPhases.map((p) => `${p.phase}: ${p.stalls.map((s) => (known(s.ownSeconds) ? f0(s.ownSeconds * 1000) : "?")).join(", ") || "not read"}`).join("; ")}.`);
  }
  if (x.gc.length > 0) {
    out.push(`- The collector's longest pause so far, per node (ms, JSC's own log), read at the same moments: ${x.stallPhases.map((p) => `${p.phase}: ${p.stalls.map((s) => f1(s.gcMaxMs ?? NaN)).join(", ") || "not read"}`).join("; ")}.`);
    out.push(`- Collector pauses over the whole run, per node: ${x.gc.map((g) => `${g.node} ${f0(g.count)} pauses, ${f0(g.totalMs)} ms in all, longest ${f1(g.maxMs)} ms, ${g.over} over 20 ms, ${g.full} full collections`).join("; ")}.`);
  }
  out.push(`- Readiness (each node's /readyz polled every second; seconds from just after the 3 nodes were ready): ${timeline(x)}.`);
  if (x.join !== null) out.push(`- 4th node: started with --join to the 3, /readyz polled every 10 ms from the spawn: ${x.join.readyMs === null ? "never 200 within the deadline" : `200 after ${f0(x.join.readyMs)} ms`}${Number.isFinite(x.join.cpu.own) ? ` (its process used ${f0(x.join.cpu.own)} ms of CPU until then, the 3 others ${f0(x.join.cpu.others)} ms together)` : ""}; its GET /v1/dump right then: ${x.join.detail}.`);
  out.push("");
  out.push("### CPU per walk-into: one node alone against the 3-node cluster");
  out.push("");
  out.push(`Each round ${f0(x.cpuRequests)} POST /v1/walk-into of one new person each into one of 1,000 unlimited rooms, ${x.cpuClients} concurrent keep-alive clients; the single node is a fresh \`roomy node\` started alone, the cluster 3 fresh nodes (requests round robin over them). CPU = utime + stime from /proc/PID/stat summed over the nodes, over the round, divided by the requests ("of which kernel": the stime part). Both were warmed with at least ${f0(x.cpuWarmup)} unmeasured walk-ins, until JIT compilation was done (last note below); rounds alternate single, cluster${x.cpu.some((r) => r.label === "floor-single") ? ", then the bare floor's single and cluster" : ""}.`);
  out.push("");
  out.push("| round | system | walk-ins/s | CPU per walk-into | of which kernel | answers |");
  out.push("| --- | --- | --- | --- | --- | --- |");
  const systems = new Set(x.cpu.map((r) => r.label)).size;
  const names: Record<CpuRound["label"], string> = {
    single: "1 node", cluster: "3 nodes", "floor-single": "bare floor, 1 process", "floor-cluster": "bare floor, 3 processes",
    "floor-piggyback": "bare floor, 3 processes, the write in the forward's reply",
    "floor-forward": "bare floor, 3 processes, forwarding only (no replication)",
    "floor-batched": "bare floor, 3 processes, frames batched on a 1 ms timer",
    "single-b": "1 node, binary B", "cluster-b": "3 nodes, binary B",
  };
  x.cpu.forEach((r, i) => out.push(`| ${Math.floor(i / systems) + 1} | ${names[r.label]} | ${f0(r.perSec)} | ${f0(r.cpuUs)} µs | ${r.sysUs === undefined ? "" : `${f0(r.sysUs)} µs`} | ${codes(r.codes)} |`));
  out.push("");
  out.push(`Ratios cluster / single per round: ${ratios.map(f2).join(", ") || "none"}; median ${f2(ratio)}x.`);
  const singlesB = x.cpu.filter((r) => r.label === "single-b");
  const ratiosB = x.cpu.filter((r) => r.label === "cluster-b").map((c, i) => c.cpuUs / (singlesB[i]?.cpuUs ?? NaN));
  if (ratiosB.length > 0) out.push("", `Binary B (ROOMY_SCALE_BIN_B), cluster / single per round: ${ratiosB.map(f2).join(", ")}; median ${f2(median(ratiosB))}x.`);
  if (floorRatios.length > 0) {
    out.push("");
    out.push(`The bare floor's, in the same rounds: ${floorRatios.map(f2).join(", ")}; median ${f2(floorRatio)}x. The floor (tests/bench/cpu-floor-node.ts) is the least a design that acknowledges a walk-into only once it is on a majority must do: the single process is Bun.serve parsing the body into a Map; the 3 processes hash a room to its owner, forward a walk-into made elsewhere to it over one raw TCP connection per pair (length-prefixed frames, a socket's frames of a turn in one write), and the owner applies it, sends it to both others and answers once one acknowledged (acks cumulative, one per read). It leaves out everything else roomy does: membership and failure detection, configurations and epoch fencing, ownership hand-off, sequence tracking for catch-up and anti-entropy, the room rules (capacity, a person in one room), the room index every replica keeps up to date for reads (roomy does the app's work on all 3 nodes, the floor one Map.set), the API's checks and errors, metrics and logs; and an idle roomy node's own upkeep (gossip, failure detection, consensus ticks: ~20 ms of CPU a second per node, ~6-7 µs per walk-into of the cluster at ~9,000 walk-ins/s).`);
  }
  for (const v of ["floor-piggyback", "floor-forward", "floor-batched"] as const) {
    const rs = x.cpu.filter((r) => r.label === v).map((c, i) => c.cpuUs / (floorSingles[i]?.cpuUs ?? NaN));
    if (rs.length > 0) out.push("", `${names[v]} / bare floor, 1 process, per round: ${rs.map(f2).join(", ")}; median ${f2(median(rs))}x.`);
  }
  out.push("");
  out.push("### What these comparisons leave out");
  out.push("");
  out.push("- One machine, loopback: no network latency or bandwidth limit between nodes; the nodes, the load client and other work on the machine share its cores, so throughput is a floor set partly by the client (its CPU share is given above) and by whatever else ran.");
  out.push("- The walk-in rate counts people, several per request: a single-person load would reach fewer people/s. People are distinct and never move, so the load never exercises leaving a room; capacity rooms are never refused because the client keeps within their seats.");
  out.push("- RSS is read once after loading and once after the dumps, not its peak; it includes the runtime's free heap not yet returned to the system.");
  out.push("- The dump is timed in the client, body included, each node alone with no load running; under load it would be slower. Equality is of the whole JSON text; completeness is checked against what every walk answered.");
  if (x.whoQuiet !== undefined) out.push(`- Before the who-is-in calls the client waited until every node used under 5% of a core over half a second (their dumps' garbage collected): ${x.whoQuiet.quiet ? `${f0(x.whoQuiet.ms)} ms` : `not quiet within ${f0(x.whoQuiet.ms)} ms; measured anyway`}.`);
  out.push("- who-is-in latency is one client, sequential, on an idle cluster, and includes the client's own fetch cost (the client collects its own garbage first, from checking the dumps, so its GC pause is not counted); the figure under load is one light sampler beside the walk-ins, whose rate per node falls as the load proceeds, so the two are not one load at two levels.");
  if (x.reads !== null) for (const l of READS_LEAVE_OUT) out.push(`- ${l}`);
  out.push("- The 4th node joins an idle cluster; joining under load is not measured. Its dump is compared once, when /readyz first says 200.");
  out.push("- The event-loop figure is the nodes' own longest stall since start, as /metrics reports it (a 20 ms timer's lateness: a pause shorter than the interval between two ticks would go unseen), covering start, loading, dumps and the join. Beside it, the CPU the node's process used over that stall (all its threads: the collector's too), how long its event loop's thread ran and waited for a core then (Linux schedstat), and the longest pause of its garbage collector, from the collector's own log (BUN_JSC_logGC=1, set for the loaded cluster's nodes only: a few KiB a second, written to a file: into a pipe, a node blocked whenever this client was busy). A stall longer than the CPU used over it waited for a core; a collector pause stops every callback alike, whatever roomy's own code yields. The own stall (the stall less the loop thread's wait for a core, or its running time there if more) is an upper estimate of what the node itself held its loop for: several short callbacks in one tick's span count as one.");
  out.push("- The CPU comparison is on small fresh nodes (1,000 rooms) with one person per request, not on the loaded cluster; the cluster's CPU includes its idle gossip and replication over the round, and its extra work is the forwarding to a room's owner and the replication to the other two nodes.");
  for (const n of x.notes) out.push(`- ${n}`);
  return out.join("\n");
}

const known = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x) && x >= 0;

/** Of the node with the longest stall: the CPU used over it and its collector's longest pause, when read. */
function gcNote(stalls: Stall[]): string {
  const worst = stalls.reduce((a, b) => (b.seconds > a.seconds ? b : a));
  const parts: string[] = [];
  if (known(worst.cpuSeconds)) parts.push(`its process used ${f0(worst.cpuSeconds * 1000)} ms of CPU from the tick before it to its end`);
  if (known(worst.majorFaults)) parts.push(`${f0(worst.majorFaults)} major page faults meanwhile`);
  if (known(worst.ranSeconds) && known(worst.waitedSeconds)) parts.push(`its event loop's thread ran ${f0(worst.ranSeconds * 1000)} ms and waited for a core ${f0(worst.waitedSeconds * 1000)} ms meanwhile`);
  if (worst.gcMaxMs !== undefined && Number.isFinite(worst.gcMaxMs)) parts.push(`its collector's longest pause ${f1(worst.gcMaxMs)} ms`);
  return parts.length === 0 ? "" : `; on ${worst.node}, ${parts.join(", ")}`;
}
