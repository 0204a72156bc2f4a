/**
 * A cluster of real `roomy node` processes on loopback, for tests and the
 * detection benchmark. Each node is `process.execPath cli/main.ts node` with
 * fixed ports found free beforehand (peers must know a mesh address before
 * its node starts, and a restarted node keeps its ports). Every wait has a
 * deadline. Every child started here is SIGKILLed by `close()` (call it in
 * afterAll) and, as a last resort, when this process exits.
 */
import { createServer, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";
import { createClient, type MemberInfo, type RoomyClient } from "../../http/client.ts";
import { RoomyChild, until } from "./procs.ts";

export { sleep } from "./procs.ts";

export const MAIN = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than undefined/false, or
 * the deadline passes (then throws naming `what` and the last error seen).
 * Errors thrown by `probe` count as "not yet": throw one that says what is
 * missing, and the timeout message will show it.
 */
export function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions = {},
): Promise<T> {
  return until(`waiting for ${what}`, async () => {
    const v = await probe();
    return v === false ? undefined : v;
  }, opts.timeoutMs ?? 20_000, opts.intervalMs ?? 100);
}

/** `n` distinct loopback ports that were free a moment ago (all held at once, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => resolve());
      });
      const a = s.address();
      if (a === null || typeof a === "string") throw new Error("no port from listen(0)");
      ports.push(a.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

export interface NodeSpec {
  name: string;
  meshPort: number;
  httpPort: number;
  /** Mesh addresses to --join. */
  join: string[];
  /** --profile (default: none given, i.e. the node's default, lan). */
  profile?: "lan" | "local" | "wan";
  cookie?: string;
  /** More flags for `roomy node`. */
  args?: string[];
}

/** One `roomy node` child process. */
export class RoomyProcess {
  readonly spec: NodeSpec;
  readonly url: string;
  /** Ordinary client: 10 s per request, retries `unavailable` for 5 s. */
  readonly client: RoomyClient;
  /** Impatient client for polling: 1 s per request, no retries. */
  readonly probe: RoomyClient;
  readonly #child: RoomyChild;

  private constructor(spec: NodeSpec, child: RoomyChild, url: string) {
    this.spec = spec;
    this.#child = child;
    this.url = url;
    this.client = createClient(url);
    this.probe = createClient(url, { timeoutMs: 1000, retryForMs: 0 });
  }

  get proc(): Subprocess<"ignore", "pipe", "pipe"> {
    return this.#child.proc;
  }
  get name(): string {
    return this.spec.name;
  }
  get meshAddress(): string {
    return `127.0.0.1:${this.spec.meshPort}`;
  }
  /** Still running (possibly stopped by SIGSTOP). */
  get alive(): boolean {
    return this.#child.alive;
  }
  /** The last 64 KiB of its stderr (logs), for failure messages. */
  logs(): string {
    return this.#child.stderr().slice(-64 * 1024);
  }

  /** Starts the node and waits for its listening line (not for it to be ready, joined: see Cluster.waitConverged). */
  static async start(spec: NodeSpec, deadlineMs = 30_000): Promise<RoomyProcess> {
    const argv = [
      process.execPath,
      MAIN,
      "node",
      "--name",
      spec.name,
      "--bind",
      `127.0.0.1:${spec.meshPort}`,
      "--http",
      `127.0.0.1:${spec.httpPort}`,
      ...spec.join.flatMap((j) => ["--join", j]),
      ...(spec.profile === undefined ? [] : ["--profile", spec.profile]),
      ...(spec.cookie === undefined ? [] : ["--cookie", spec.cookie]),
      ...(spec.args ?? []),
    ];
    const child = new RoomyChild(argv);
    const m = await child.line(/roomy node \S+ listening http=(\S+)/, deadlineMs, `node ${spec.name}'s listening line`);
    return new RoomyProcess(spec, child, m[1]!);
  }

  /** SIGSTOP: the process freezes (its sockets stay open). */
  pause(): void {
    this.#child.pause();
  }
  /** SIGCONT after pause(). */
  resume(): void {
    this.#child.resume();
  }
  /** kill -9, and wait until it is gone. */
  async kill(): Promise<void> {
    await this.#child.kill();
  }
  /**
   * SIGTERM and wait for the exit; returns the exit code, or null if it died
   * of a signal or did not exit within the deadline (then it is killed).
   */
  terminate(deadlineMs = 30_000): Promise<number | null> {
    return this.#child.terminate(deadlineMs);
  }
}

export interface ClusterOptions {
  /** Number of nodes (ignored when `names` is given). */
  size?: number;
  /** Node names (default n1..nN). */
  names?: string[];
  profile?: "lan" | "local" | "wan";
  cookie?: string;
  /** Extra flags for every node. */
  args?: string[];
  /** Deadline for all nodes to print ready and see each other alive. */
  deadlineMs?: number;
}

/** A cluster of real processes. Nodes are found by name; restarts replace the entry. */
export class Cluster {
  private readonly specs = new Map<string, NodeSpec>();
  private readonly procs = new Map<string, RoomyProcess>();
  /** Every process this cluster ever started (for close()). */
  private readonly all: RoomyProcess[] = [];

  private constructor(specs: NodeSpec[]) {
    for (const s of specs) this.specs.set(s.name, s);
  }

  /** Starts every node at once (each joins all the others) and waits until each sees all alive. */
  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    const names = opts.names ?? Array.from({ length: opts.size ?? 3 }, (_, i) => `n${i + 1}`);
    const ports = await freePorts(names.length * 2);
    const mesh = names.map((_, i) => `127.0.0.1:${ports[2 * i]}`);
    const specs: NodeSpec[] = names.map((name, i) => ({
      name,
      meshPort: ports[2 * i]!,
      httpPort: ports[2 * i + 1]!,
      join: mesh.filter((_, j) => j !== i),
      profile: opts.profile,
      cookie: opts.cookie,
      args: opts.args,
    }));
    const cluster = new Cluster(specs);
    const deadline = opts.deadlineMs ?? 60_000;
    try {
      const started = await Promise.allSettled(specs.map((s) => cluster.launch(s, deadline)));
      const failed = started.find((r) => r.status === "rejected");
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
      await cluster.waitConverged({ timeoutMs: deadline });
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  private async launch(spec: NodeSpec, deadlineMs?: number): Promise<RoomyProcess> {
    const p = await RoomyProcess.start(spec, deadlineMs);
    this.all.push(p);
    this.procs.set(spec.name, p);
    return p;
  }

  /** The current process of each node, in name order. */
  get nodes(): RoomyProcess[] {
    return [...this.specs.keys()].map((n) => this.node(n));
  }
  /** Nodes whose process is running. */
  running(): RoomyProcess[] {
    return this.nodes.filter((p) => p.alive);
  }
  node(name: string): RoomyProcess {
    const p = this.procs.get(name);
    if (p === undefined) throw new Error(`no node ${name}`);
    return p;
  }
  names(): string[] {
    return [...this.specs.keys()];
  }

  /** Starts `name` again (after kill or terminate) with the same name, ports and flags. */
  async restart(name: string, deadlineMs?: number): Promise<RoomyProcess> {
    const spec = this.specs.get(name);
    if (spec === undefined) throw new Error(`no node ${name}`);
    const old = this.procs.get(name);
    if (old !== undefined && old.alive) throw new Error(`node ${name} is still running`);
    return this.launch(spec, deadlineMs);
  }

  /** Starts an extra node (not part of the cluster's names) that joins the given nodes; close() kills it too. */
  async startStranger(spec: Omit<NodeSpec, "meshPort" | "httpPort"> & { meshPort?: number; httpPort?: number }): Promise<RoomyProcess> {
    const [meshPort, httpPort] = await freePorts(2);
    const p = await RoomyProcess.start({ ...spec, meshPort: spec.meshPort ?? meshPort!, httpPort: spec.httpPort ?? httpPort! });
    this.all.push(p);
    return p;
  }

  /**
   * Until every running node (or those in `among`) answers /readyz and lists
   * exactly the expected names alive (default: all the cluster's names).
   */
  async waitConverged(opts: WaitOptions & { among?: RoomyProcess[]; alive?: string[] } = {}): Promise<void> {
    const expected = [...(opts.alive ?? this.names())].sort();
    await waitFor(
      `every node to see ${expected.join(",")} alive`,
      async () => {
        const among = opts.among ?? this.running();
        const views = await Promise.all(
          among.map(async (p) => {
            if (!(await p.probe.ready())) return `${p.name}: not ready`;
            const alive = (await p.probe.members()).filter((m) => m.state === "alive").map((m) => m.name).sort();
            return JSON.stringify(alive) === JSON.stringify(expected) ? null : `${p.name} sees ${alive.join(",")}`;
          }),
        );
        const bad = views.filter((v) => v !== null);
        if (bad.length > 0) throw new Error(bad.join("; "));
        return true;
      },
      { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: opts.intervalMs ?? 200 },
    );
  }

  /** Kills every process this cluster started (SIGKILL, waited for). Safe to call twice. */
  async close(): Promise<void> {
    await Promise.all(this.all.map((p) => p.kill()));
  }
}

/** `name`'s state as `observer` reports it (undefined if not listed). */
export async function stateSeenBy(observer: RoomyProcess, name: string): Promise<MemberInfo | undefined> {
  return (await observer.probe.members()).find((m) => m.name === name);
}

/** Polls until every one of `observers` reports `name` in one of `states`. */
export async function waitState(
  observers: RoomyProcess[],
  name: string,
  states: MemberInfo["state"][],
  opts: WaitOptions = {},
): Promise<void> {
  await waitFor(
    `${observers.map((o) => o.name).join(",")} to see ${name} ${states.join("|")}`,
    async () => {
      const seen = await Promise.all(observers.map(async (o) => [o.name, (await stateSeenBy(o, name))?.state ?? "absent"] as const));
      const bad = seen.filter(([, s]) => !(states as string[]).includes(s));
      if (bad.length > 0) throw new Error(bad.map(([o, s]) => `${o}: ${s}`).join(", "));
      return true;
    },
    { timeoutMs: opts.timeoutMs ?? 20_000, intervalMs: opts.intervalMs ?? 100 },
  );
}
