/**
 * Real roomy processes for tests and benchmarks, started one way: the
 * caller's ROOMY_* removed from the environment, stdout and stderr drained
 * all along (a full pipe would block the node) and kept as tails, a wait for
 * a printed line with a deadline, kill -9 / SIGSTOP / SIGCONT / SIGTERM.
 * Every child started here is SIGKILLed by killAll() (call it in afterAll)
 * and, as a last resort, when this process exits. Also: polls with a
 * deadline, HTTP calls that never throw, CPU time and RSS from /proc, a
 * gauge from /metrics, and a node on fixed loopback ports that keeps its
 * name, ports and log across restarts.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import type { Subprocess } from "bun";

export type Child = Subprocess<"ignore", "pipe", "pipe">;

const children = new Set<Subprocess>();
let hooked = false;

/** Kill `p` with the others at killAll() and when this process exits. */
export function track(p: Subprocess): void {
  children.add(p);
  void p.exited.then(() => children.delete(p));
  if (!hooked) {
    hooked = true;
    process.on("exit", killAll);
  }
}

/** SIGKILLs every tracked child still running. */
export function killAll(): void {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
}

/** The environment without the caller's ROOMY_* (they must not leak into the tests), plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("ROOMY_")) env[k] = v;
  return { ...env, ...extra };
}

/** Resolves after `ms` (between polls only, never as a wait that hopes). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value (not undefined); throws at the
 * deadline naming `what` and the last error (a probe throws to say what is
 * missing).
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: not within ${deadlineMs} ms${last === undefined ? "" : ` (last: ${last instanceof Error ? last.message : String(last)})`}`);
    }
    await sleep(Math.min(everyMs, Math.max(1, deadline - Date.now())));
  }
}

/** The last `max` characters of a growing text (a process's output). */
export class LogTail {
  #s = "";
  constructor(readonly max = 256 * 1024) {}
  add(text: string): void {
    this.#s += text;
    if (this.#s.length > 2 * this.max) this.#s = this.#s.slice(-this.max);
  }
  text(): string {
    return this.#s.length > this.max ? this.#s.slice(-this.max) : this.#s;
  }
}

export interface SpawnOptions {
  /** Added to the cleaned environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Also receives stdout and stderr as they come (a node's log across its restarts). */
  log?: LogTail;
  /** Starts argv another way (in a network namespace: tests/support/netns.ts). */
  spawn?: (argv: string[], env: Record<string, string>) => Child;
  /**
   * stderr appended to this file, read back every 200 ms, instead of a
   * pipe: a process that writes much there (the collector's log) blocks
   * on a full pipe while this process is busy (checking a 10 MiB dump):
   * a node stalled 0.15-3 s that way, no CPU used, in scale runs. Not with
   * `spawn`.
   */
  stderrFile?: string;
}

/** One child process, its output drained into tails from the start. */
export class RoomyChild {
  readonly proc: Child;
  #out = new LogTail();
  #err = new LogTail();
  #outDone = false;
  #waiters = new Set<() => boolean>();

  constructor(readonly argv: string[], opts: SpawnOptions = {}) {
    const env = cleanEnv(opts.env);
    const errFile = opts.spawn === undefined ? opts.stderrFile : undefined;
    if (errFile === undefined) {
      this.proc = opts.spawn?.(argv, env) ?? Bun.spawn(argv, { cwd: opts.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env });
    } else {
      const fd = openSync(errFile, "a");
      const from = fstatSync(fd).size;
      try {
        // stderr is the file here: the Child type's stderr stream is never read (#follow reads the file).
        this.proc = Bun.spawn(argv, { cwd: opts.cwd, stdin: "ignore", stdout: "pipe", stderr: fd, env }) as unknown as Child;
      } finally {
        closeSync(fd); // the child holds its own copy
      }
      void this.#follow(errFile, from, this.#err, opts.log);
    }
    track(this.proc);
    void this.#drain(this.proc.stdout, this.#out, opts.log).then(() => {
      this.#outDone = true;
      this.#notify();
    });
    if (errFile === undefined) void this.#drain(this.proc.stderr, this.#err, opts.log);
  }

  /** What the process appends to `path` past `from`, read every 200 ms while it runs and once after. */
  async #follow(path: string, from: number, into: LogTail, log: LogTail | undefined): Promise<void> {
    const fd = openSync(path, "r");
    const buf = new Uint8Array(64 * 1024);
    const dec = new TextDecoder();
    let at = from;
    const readNew = (): void => {
      for (let n = readSync(fd, buf, 0, buf.length, at); n > 0; n = readSync(fd, buf, 0, buf.length, at)) {
        at += n;
        const text = dec.decode(buf.subarray(0, n), { stream: true });
        into.add(text);
        log?.add(text);
      }
    };
    try {
      while (this.alive) {
        readNew();
        await sleep(200);
      }
      await this.proc.exited;
      readNew();
    } finally {
      closeSync(fd);
    }
  }

  async #drain(s: ReadableStream<Uint8Array>, into: LogTail, log: LogTail | undefined): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const c of s) {
        const text = dec.decode(c, { stream: true });
        into.add(text);
        log?.add(text);
        if (into === this.#out) this.#notify();
      }
    } catch {
      // the pipe closes with the process
    }
  }

  #notify(): void {
    for (const w of [...this.#waiters]) if (w()) this.#waiters.delete(w);
  }

  /** stdout so far (its last 256 KiB). */
  stdout(): string {
    return this.#out.text();
  }
  /** stderr so far: the logs (their last 256 KiB). */
  stderr(): string {
    return this.#err.text();
  }
  get pid(): number {
    return this.proc.pid;
  }
  /** Still running (possibly stopped by SIGSTOP). */
  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /**
   * The first match of `re` in stdout, once printed. Throws if stdout ends
   * first or at the deadline, and then SIGKILLs the process.
   */
  line(re: RegExp, deadlineMs: number, what = `a line matching ${re}`): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        this.proc.kill("SIGKILL");
        reject(new Error(`${this.argv.slice(0, 4).join(" ")}…: ${why} (${what}); stdout=${JSON.stringify(this.stdout().slice(-2000))}\nstderr tail:\n${this.stderr().slice(-4000)}`));
      };
      const check = (): boolean => {
        const m = re.exec(this.stdout());
        if (m !== null) {
          clearTimeout(timer);
          resolve(m);
          return true;
        }
        if (!this.#outDone) return false;
        fail(`exited first (exit ${this.proc.exitCode}, signal ${this.proc.signalCode})`);
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        fail(`nothing within ${deadlineMs} ms`);
      }, deadlineMs);
      if (!check()) this.#waiters.add(check);
    });
  }

  /** SIGSTOP: the process freezes (its sockets stay open). */
  pause(): void {
    this.proc.kill("SIGSTOP");
  }
  /** SIGCONT after pause(). */
  resume(): void {
    this.proc.kill("SIGCONT");
  }
  /** kill -9 (stopped or not), and wait until it is gone. */
  async kill(): Promise<void> {
    if (this.alive) {
      this.proc.kill("SIGCONT");
      this.proc.kill("SIGKILL");
    }
    await this.proc.exited;
  }
  /** SIGTERM, then its exit code (null: it died of a signal, or was killed at the deadline). */
  terminate(deadlineMs = 20_000): Promise<number | null> {
    if (this.alive) this.proc.kill("SIGTERM");
    return exitOf(this.proc, deadlineMs);
  }
}

/** Spawns `argv` and waits for `re` on its stdout (SIGKILLed if it never comes). */
export async function startChild(argv: string[], re: RegExp, deadlineMs: number, opts: SpawnOptions = {}): Promise<{ child: RoomyChild; match: RegExpExecArray }> {
  const child = new RoomyChild(argv, opts);
  const match = await child.line(re, deadlineMs);
  return { child, match };
}

/** Waits for a process to exit, SIGKILLing it at the deadline; its exit code, or null if a signal ended it. */
export async function exitOf(proc: Subprocess, deadlineMs = 20_000): Promise<number | null> {
  const timer = setTimeout(() => proc.kill("SIGKILL"), deadlineMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return proc.signalCode === null ? code : null;
}

export interface RunResult {
  /** null: killed at the deadline (or by another signal). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (SIGKILLed at the deadline). */
export async function runToEnd(argv: string[], opts: { env?: Record<string, string>; cwd?: string; deadlineMs?: number } = {}): Promise<RunResult> {
  const proc = Bun.spawn(argv, { cwd: opts.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: cleanEnv(opts.env) });
  track(proc);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), exitOf(proc, opts.deadlineMs ?? 20_000)]);
  return { code, stdout, stderr };
}

/** One HTTP exchange: `code` is "ok" for 2xx, the node's error code, `http_<status>`, or "timeout"/"network" (no answer: status null). */
export interface Reply<T = unknown> {
  status: number | null;
  code: string;
  body: T | null;
  message: string;
}

export interface RequestOptions {
  method?: "GET" | "POST";
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** false: a fresh connection per request. */
  keepalive?: boolean;
  /** false: an ok answer's body is not parsed (load generators: client CPU). */
  parse?: boolean;
}

/** fetch with a deadline and no retries, that never throws: the caller decides what each answer means. */
export async function request<T = unknown>(url: string, o: RequestOptions = {}): Promise<Reply<T>> {
  let res: Response;
  try {
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined) headers["content-type"] = "application/json";
    res = await fetch(url, {
      method: o.method ?? (o.body === undefined ? "GET" : "POST"),
      headers,
      ...(o.keepalive === false ? { keepalive: false } : {}),
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const m = err instanceof Error ? `${err.name} ${err.message}` : String(err);
    return { status: null, code: /timed? ?out|abort/i.test(m) ? "timeout" : "network", body: null, message: m };
  }
  const text = await res.text().catch(() => "");
  if (res.ok && o.parse === false) return { status: res.status, code: "ok", body: null, message: "" };
  let json: unknown = null;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {
    // not JSON: kept in the message
  }
  if (res.ok) return { status: res.status, code: "ok", body: json as T, message: "" };
  const e = (json as { error?: { code?: string; message?: string } } | null)?.error;
  return { status: res.status, code: e?.code ?? `http_${res.status}`, body: null, message: e?.message ?? text.slice(0, 200) };
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

/** The listening line a node prints on stdout once its ports are open (it is not yet ready). */
export const LISTENING = /roomy node (\S+) listening http=(\S+) mesh=(\S+)/;
/** The line it prints once joined and caught up. */
export const READY = /roomy node (\S+) ready http=(\S+) mesh=(\S+)/;

/**
 * `roomy node` on fixed loopback ports (a node restarted under its name
 * keeps them, so the others' --join still reaches it), its log kept across
 * restarts.
 */
export class LoopbackNode {
  child: RoomyChild | null = null;
  readonly #log: LogTail;

  constructor(
    readonly name: string,
    readonly meshPort: number,
    readonly httpPort: number,
    /** Flags for every start (a profile, a log level). */
    readonly args: string[] = [],
    /** Environment added at every start, the sink of its output (default: a plain tail), and where its stderr goes (SpawnOptions.stderrFile). */
    readonly opts: { env?: Record<string, string>; log?: LogTail; stderrFile?: string } = {},
  ) {
    this.#log = opts.log ?? new LogTail();
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }
  get mesh(): string {
    return `127.0.0.1:${this.meshPort}`;
  }
  get pid(): number {
    if (this.child === null) throw new Error(`${this.name} was never started`);
    return this.child.pid;
  }
  get alive(): boolean {
    return this.child !== null && this.child.alive;
  }
  /** Every line of every incarnation (stdout and stderr). */
  logs(): string {
    return this.#log.text();
  }

  /** Spawns the node; resolves once it prints its listening line (not yet ready). */
  async start(binary: string, join: string[], more: string[] = [], deadlineMs = 30_000): Promise<void> {
    if (this.alive) throw new Error(`${this.name} is running`);
    this.#log.add(`--- ${this.name} started ${new Date().toISOString()}\n`);
    const argv = [binary, "node", "--name", this.name, "--bind", this.mesh, "--http", `127.0.0.1:${this.httpPort}`,
      ...join.flatMap((j) => ["--join", j]), ...this.args, ...more];
    this.child = new RoomyChild(argv, {
      log: this.#log,
      ...(this.opts.env === undefined ? {} : { env: this.opts.env }),
      ...(this.opts.stderrFile === undefined ? {} : { stderrFile: this.opts.stderrFile }),
    });
    await this.child.line(LISTENING, deadlineMs, `${this.name}'s listening line`);
  }

  /** kill -9 (a stopped node too), and wait for it to be gone. */
  async kill(): Promise<void> {
    await this.child?.kill();
  }
  pause(): void {
    this.child?.pause();
  }
  resume(): void {
    this.child?.resume();
  }
  /** SIGTERM and wait (SIGKILL at the deadline); its exit code (null: killed, or not running). */
  async terminate(deadlineMs = 20_000): Promise<number | null> {
    return this.alive ? await this.child!.terminate(deadlineMs) : null;
  }

  /** Does /readyz answer 200 now? */
  async ready(timeoutMs = 1_000): Promise<boolean> {
    return (await request(`${this.url}/readyz`, { timeoutMs, parse: false })).status === 200;
  }
}
