/**
 * Catch-up cost at scale: real replicators (mesh/replication) over real TCP
 * on loopback (mesh/tcp), one process per node, on the keys the rooms app
 * keeps for 100,000 rooms and 1,000,000 people (1.2M keys: rooms, people,
 * the seats of every tenth room).
 *
 *   (a) an empty node X joins and catches up from A and B (catchUpFrom, as
 *       the registry does on a new epoch);
 *   (b) X holds the map but for 1% of its keys;
 *   (c) as (b), while A writes 10,000 keys a second.
 *
 * Measured: time until catchUpFrom resolves (X's digest must then equal
 * A's once the writes stop), bytes on the wire (all three transports),
 * anti-entropy entries sent, and in each process the longest callback it
 * ran (its replicator's timers and message handler, timed around the call)
 * and the largest lateness of a 5 ms timer (every stall of its event loop:
 * GC, socket reads, anything), and its peak RSS.
 *
 * With CATCHUP_BASELINE=<dir> (a checkout of an earlier commit with this
 * file copied in) the same scenarios run there too, and the table shows both.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Hlc } from "../../core/crdt/hlc.ts";
import { type DeltaEntry, LwwMap } from "../../core/crdt/lww-map.ts";
import { createClusterReplicator, type ClusterReplicator } from "../../mesh/replication/replicator.ts";
import { cryptoRandom } from "../../adapter/random.ts";
import { realClock } from "../../adapter/clock.ts";
import { createTcpTransport } from "../../mesh/tcp/lanes.ts";
import type { Clock, Transport } from "../../mesh/types.ts";
import { MembershipWorld } from "../support/membership.ts";

export interface BenchSection {
  title: string;
  markdown: string;
}

const ROOMS = Number(process.env["CATCHUP_ROOMS"] ?? 100_000);
const PEOPLE = Number(process.env["CATCHUP_PEOPLE"] ?? 1_000_000);
const DEADLINE_MS = Number(process.env["CATCHUP_DEADLINE_MS"] ?? 240_000);
const GOAL_MS = 50;
const COOKIE = "catchup-bench";
const NAMES = ["A", "B", "X"] as const;

interface NodeReport {
  longest: number;
  cpu: number;
  what: string;
  stall: number;
  stallCpu: number;
  rssMiB: number;
  bytesSent: number;
  aeSent: number;
}

interface Figures {
  scenario: string;
  ok: boolean;
  ms: number;
  mib: number;
  entries: number;
  turn: Record<string, number>;
  cpu: Record<string, number>;
  what: Record<string, string>;
  stall: Record<string, number>;
  stallCpu: Record<string, number>;
  rssMiB: Record<string, number>;
  writes: number;
  note: string;
}

/** The rooms app's keys: room/r, person/p -> room, seat/r/i -> person for capacity rooms. */
function dataset(writer: string, w0: number): DeltaEntry[] {
  const e: DeltaEntry[] = [];
  for (let r = 0; r < ROOMS; r++) e.push({ k: `room/r${r}`, ts: { w: w0, c: r, n: writer }, v: { capacity: r % 10 === 0 ? 10 : null } });
  for (let p = 0; p < PEOPLE; p++) {
    const room = p % ROOMS;
    const seat = Math.floor(p / ROOMS) + 1;
    e.push({ k: `person/p${p}`, ts: { w: w0 + 1, c: p, n: writer }, v: `r${room}` });
    if (room % 10 === 0 && seat <= 10) e.push({ k: `seat/r${room}/${seat}`, ts: { w: w0 + 1, c: p, n: writer }, v: `p${p}` });
  }
  return e;
}

// ---- a node (child process) ----

interface Longest {
  /** wall-clock ms */
  ms: number;
  /** CPU ms of this process (all its threads) during the callback: the work, whatever else the machine runs */
  cpu: number;
  /** what the longest (by CPU) was */
  what: string;
}

/** Time every callback: the longest is the longest turn this node's replication took. */
function timed<A extends unknown[]>(fn: (...a: A) => void, longest: Longest, what: (...a: A) => string): (...a: A) => void {
  return (...a: A) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    try {
      fn(...a);
    } finally {
      const dt = performance.now() - t0;
      const c = process.cpuUsage(c0);
      const cpu = (c.user + c.system) / 1000;
      if (dt > longest.ms) longest.ms = dt;
      if (cpu > longest.cpu) {
        longest.cpu = cpu;
        longest.what = what(...a);
      }
    }
  };
}

/** Largest lateness of a 5 ms timer, and the CPU this process used meanwhile (work or GC, not the machine's other load). */
function stallProbe(): { max: number; cpu: number } {
  const s = { max: 0, cpu: 0 };
  let due = performance.now() + 5;
  let c0 = process.cpuUsage();
  const tick = (): void => {
    const late = performance.now() - due;
    const c = process.cpuUsage(c0);
    if (late > s.max) (s.max = late), (s.cpu = (c.user + c.system) / 1000);
    due = performance.now() + 5;
    c0 = process.cpuUsage();
    setTimeout(tick, 5);
  };
  setTimeout(tick, 5);
  return s;
}

async function nodeMain(name: string): Promise<void> {
  const tcp = await createTcpTransport({ bind: "127.0.0.1:0", name, id: `${name}-${process.pid}`, cookie: COOKIE });
  const out = (msg: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(msg) + "\n");
  out({ address: tcp.local });
  const longest: Longest = { ms: 0, cpu: 0, what: "" };
  let probe = { max: 0, cpu: 0 };
  let rss = 0;
  let rep: ClusterReplicator | null = null;
  let map: LwwMap | null = null;
  let hlc: Hlc | null = null;
  let writer: ReturnType<typeof setInterval> | undefined;
  let writes = 0;
  const clock: Clock = { now: () => realClock.now(), setTimer: (ms, fn) => realClock.setTimer(ms, timed(fn, longest, () => `timer ${ms} ms`)) };
  const transport: Transport = { local: tcp.local, send: (to, m) => tcp.send(to, m), onMessage: (h) => tcp.onMessage(timed(h, longest, (_from, m) => `message ${String(m.t)}`)), close: () => tcp.close() };
  const handle = async (msg: Record<string, unknown>): Promise<void> => {
    if (msg["members"]) {
      const membership = new MembershipWorld();
      for (const [n, a] of msg["members"] as [string, string][]) membership.add(n, a);
      map = new LwwMap();
      const missingEvery = msg["missingEvery"] as number;
      if (missingEvery >= 0) {
        const data = dataset(membership.get("A").id, msg["w0"] as number);
        map.absorb({ e: missingEvery === 0 ? data : data.filter((_, i) => i % missingEvery !== 0) });
      }
      (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);
      hlc = new Hlc(membership.get(name).id);
      const h = hlc;
      rss = process.memoryUsage().rss;
      setInterval(() => void (rss = Math.max(rss, process.memoryUsage().rss)), 50).unref();
      probe = stallProbe();
      rep = createClusterReplicator({ map, observe: (ts) => h.observe(ts, Date.now()), membership: membership.view(name), transport, clock, random: cryptoRandom(), concern: 1 });
      out({ started: true });
    } else if (msg["catchup"] && rep) {
      const t0 = performance.now();
      try {
        await rep.catchUpFrom(msg["catchup"] as string[], (msg["catchup"] as string[]).length, DEADLINE_MS);
        out({ ok: true, ms: performance.now() - t0 });
      } catch (err) {
        out({ ok: false, ms: performance.now() - t0, note: String((err as Error).message).slice(0, 140) });
      }
    } else if (msg["write"] && rep && hlc) {
      const perTick = (msg["write"] as number) / 10;
      const r = rep;
      const h = hlc;
      // Batches every 100 ms: people moving rooms.
      writer = setInterval(() => {
        for (let k = 0; k < perTick; k++) {
          const p = (writes++ * 7919) % PEOPLE;
          void r.write({ e: [{ k: `person/p${p}`, ts: h.now(Date.now()), v: `r${(p + writes) % ROOMS}` }] }).catch(() => {});
        }
      }, 100);
    } else if (msg["stopWrite"]) {
      clearInterval(writer);
      out({ writes });
    } else if (msg["flush"] && rep) {
      await rep.flush(10_000).catch(() => {});
      out({ flushed: true });
    } else if (msg["digest"] && map) {
      out({ digest: Array.from(map.digest().h).join(","), size: map.size });
    } else if (msg["report"] && rep) {
      const st = rep.stats();
      const report: NodeReport = { longest: longest.ms, cpu: longest.cpu, what: longest.what, stall: probe.max, stallCpu: probe.cpu, rssMiB: rss / 2 ** 20, bytesSent: tcp.stats().bytesSent, aeSent: st.antiEntropyEntriesSent };
      out(report as unknown as Record<string, unknown>);
    } else if (msg["stop"]) {
      rep?.stop();
      await tcp.close();
      process.exit(0);
    }
  };
  let buf = "";
  process.stdin.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      void handle(JSON.parse(line) as Record<string, unknown>);
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

// ---- the parent ----

interface Child {
  proc: ChildProcess;
  lines: string[];
  waiters: ((line: string) => void)[];
}

function spawnNode(script: string, name: string): Child {
  const proc = spawn(process.execPath, [script], { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, CATCHUP_NODE: name } });
  const child: Child = { proc, lines: [], waiters: [] };
  let buf = "";
  proc.stdout!.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = child.waiters.shift();
      if (w) w(line);
      else child.lines.push(line);
    }
  });
  return child;
}

function ask(c: Child, msg: Record<string, unknown> | null, what: string, ms = 120_000): Promise<Record<string, unknown>> {
  if (msg) c.proc.stdin!.write(JSON.stringify(msg) + "\n");
  const got = c.lines.shift();
  if (got !== undefined) return Promise.resolve(JSON.parse(got) as Record<string, unknown>);
  const p = new Promise<Record<string, unknown>>((resolve, reject) => {
    c.waiters.push((line) => resolve(JSON.parse(line) as Record<string, unknown>));
    c.proc.once("exit", (code) => reject(new Error(`node exited (${code}) before ${what}`)));
  });
  return withDeadline(p, ms, what);
}

async function scenario(script: string, label: string, missingEvery: number, writesPerSec: number): Promise<Figures> {
  const kids = NAMES.map((n) => spawnNode(script, n));
  try {
    const addrs = await Promise.all(kids.map((k) => ask(k, null, "address")));
    const members = NAMES.map((n, i) => [n, addrs[i]!["address"] as string]);
    const w0 = Date.now() - 60_000;
    await Promise.all([0, 1].map((i) => ask(kids[i]!, { members, w0, missingEvery: 0 }, "full node started")));
    await ask(kids[2]!, { members, w0, missingEvery: missingEvery > 0 ? missingEvery : -1 }, "X started");
    if (writesPerSec > 0) kids[0]!.proc.stdin!.write(JSON.stringify({ write: writesPerSec }) + "\n");
    const res = await ask(kids[2]!, { catchup: ["A", "B"] }, "catch-up", DEADLINE_MS + 30_000);
    let writes = 0;
    if (writesPerSec > 0) writes = (await ask(kids[0]!, { stopWrite: true }, "writes"))["writes"] as number;
    let ok = res["ok"] === true;
    let note = ok ? "" : String(res["note"]);
    if (ok) {
      await Promise.all(kids.map((k) => ask(k, { flush: true }, "flush", 30_000)));
      const until = performance.now() + 15_000;
      for (;;) {
        const [a, x] = await Promise.all([ask(kids[0]!, { digest: true }, "digest"), ask(kids[2]!, { digest: true }, "digest")]);
        if (a["digest"] === x["digest"]) break;
        if (performance.now() > until) {
          ok = false;
          note = `X differs from A after catching up (${String(x["size"])} keys, A ${String(a["size"])})`;
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const reps = (await Promise.all(kids.map((k) => ask(k, { report: true }, "report")))) as unknown as NodeReport[];
    return {
      scenario: label,
      ok,
      ms: res["ms"] as number,
      mib: reps.reduce((s, r) => s + r.bytesSent, 0) / 2 ** 20,
      entries: reps.reduce((s, r) => s + r.aeSent, 0),
      turn: Object.fromEntries(NAMES.map((n, i) => [n, reps[i]!.longest])),
      cpu: Object.fromEntries(NAMES.map((n, i) => [n, reps[i]!.cpu])),
      what: Object.fromEntries(NAMES.map((n, i) => [n, reps[i]!.what])),
      stall: Object.fromEntries(NAMES.map((n, i) => [n, reps[i]!.stall])),
      stallCpu: Object.fromEntries(NAMES.map((n, i) => [n, reps[i]!.stallCpu])),
      rssMiB: Object.fromEntries(NAMES.map((n, i) => [n, reps[i]!.rssMiB])),
      writes,
      note,
    };
  } finally {
    for (const k of kids) if (k.proc.exitCode === null) k.proc.stdin!.write(JSON.stringify({ stop: true }) + "\n");
    await Promise.all(kids.map((k) => new Promise<void>((r) => {
      if (k.proc.exitCode !== null) return r();
      const t = setTimeout(() => (k.proc.kill("SIGKILL"), r()), 10_000);
      k.proc.once("exit", () => (clearTimeout(t), r()));
    })));
  }
}

async function measure(script: string): Promise<Figures[]> {
  const keys = ROOMS + PEOPLE + Math.min(10, Math.ceil(PEOPLE / ROOMS)) * Math.ceil(ROOMS / 10);
  const out: Figures[] = [];
  out.push(await scenario(script, `(a) empty X joins (${fmt(keys)} keys)`, 0, 0));
  out.push(await scenario(script, `(b) X lacks 1% (${fmt(Math.ceil(keys / 100))} keys)`, 100, 0));
  out.push(await scenario(script, "(c) as (b), A writing 10,000 keys/s", 100, 10_000));
  return out;
}

function row(who: string, f: Figures): string {
  const per = (r: Record<string, number>): string => NAMES.map((n) => (r[n] ?? 0).toFixed(0)).join(" / ");
  const stalls = NAMES.map((n) => `${(f.stall[n] ?? 0).toFixed(0)} (${(f.stallCpu?.[n] ?? 0).toFixed(0)})`).join(" / ");
  const goal = Math.max(...Object.values(f.cpu)) <= GOAL_MS ? "met" : "**MISSED**";
  const wallGoal = Math.max(...Object.values(f.stall), ...Object.values(f.turn)) <= GOAL_MS ? "met" : "**MISSED**";
  const status = f.ok ? "yes" : `**no**: ${f.note}`;
  const writes = f.writes > 0 ? ` (${fmt(f.writes)} writes)` : "";
  return `| ${f.scenario} | ${who} | ${(f.ms / 1000).toFixed(1)}${writes} | ${status} | ${f.mib.toFixed(0)} | ${fmt(f.entries)} | ${per(f.cpu)} | ${per(f.turn)} | ${stalls} | ${goal} | ${wallGoal} | ${per(f.rssMiB)} |`;
}

export async function run(): Promise<BenchSection> {
  const here = fileURLToPath(import.meta.url);
  const base = process.env["CATCHUP_BASELINE"];
  const label = process.env["CATCHUP_BASELINE_LABEL"] ?? "baseline";
  let before: Figures[] | null = null;
  let beforeNote = "";
  if (base) {
    try {
      before = await measure(`${base}/tests/bench/catchup.bench.ts`);
    } catch (err) {
      beforeNote = ` Baseline run failed: ${(err as Error).message}.`;
    }
  }
  const now = await measure(here);
  const rows: string[] = [];
  now.forEach((f, k) => {
    if (before?.[k]) rows.push(row(`before (${label})`, before[k]!));
    rows.push(row("now", f));
  });
  const markdown = [
    `A node X catches up (\`catchUpFrom([A, B], 2)\`, as the registry does on every committed configuration change) on the rooms app's keys for ${fmt(ROOMS)} rooms and ${fmt(PEOPLE)} people. Real replicators over real TCP on 127.0.0.1, one process per node (A, B, X). "Longest turn" is the longest timer or message handler of the node's replicator, timed around the call, by the CPU the process used meanwhile (the work of the turn, GC included) and by the wall clock; "stall" is the largest lateness of a 5 ms timer in that process (any stall: GC, socket reads, callbacks, or the machine running something else: the CPU the process used during it tells which). The goal, longest turn <= ${GOAL_MS} ms, is judged both ways: by CPU (what the code does in a turn) and by wall clock (which, on a machine this loaded, also counts time the process was not running). Load average at the start: ${loadavg().map((x) => x.toFixed(1)).join(" ")} on ${cpus().length} cores. Catch-up time is until \`catchUpFrom\` resolved; "complete": X's digest then equals A's (after the writes stop and drain). Deadline ${DEADLINE_MS / 1000} s.${beforeNote}`,
    "",
    "| scenario | code | catch-up s | complete | MiB on wire | AE entries sent | longest turn, CPU ms (A / B / X) | longest callback, wall ms | stall, wall ms (CPU ms during it) | turn <= 50 ms by CPU | by wall clock | peak RSS MiB (A / B / X) |",
    "| --- | --- | ---: | :---: | ---: | ---: | --- | --- | --- | :---: | :---: | --- |",
    ...rows,
    "",
    `Longest turns by CPU were: ${now.map((f) => `${f.scenario.slice(0, 3)} ${NAMES.map((n) => `${n} ${f.what[n] ?? "?"}`).join(", ")}`).join("; ")}.`,
  ].join("\n");
  return { title: "Catch-up at 1.2M keys: what is missing, streamed", markdown };
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`bench: ${what} not done within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

if (import.meta.main) {
  const node = process.env["CATCHUP_NODE"];
  if (node) await nodeMain(node);
  else {
    const section = await run();
    console.log(`## ${section.title}\n\n${section.markdown}`);
    process.exit(0);
  }
}
