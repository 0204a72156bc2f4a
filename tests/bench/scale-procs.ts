/**
 * Real `dist/roomy node` processes for the scale benchmark and the scale
 * test: fixed loopback ports (a node restarted under its name keeps them, so
 * the others' --join still reaches it), kill -9, RSS and CPU time from /proc,
 * /readyz and /metrics. Every process started here is SIGKILLed by
 * ScaleCluster.close() and, as a last resort, when this process exits.
 */
import { readFileSync } from "node:fs";
import type { Subprocess } from "bun";

const everyChild = new Set<Subprocess>();
function track(p: Subprocess): void {
  everyChild.add(p);
  void p.exited.then(() => everyChild.delete(p));
}
process.on("exit", () => {
  for (const c of everyChild) c.kill("SIGKILL");
});

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined); throws at the deadline with the last error. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${deadlineMs} ms${last === undefined ? "" : ` (last: ${String(last)})`}`);
    await sleep(everyMs);
  }
}

/** Linux clock ticks per second (USER_HZ): /proc/PID/stat counts CPU time in these. */
export const CLK_TCK = 100;

/** utime + stime of a process (all its threads), in clock ticks; 0 once it is gone. */
export function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** VmRSS of a process in bytes (NaN once it is gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? NaN : Number(m[1]) * 1024;
  } catch {
    return NaN;
  }
}

/** The value of an unlabelled gauge in a Prometheus text answer (NaN when absent). */
export function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m === null ? NaN : Number(m[1]);
}

export class ScaleNode {
  proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  #logs = "";
  constructor(
    readonly name: string,
    readonly meshPort: number,
    readonly httpPort: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }
  get mesh(): string {
    return `127.0.0.1:${this.meshPort}`;
  }
  get pid(): number {
    if (this.proc === null) throw new Error(`${this.name} was never started`);
    return this.proc.pid;
  }
  get alive(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  /** Every log line of every incarnation (stdout and stderr). */
  logs(): string {
    return this.#logs;
  }

  /** Spawns the node; resolves once it prints its listening line (not yet ready: see ready()). */
  async start(binary: string, join: string[], args: string[] = [], deadlineMs = 30_000): Promise<void> {
    if (this.alive) throw new Error(`${this.name} is running`);
    const argv = [binary, "node", "--name", this.name, "--bind", this.mesh, "--http", `127.0.0.1:${this.httpPort}`,
      "--profile", "lan", "--log-level", "warn", ...join.flatMap((j) => ["--join", j]), ...args];
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("ROOMY_")) env[k] = v;
    const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env });
    track(proc);
    this.proc = proc;
    this.#logs += `--- ${this.name} started ${new Date().toISOString()}\n`;
    const drain = async (s: ReadableStream<Uint8Array>): Promise<void> => {
      const dec = new TextDecoder();
      try {
        for await (const c of s) this.#logs = (this.#logs + dec.decode(c, { stream: true })).slice(-200_000);
      } catch {
        // closed with the process
      }
    };
    void drain(proc.stdout);
    void drain(proc.stderr);
    const mark = this.#logs.length;
    await until(`${this.name} to print its listening line`, async () => {
      if (!this.alive) throw new Error(`${this.name} exited: ${this.#logs.slice(-2000)}`);
      return /listening/.test(this.#logs.slice(Math.min(mark, this.#logs.length - 1))) ? true : undefined;
    }, deadlineMs, 20);
  }

  /** Does /readyz answer 200 now? */
  async ready(timeoutMs = 1_000): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  async metrics(): Promise<string> {
    // Long: a node that stalls for seconds still answers in the end, and its stall is the figure wanted.
    const res = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return res.text();
  }

  /** kill -9, and wait for it to be gone. */
  async kill(): Promise<void> {
    if (this.proc === null) return;
    if (this.alive) {
      this.proc.kill("SIGCONT");
      this.proc.kill("SIGKILL");
    }
    await this.proc.exited;
  }
}

/**
 * Nodes `${prefix}-1..n` on ports basePort.. (2 per node: mesh, http), each
 * joining all the others. start(k) starts the first k and waits until each
 * sees k alive members and answers /readyz 200.
 */
export class ScaleCluster {
  readonly nodes: ScaleNode[];
  constructor(
    readonly binary: string,
    prefix: string,
    size: number,
    basePort: number,
    readonly args: string[] = [],
  ) {
    this.nodes = Array.from({ length: size }, (_, i) => new ScaleNode(`${prefix}-${i + 1}`, basePort + 2 * i, basePort + 2 * i + 1));
  }
  joinFor(n: ScaleNode): string[] {
    return this.nodes.filter((x) => x !== n).map((x) => x.mesh);
  }
  async start(count: number, deadlineMs = 60_000): Promise<ScaleNode[]> {
    const first = this.nodes.slice(0, count);
    // The others are not running yet: each joins only the nodes started with it.
    await Promise.all(first.map((n) => n.start(this.binary, first.filter((x) => x !== n).map((x) => x.mesh), this.args)));
    await Promise.all(first.map((n) => until(`${n.name} sees ${count} alive members and is ready`, async () => {
      const res = await fetch(`${n.url}/v1/cluster/members`, { signal: AbortSignal.timeout(2_000) });
      const ms = (await res.json()) as { state: string }[];
      return ms.filter((m) => m.state === "alive").length === count && (await n.ready()) ? true : undefined;
    }, deadlineMs, 100)));
    return first;
  }
  /** Starts (or restarts) one node joining every other; resolves at its listening line. */
  startOne(n: ScaleNode): Promise<void> {
    return n.start(this.binary, this.joinFor(n), this.args);
  }
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }
  logs(): string {
    return this.nodes.map((n) => n.logs().slice(-20_000)).join("\n");
  }
}

/** A change of a node's /readyz answer, `at` ms after the watch began. */
export interface ReadyChange {
  node: string;
  at: number;
  ready: boolean;
  /** why not ready: the 503's reason, or no answer */
  why: string;
}

/**
 * Polls every node's /readyz every `everyMs` until stopped and keeps the
 * changes: when a loaded cluster falls over, this says when and why.
 */
export function watchReadiness(nodes: ScaleNode[], everyMs = 1_000): { changes: ReadyChange[]; t0: number; stop(): Promise<void> } {
  const changes: ReadyChange[] = [];
  const last = new Map<string, string>();
  const t0 = performance.now();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(nodes.filter((n) => n.proc !== null).map(async (n) => {
        let ready = false;
        let why = "";
        try {
          const res = await fetch(`${n.url}/readyz`, { signal: AbortSignal.timeout(everyMs * 5) });
          const body = (await res.json().catch(() => ({}))) as { reason?: string };
          ready = res.status === 200;
          why = ready ? "" : (body.reason ?? (res.status === 503 ? "not joined or not caught up" : `HTTP ${res.status}`));
        } catch (err) {
          why = /timed? ?out|abort/i.test(String(err)) ? "no answer in time" : "no answer";
        }
        const key = `${ready} ${why}`;
        if (last.get(n.name) !== key) {
          last.set(n.name, key);
          changes.push({ node: n.name, at: performance.now() - t0, ready, why });
        }
      }));
      await sleep(everyMs);
    }
  })();
  return {
    changes,
    t0,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
