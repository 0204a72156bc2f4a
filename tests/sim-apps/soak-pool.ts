/**
 * Chaos seeds across worker processes (soak-worker.ts): `jobs` lanes take
 * seeds from one shared queue, one seed at a time per worker. A seed still
 * running `capMs` of real time after it was sent is reported "over time" and
 * its worker killed (a run is CPU-bound: nothing inside it could stop it);
 * the lane starts a fresh worker for its next seed. A worker that dies or
 * throws reports its seed as an error. No seed is dropped silently.
 */
import { join } from "node:path";
import type { SeedOutcome } from "./soak-scenario.ts";

/** Line tags of the worker protocol (here, so the pool need not load the simulator). */
export const TAG = { ready: "@@soak-ready", result: "@@soak-result ", error: "@@soak-error " } as const;

const WORKER = join(import.meta.dir, "soak-worker.ts");
/** Real ms a fresh worker may take to load before its seed counts as an error. */
const START_MS = 60_000;

export type SeedReport = SeedRun &
  ({ status: "done"; wallMs: number; outcome: SeedOutcome } | { status: "overtime"; wallMs: number } | { status: "error"; wallMs: number; error: string });

/** One seed to run, with its virtual ms of workload. */
export interface SeedRun {
  seed: number;
  workloadMs: number;
}

export interface PoolOptions {
  runs: readonly SeedRun[];
  jobs: number;
  /** Real ms one seed may run before it is reported over time. */
  capMs: number;
  /** Called as each seed finishes (progress). */
  onReport?: (r: SeedReport) => void;
}

type Reply = { kind: "result"; outcome: SeedOutcome } | { kind: "error"; error: string } | { kind: "exit"; error: string };

class SoakWorker {
  readonly #proc = Bun.spawn([process.execPath, WORKER], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: process.env });
  #waiting: ((r: Reply | "ready") => void) | null = null;
  #stderr = "";
  #exited = false;

  constructor() {
    void this.#read();
    void this.#readStderr();
    void this.#proc.exited.then((code) => {
      this.#exited = true;
      this.#deliver({ kind: "exit", error: `worker exited with code ${code}\n${this.#stderr.slice(-2000)}` });
    });
  }

  #deliver(r: Reply | "ready"): void {
    const w = this.#waiting;
    this.#waiting = null;
    w?.(r);
  }

  async #read(): Promise<void> {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of this.#proc.stdout) {
      buf += dec.decode(chunk, { stream: true });
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === TAG.ready) this.#deliver("ready");
        else if (line.startsWith(TAG.result)) this.#deliver({ kind: "result", outcome: JSON.parse(line.slice(TAG.result.length)) as SeedOutcome });
        else if (line.startsWith(TAG.error)) this.#deliver({ kind: "error", error: (JSON.parse(line.slice(TAG.error.length)) as { error: string }).error });
      }
    }
  }

  async #readStderr(): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of this.#proc.stderr) this.#stderr = (this.#stderr + dec.decode(chunk, { stream: true })).slice(-4000);
  }

  /** The next message, or null after `ms` of real time. */
  #next(ms: number): Promise<Reply | "ready" | null> {
    if (this.#exited) return Promise.resolve({ kind: "exit", error: `worker had exited\n${this.#stderr.slice(-2000)}` });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = null;
        resolve(null);
      }, ms);
      this.#waiting = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  ready(): Promise<Reply | "ready" | null> {
    return this.#next(START_MS);
  }

  async run(seed: number, workloadMs: number, capMs: number): Promise<SeedReport> {
    const started = performance.now();
    const reply = this.#next(capMs);
    this.#proc.stdin.write(`${seed} ${workloadMs}\n`);
    void this.#proc.stdin.flush();
    const r = await reply;
    const wallMs = performance.now() - started;
    if (r === null) return { status: "overtime", seed, workloadMs, wallMs };
    if (r === "ready") return { status: "error", seed, workloadMs, wallMs, error: "worker said ready twice" };
    if (r.kind === "result") return { status: "done", seed, workloadMs, wallMs, outcome: r.outcome };
    return { status: "error", seed, workloadMs, wallMs, error: r.error };
  }

  kill(): void {
    this.#proc.kill("SIGKILL");
  }

  async close(): Promise<void> {
    void this.#proc.stdin.end();
    await this.#proc.exited;
  }
}

/** Runs every seed; reports come back in the order seeds finished. */
export async function runPool(o: PoolOptions): Promise<SeedReport[]> {
  const reports: SeedReport[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    let w: SoakWorker | null = null;
    while (next < o.runs.length) {
      const { seed, workloadMs } = o.runs[next++]!;
      let report: SeedReport;
      if (w === null) {
        w = new SoakWorker();
        const r = await w.ready();
        if (r !== "ready") {
          w.kill();
          w = null;
          report = { status: "error", seed, workloadMs, wallMs: 0, error: `worker did not start: ${r === null ? "no ready line" : r.kind === "result" ? "a result before ready" : r.error}` };
          reports.push(report);
          o.onReport?.(report);
          continue;
        }
      }
      report = await w.run(seed, workloadMs, o.capMs);
      // Over time the worker is still busy; after an error it may be broken or gone.
      if (report.status !== "done") {
        w.kill();
        w = null;
      }
      reports.push(report);
      o.onReport?.(report);
    }
    await w?.close();
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs, o.runs.length)) }, lane));
  return reports;
}
