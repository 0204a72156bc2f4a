/**
 * The processes of the lot benchmark: clusters of `dist/roomy` nodes and of
 * etcd members (data dirs on tmpfs), CPU time from /proc, core pinning with
 * taskset. Every process started here is SIGKILLed by killEverything(),
 * which also runs when this process exits, however it exits.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { cleanEnv, eventually, killAll, type RunningNode, startNode } from "../ship/support/procs.ts";
import { runToEnd, sleep, track } from "../support/procs.ts";
import { ROOT } from "../ship/support/binary.ts";

export const ETCD = ["/usr/bin/etcd", "/usr/local/bin/etcd"].find((p) => existsSync(p));
const TASKSET = ["/usr/bin/taskset", "/bin/taskset"].find((p) => existsSync(p));
/** Servers on core 1, the load client on core 0 (when there are two cores and taskset). */
export const PIN = TASKSET !== undefined && navigator.hardwareConcurrency >= 2;
export const SERVER_CORE = 1;
export const CLIENT_CORE = 0;
export const pinned = (cmd: string[], core: number): string[] => (PIN ? [TASKSET!, "-c", String(core), ...cmd] : cmd);

const dataDirs = new Set<string>();

export function killEverything(): void {
  killAll();
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
  dataDirs.clear();
}
process.on("exit", killEverything);
// Interrupted (Ctrl-C, a timeout's SIGTERM): the servers go too.
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(sig, () => {
    killEverything();
    process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
  });
}

export { CLK_TCK, cpuTicks, sleep } from "../support/procs.ts";

/** GET/POST JSON with a short deadline (polls must not hang on a stopped process). */
export async function json<T>(url: string, body?: unknown, ms = 2_000): Promise<T> {
  const res = await fetch(url, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(ms),
  });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

// ---- roomy ----

export interface RoomyCluster {
  nodes: RunningNode[];
  urls: string[];
  pids: number[];
  stop(): Promise<void>;
}

/** Does this binary take `--lot raft|crdt` (the Raft lot)? */
export async function lotFlagSupported(bin: string): Promise<boolean> {
  const r = await runToEnd([bin, "node", "--help"], { deadlineMs: 20_000 });
  return /--lot\b/.test(r.stdout + r.stderr);
}

/**
 * `n` nodes named `${prefix}-1..n`, the first the seed; resolves once every
 * node sees `n` alive members and answers /readyz.
 */
export async function startRoomy(bin: string, n: number, prefix: string, extra: string[], pin = true): Promise<RoomyCluster> {
  const common = ["--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--profile", "lan", "--log-level", "warn", ...extra];
  const cmd = (i: number, join: string[]) => {
    const c = [bin, "node", "--name", `${prefix}-${i}`, ...common, ...join];
    return pin ? pinned(c, SERVER_CORE) : c;
  };
  const nodes: RunningNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((x) => x.stop(10_000)));
  };
  try {
    nodes.push(await startNode(cmd(1, [])));
    const rest = await Promise.all(Array.from({ length: n - 1 }, (_, i) => startNode(cmd(i + 2, ["--join", nodes[0]!.mesh]))));
    nodes.push(...rest);
    for (const x of nodes) {
      await eventually(`${x.name} sees ${n} alive members and is ready`, async () => {
        const ms = await json<{ state: string }[]>(`${x.url}/v1/cluster/members`);
        const ready = (await fetch(`${x.url}/readyz`, { signal: AbortSignal.timeout(2_000) })).status === 200;
        return ready && ms.filter((m) => m.state === "alive").length === n ? true : undefined;
      }, 30_000);
    }
  } catch (err) {
    for (const x of nodes) x.proc.kill("SIGKILL");
    throw err;
  }
  return { nodes, urls: nodes.map((x) => x.url), pids: nodes.map((x) => x.proc.pid), stop };
}

/** Starts one more node (a restart under a name) joining `seed`. */
export function startRoomyNode(bin: string, name: string, seed: string, extra: string[]): Promise<RunningNode> {
  return startNode([bin, "node", "--name", name, "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--profile", "lan", "--log-level", "warn", "--join", seed, ...extra]);
}

// ---- etcd ----

export interface EtcdMember {
  name: string;
  url: string;
  cmd: string[];
  proc: Subprocess;
}

export interface EtcdCluster {
  members: EtcdMember[];
  urls: string[];
  pids: number[];
  /** SIGKILL member i now. */
  kill(i: number): void;
  /** Start member i again on its data dir (it rejoins the cluster it was in). */
  restart(i: number): void;
  stop(): Promise<void>;
}

export interface EtcdStatus {
  leader?: string;
  raftTerm?: string;
  header?: { member_id?: string };
}

export const etcdStatus = (url: string, ms = 1_000) => json<EtcdStatus>(`${url}/v3/maintenance/status`, {}, ms);

/**
 * `n` etcd members on loopback, client ports clientBase+1..n and peer ports
 * peerBase+1..n, data dirs under /dev/shm (removed by stop()); resolves once
 * every member answers /health and they agree on a leader.
 */
export async function startEtcd(n: number, clientBase: number, peerBase: number, pin = true): Promise<EtcdCluster> {
  if (ETCD === undefined) throw new Error("etcd is not installed (Debian: apt-get install etcd-server)");
  const shm = existsSync("/dev/shm") && statSync("/dev/shm").isDirectory() ? "/dev/shm" : undefined;
  if (shm === undefined) throw new Error("no /dev/shm: etcd's data dir must be on tmpfs for this comparison");
  const dir = mkdtempSync(join(shm, "roomy-bench-etcd-"));
  dataDirs.add(dir);
  const peer = (i: number) => `http://127.0.0.1:${peerBase + i}`;
  const client = (i: number) => `http://127.0.0.1:${clientBase + i}`;
  const initial = Array.from({ length: n }, (_, i) => `e${i + 1}=${peer(i + 1)}`).join(",");
  const spawn = (cmd: string[]) => {
    const p = Bun.spawn(cmd, { cwd: ROOT, stdin: "ignore", stdout: "ignore", stderr: "ignore", env: cleanEnv() });
    track(p);
    return p;
  };
  const members: EtcdMember[] = [];
  for (let i = 1; i <= n; i++) {
    const c = [ETCD, "--name", `e${i}`, "--data-dir", join(dir, `e${i}`),
      "--listen-client-urls", client(i), "--advertise-client-urls", client(i),
      "--listen-peer-urls", peer(i), "--initial-advertise-peer-urls", peer(i),
      "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", `roomy-bench-${process.pid}-${peerBase}`,
      "--logger", "zap", "--log-level", "error"];
    const cmd = pin ? pinned(c, SERVER_CORE) : c;
    members.push({ name: `e${i}`, url: client(i), cmd, proc: spawn(cmd) });
  }
  const cluster: EtcdCluster = {
    members,
    get urls() {
      return members.map((m) => m.url);
    },
    get pids() {
      return members.map((m) => m.proc.pid);
    },
    kill(i) {
      members[i]!.proc.kill("SIGKILL");
    },
    restart(i) {
      members[i]!.proc = spawn(members[i]!.cmd);
    },
    async stop() {
      for (const m of members) m.proc.kill("SIGTERM");
      await Promise.race([Promise.all(members.map((m) => m.proc.exited)), sleep(10_000)]);
      for (const m of members) if (m.proc.exitCode === null && m.proc.signalCode === null) m.proc.kill("SIGKILL");
      await Promise.all(members.map((m) => m.proc.exited));
      rmSync(dir, { recursive: true, force: true });
      dataDirs.delete(dir);
    },
  };
  try {
    await etcdAgreed(cluster, members.map((_, i) => i), 30_000);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Polls the members `alive` until all name one leader; that leader's id and term. */
export async function etcdAgreed(c: EtcdCluster, alive: number[], deadlineMs: number): Promise<{ leader: string; term: number }> {
  return eventually("etcd members agree on a leader", async () => {
    const ss = await Promise.all(alive.map((i) => etcdStatus(c.members[i]!.url)));
    const leaders = new Set(ss.map((s) => s.leader ?? "0"));
    const l = ss[0]!.leader;
    return leaders.size === 1 && l !== undefined && l !== "0" ? { leader: l, term: Number(ss[0]!.raftTerm) } : undefined;
  }, deadlineMs, 50);
}
