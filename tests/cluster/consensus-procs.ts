/**
 * Real `dist/roomy node` processes for the consensus tests: fixed loopback
 * ports (a restarted node keeps its name and ports, so the others' --join
 * still reaches it), kill -9 / SIGSTOP / SIGTERM, /v1/consensus and the lot
 * over plain fetch with short timeouts (no client-side retries: the tests
 * decide what a failed call means). Every process started here is SIGKILLed
 * by ConsensusCluster.close() and, as a last resort, when the test process exits.
 */
import type { ConsensusInfo } from "../../http/client.ts";
import type { Subprocess } from "bun";
import { ensureBinary } from "../ship/support/binary.ts";

const everyChild = new Set<Subprocess>();
let hooked = false;
function track(p: Subprocess): void {
  everyChild.add(p);
  void p.exited.then(() => everyChild.delete(p));
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const c of everyChild) c.kill("SIGKILL");
    });
  }
}

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

/** GET /v1/consensus, as the typed client reads it. */
export type ConsensusView = ConsensusInfo;

export interface LotView {
  spaces: number;
  occupied: number;
  available: number;
  vehicles: Record<string, unknown>;
}

/** An HTTP answer: ok with its JSON, or the node's error code, or `timeout`/`network` (no answer). */
export type Answer<T> = { ok: true; body: T } | { ok: false; code: string; answered: boolean; message: string };

export class Node {
  proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  #logs = "";
  constructor(
    readonly name: string,
    readonly meshPort: number,
    readonly httpPort: number,
    readonly args: string[],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }
  get alive(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  /** Every log line of every incarnation of this node (stdout and stderr). */
  logs(): string {
    return this.#logs;
  }

  async start(binary: string, join: string[], deadlineMs = 30_000): Promise<void> {
    if (this.alive) throw new Error(`${this.name} is running`);
    const argv = [binary, "node", "--name", this.name, "--bind", `127.0.0.1:${this.meshPort}`, "--http", `127.0.0.1:${this.httpPort}`,
      ...join.flatMap((j) => ["--join", j]), ...this.args];
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("ROOMY_")) env[k] = v;
    const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env });
    track(proc);
    this.proc = proc;
    this.#logs += `--- ${this.name} started ${new Date().toISOString()}\n`;
    const drain = async (s: ReadableStream<Uint8Array>): Promise<void> => {
      const dec = new TextDecoder();
      try {
        for await (const c of s) this.#logs += dec.decode(c, { stream: true });
      } catch {
        // closed with the process
      }
    };
    void drain(proc.stdout);
    void drain(proc.stderr);
    const mark = this.#logs.length;
    await until(`${this.name} to print its listening line`, async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${this.name} exited: ${this.#logs.slice(-2000)}`);
      return /listening/.test(this.#logs.slice(mark)) ? true : undefined;
    }, deadlineMs);
  }

  async kill(): Promise<void> {
    if (this.proc === null) return;
    if (this.alive) {
      this.proc.kill("SIGCONT");
      this.proc.kill("SIGKILL");
    }
    await this.proc.exited;
  }
  pause(): void {
    this.proc?.kill("SIGSTOP");
  }
  resume(): void {
    this.proc?.kill("SIGCONT");
  }
  /** SIGTERM and wait (SIGKILL after the deadline). */
  async terminate(deadlineMs = 20_000): Promise<void> {
    if (!this.alive) return;
    const p = this.proc!;
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), deadlineMs);
    await p.exited;
    clearTimeout(t);
  }

  async call<T>(method: "GET" | "POST", path: string, body?: unknown, timeoutMs = 2_000): Promise<Answer<T>> {
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const m = err instanceof Error ? err.message : String(err);
      return { ok: false, code: /timed? ?out|abort/i.test(m) ? "timeout" : "network", answered: false, message: m };
    }
    const text = await res.text().catch(() => "");
    let json: unknown;
    try {
      json = text === "" ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    if (res.ok) return { ok: true, body: json as T };
    const e = (json as { error?: { code?: string; message?: string } } | null)?.error;
    return { ok: false, code: e?.code ?? `http_${res.status}`, answered: true, message: e?.message ?? text.slice(0, 200) };
  }
  async consensus(): Promise<ConsensusView> {
    const a = await this.call<ConsensusView>("GET", "/v1/consensus", undefined, 1_000);
    if (!a.ok) throw new Error(`${this.name} /v1/consensus: ${a.code} ${a.message}`);
    return a.body;
  }
  park(gate: number, plate: string, timeoutMs?: number): Promise<Answer<unknown>> {
    return this.call("POST", `/v1/gates/${gate}/park`, { plate }, timeoutMs);
  }
  unpark(gate: number, plate: string, timeoutMs?: number): Promise<Answer<unknown>> {
    return this.call("POST", `/v1/gates/${gate}/unpark`, { plate }, timeoutMs);
  }
  lot(timeoutMs?: number): Promise<Answer<LotView>> {
    return this.call<LotView>("GET", "/v1/lot", undefined, timeoutMs);
  }
}

export interface ClusterOptions {
  names: string[];
  /** First port of a fixed range (2 per node: mesh, http); below 32768 and private to one test. */
  basePort: number;
  profile?: "local" | "lan";
  args?: string[];
}

export class ConsensusCluster {
  readonly nodes: Node[];
  #binary = "";
  constructor(readonly opts: ClusterOptions) {
    this.nodes = opts.names.map((n, i) => new Node(n, opts.basePort + 2 * i, opts.basePort + 2 * i + 1,
      ["--profile", opts.profile ?? "local", ...(opts.args ?? [])]));
  }
  node(name: string): Node {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }
  running(): Node[] {
    return this.nodes.filter((n) => n.alive);
  }
  joinFor(n: Node): string[] {
    return this.nodes.filter((x) => x !== n).map((x) => `127.0.0.1:${x.meshPort}`);
  }
  async start(): Promise<void> {
    this.#binary = await ensureBinary();
    await Promise.all(this.nodes.map((n) => n.start(this.#binary, this.joinFor(n))));
  }
  async restart(n: Node): Promise<void> {
    await n.start(this.#binary, this.joinFor(n));
  }
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }
  logs(): string {
    return this.nodes.map((n) => n.logs()).join("\n");
  }

  /** Until every node in `among` names the same leader (one of them) with `voters` voters; that view. */
  async agreedLeader(among: Node[], deadlineMs: number, voters?: number): Promise<{ leader: string; views: ConsensusView[] }> {
    return until(`${among.map((n) => n.name).join(",")} to agree on a leader`, async () => {
      const views = await Promise.all(among.map((n) => n.consensus()));
      const l = views[0]!.leader;
      if (l === null || !among.some((n) => n.name === l)) throw new Error(`leaders ${views.map((v) => v.leader).join(",")}`);
      if (views.some((v) => v.leader !== l)) throw new Error(`leaders ${views.map((v) => v.leader).join(",")}`);
      if (voters !== undefined && views.some((v) => v.voters.length !== voters)) throw new Error(`voters ${views.map((v) => v.voters.join("+")).join(" / ")}`);
      return { leader: l, views };
    }, deadlineMs, 20);
  }
}
