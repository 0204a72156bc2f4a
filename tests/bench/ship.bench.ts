/**
 * What shipping costs: the size of dist/roomy, its start-to-ready time, an
 * idle node's memory, and walk-into requests per second over HTTP on one
 * node beside a bare Bun.serve hello-world measured the same way in the same
 * run (the ceiling). The load generator is wrk when installed (Debian's
 * `wrk`), else a bounded fetch loop in this process (the report says which).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ensureBinary, ROOT } from "../ship/support/binary.ts";
import { CLK_TCK, cpuTicks } from "../support/procs.ts";

const STARTS = 9;
const IDLE_MS = 3000;
const ROOMS = 16;
const PEOPLE = 1000;
const CONNECTIONS = 32;
const WRK_SECONDS = 3;
/**
 * Rounds of roomy and the ceiling, alternated so both see the same machine
 * load; medians reported, and the ratio is the median of each round's
 * roomy/ceiling pair (back to back): the machine's speed drifts between
 * rounds more than it does within one.
 */
const ROUNDS = 7;
/** Linux clock ticks per second (USER_HZ): /proc/PID/stat counts CPU time in these. */
const FETCH_REQUESTS = 20_000;
const WRK = ["/usr/bin/wrk", "/usr/local/bin/wrk"].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});

const TASKSET = ["/usr/bin/taskset", "/bin/taskset"].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});
/**
 * With two or more cores, the server under test runs on core 1 and wrk on
 * core 0 (taskset, when installed): otherwise the scheduler moves them onto
 * one core now and then, and requests/s swings by a quarter from round to
 * round. Every server is pinned the same way, the ceiling too.
 */
const PIN = TASKSET !== undefined && navigator.hardwareConcurrency >= 2;
const pinned = (cmd: string[], core: number): string[] => (PIN ? [TASKSET!, "-c", String(core), ...cmd] : cmd);

interface Started {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  url: string;
  ms: number;
}

/** Spawns `cmd` and resolves at the first stdout line matching `ready`, with the time it took. */
async function spawnReady(cmd: string[], ready: RegExp, deadlineMs = 30_000): Promise<Started> {
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env["PATH"] ?? "" } });
  void new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  const dec = new TextDecoder();
  let out = "";
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const next = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, deadline - Date.now())))]);
    if (next === null || next.done) break;
    out += dec.decode(next.value);
    const m = ready.exec(out);
    if (m !== null) {
      const ms = performance.now() - t0;
      void (async () => {
        for (;;) if ((await reader.read()).done) break;
      })().catch(() => {});
      return { proc, url: m[1]!, ms };
    }
  }
  proc.kill("SIGKILL");
  throw new Error(`${cmd.join(" ")}: no ready line within ${deadlineMs} ms: ${out}`);
}

async function stop(p: Subprocess): Promise<void> {
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), 10_000);
  await p.exited;
  clearTimeout(t);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const NODE_READY = /roomy node \S+ ready http=(\S+)/;

function rssMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

interface Load {
  perSec: number;
  /** Requests completed in the window. */
  requests: number;
  errors: number;
  p50ms: number | null;
  p99ms: number | null;
  /** Server CPU time (user + system) per request, microseconds: steadier than requests/s on a busy machine. */
  cpuUsPerReq?: number;
}

const WALK_LUA = `
local n = 0
request = function()
  n = n + 1
  local body = '{"room":"r' .. (n % ${ROOMS}) .. '","people":["p' .. (n % ${PEOPLE}) .. '"]}'
  return wrk.format("POST", "/v1/walk-into", {["content-type"] = "application/json"}, body)
end
`;

function parseWrk(out: string): Load {
  const perSec = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr === null ? 0 : sockErr.slice(1).reduce((a, b) => a + Number(b), 0));
  const lat = (q: string) => {
    const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(out);
    if (m === null) return null;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  return { perSec, requests, errors, p50ms: lat("50"), p99ms: lat("99") };
}

async function wrk(url: string, script: string, seconds: number): Promise<Load> {
  const proc = Bun.spawn(pinned([WRK!, "-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", "-s", script, url], 0), { stdout: "pipe", stderr: "pipe" });
  const t = setTimeout(() => proc.kill("SIGKILL"), (seconds + 30) * 1000);
  const [out] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  clearTimeout(t);
  return parseWrk(out);
}

async function fetchLoop(url: string, requests: number): Promise<Load> {
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < requests) {
        const n = next++;
        const body = JSON.stringify({ room: `r${n % ROOMS}`, people: [`p${n % PEOPLE}`] });
        const res = await fetch(`${url}/v1/walk-into`, { method: "POST", headers: { "content-type": "application/json" }, body });
        await res.arrayBuffer();
        if (!res.ok) errors++;
      }
    }),
  );
  return { perSec: (requests / (performance.now() - t0)) * 1000, requests, errors, p50ms: null, p99ms: null };
}

/** One measured window against the server `pid` at `url`, with its CPU cost per request. */
async function load(url: string, pid: number, dir: string): Promise<Load> {
  const before = cpuTicks(pid);
  let l: Load;
  if (WRK === undefined) {
    l = await fetchLoop(url, FETCH_REQUESTS);
  } else {
    l = await wrk(url, writeLua(dir), WRK_SECONDS);
  }
  l.cpuUsPerReq = (((cpuTicks(pid) - before) / CLK_TCK) * 1e6) / l.requests;
  return l;
}

async function warm(url: string, dir: string): Promise<void> {
  if (WRK === undefined) await fetchLoop(url, 2000);
  else await wrk(url, writeLua(dir), 2);
}

function writeLua(dir: string): string {
  const script = join(dir, "walk.lua");
  writeFileSync(script, WALK_LUA);
  return script;
}

function medianLoad(ls: Load[]): Load {
  const m = (f: (l: Load) => number | null | undefined) => {
    const xs = ls.map(f).filter((x): x is number => typeof x === "number" && !Number.isNaN(x));
    return xs.length === 0 ? null : median(xs);
  };
  return {
    perSec: m((l) => l.perSec)!,
    requests: ls.reduce((a, l) => a + l.requests, 0),
    errors: ls.reduce((a, l) => a + l.errors, 0),
    p50ms: m((l) => l.p50ms),
    p99ms: m((l) => l.p99ms),
    cpuUsPerReq: m((l) => l.cpuUsPerReq) ?? undefined,
  };
}

export async function run(): Promise<{ title: string; markdown: string }> {
  const bin = await ensureBinary();
  const size = statSync(bin).size;
  const nodeCmd = [bin, "node", "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0"];

  // Start to ready: spawn until the ready line is on stdout.
  const starts: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const s = await spawnReady(nodeCmd, NODE_READY);
    starts.push(s.ms);
    await stop(s.proc);
  }
  const version: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const t0 = performance.now();
    await Bun.spawn([bin, "--version"], { stdout: "ignore", stderr: "ignore" }).exited;
    version.push(performance.now() - t0);
  }

  // Idle memory, then load on the same node.
  const node = await spawnReady(pinned(nodeCmd, 1), NODE_READY);
  const dir = mkdtempSync(join(tmpdir(), "roomy-bench-"));
  let idle: { rss: number; hwm: number };
  let roomy: Load;
  let hello: Load;
  let bareWalk: Load;
  let bareLocal: Load;
  let pairs: number[];
  let loaded: { rss: number; hwm: number };
  try {
    await new Promise((r) => setTimeout(r, IDLE_MS));
    idle = rssMiB(node.proc.pid);
    const rooms = Array.from({ length: ROOMS }, (_, i) => `r${i}`);
    const res = await fetch(`${node.url}/v1/rooms`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ rooms }) });
    if (!res.ok) throw new Error(`add-rooms: HTTP ${res.status}`);
    const helloSrv = await spawnReady(pinned([process.execPath, join(ROOT, "tests", "bench", "ship-hello-server.ts")], 1), /ready (\S+)/);
    const bareScript = join(ROOT, "tests", "bench", "ship-bare-walk-server.ts");
    const bareSrv = await spawnReady(pinned([process.execPath, bareScript, String(ROOMS), "mesh"], 1), /ready (\S+)/);
    const localSrv = await spawnReady(pinned([process.execPath, bareScript, String(ROOMS), "local"], 1), /ready (\S+)/);
    try {
      // Warm-up (JIT, processes, connections), then alternate.
      const servers = [node, helloSrv, bareSrv, localSrv];
      for (const srv of servers) await warm(srv.url, dir);
      const runs: Load[][] = servers.map(() => []);
      for (let i = 0; i < ROUNDS; i++) {
        for (let j = 0; j < servers.length; j++) runs[j]!.push(await load(servers[j]!.url, servers[j]!.proc.pid, dir));
      }
      [roomy, hello, bareWalk, bareLocal] = runs.map(medianLoad) as [Load, Load, Load, Load];
      pairs = runs[0]!.map((r, i) => r.perSec / runs[1]![i]!.perSec);
    } finally {
      await stop(helloSrv.proc);
      await stop(bareSrv.proc);
      await stop(localSrv.proc);
    }
    loaded = rssMiB(node.proc.pid);
  } finally {
    await stop(node.proc);
    rmSync(dir, { recursive: true, force: true });
  }

  const f1 = (n: number) => n.toFixed(1);
  const k = (n: number) => Math.round(n).toLocaleString("en-US");
  const ratio = median(pairs);
  const gen = WRK !== undefined
    ? `wrk (Debian), 1 thread, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${WRK_SECONDS} s per server alternated after a 2 s warm-up, medians (the ratio: median of the rounds' back-to-back pairs)${PIN ? ", servers pinned to core 1 and wrk to core 0 (taskset)" : ""}; each request moves person p(n mod ${PEOPLE}) into room r(n mod ${ROOMS})`
    : `no wrk installed: a fetch loop in the benchmark process, ${CONNECTIONS} in flight, ${ROUNDS} rounds of ${k(FETCH_REQUESTS)} requests per server, medians`;
  const lat = (l: Load) => (l.p50ms === null ? "n/a" : `${l.p50ms.toFixed(2)} / ${l.p99ms?.toFixed(2)} ms`);
  const goal = (ok: boolean) => (ok ? "met" : "**missed**");
  const cpu = (l: Load) => (l.cpuUsPerReq === undefined ? "n/a" : `${l.cpuUsPerReq.toFixed(1)} µs`);
  const cpuRatio = roomy.cpuUsPerReq !== undefined && hello.cpuUsPerReq !== undefined ? `ceiling / roomy ${(hello.cpuUsPerReq / roomy.cpuUsPerReq).toFixed(2)}` : "";
  const startMed = median(starts);
  const markdown = [
    `dist/roomy built with \`bun build --compile\`; a node started with \`--http 127.0.0.1:0 --bind 127.0.0.1:0\` (mesh listening, cluster of one).`,
    "",
    "| measure | value | goal |",
    "| --- | --- | --- |",
    `| binary size | ${f1(size / 2 ** 20)} MiB (${k(size)} bytes) | |`,
    `| start to ready line (median of ${STARTS}) | ${f1(startMed)} ms (min ${f1(Math.min(...starts))}, max ${f1(Math.max(...starts))}) | <= 150 ms: ${goal(startMed <= 150)} |`,
    `| \`roomy --version\` (process start floor, median of ${STARTS}) | ${f1(median(version))} ms | |`,
    `| idle node RSS after ${IDLE_MS / 1000} s (VmRSS) | ${f1(idle.rss)} MiB (peak ${f1(idle.hwm)}) | <= 80 MB: ${goal(idle.rss * 1.048576 <= 80)} |`,
    `| RSS after the HTTP load | ${f1(loaded.rss)} MiB (peak ${f1(loaded.hwm)}) | |`,
    "",
    `HTTP walk-into on one node; load generator: ${gen}.`,
    "",
    "| server | requests/s | p50 / p99 latency | server CPU per request | errors |",
    "| --- | --- | --- | --- | --- |",
    `| roomy \`POST /v1/walk-into\` | ${k(roomy.perSec)} | ${lat(roomy)} | ${cpu(roomy)} | ${roomy.errors} |`,
    `| bare \`Bun.serve\` hello-world (ceiling) | ${k(hello.perSec)} | ${lat(hello)} | ${cpu(hello)} | ${hello.errors} |`,
    `| ratio roomy / ceiling | ${ratio.toFixed(2)} (rounds: ${pairs.map((x) => x.toFixed(2)).join(", ")}) | | ${cpuRatio} | goal >= 0.5: ${goal(ratio >= 0.5)} |`,
    `| reference: the same walk-into behind a bare \`Bun.serve\` handler (no router, checks, metrics), node on the mesh as above | ${k(bareWalk.perSec)} (${(bareWalk.perSec / hello.perSec).toFixed(2)} of ceiling) | ${lat(bareWalk)} | ${cpu(bareWalk)} | ${bareWalk.errors} |`,
    `| reference: the same bare handler, node as the in-process cluster of one (the same registry and replicator, no TCP transport) | ${k(bareLocal.perSec)} (${(bareLocal.perSec / hello.perSec).toFixed(2)} of ceiling) | ${lat(bareLocal)} | ${cpu(bareLocal)} | ${bareLocal.errors} |`,
    "",
    "The load generator and the servers share this machine's cores (and, during development, other work): requests/s moves with",
    "the load, CPU time per request much less. A walk-into is more than a hello-world: the body is parsed and checked, the room's",
    "process admits the person, the write is stamped, merged, indexed and handed to the replicator, and the answer is JSON.",
  ].join("\n");
  return { title: "Shipping: binary, start-up, memory, HTTP", markdown };
}

if (import.meta.main) console.log((await run()).markdown);
