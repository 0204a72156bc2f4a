/**
 * Real processes for the ship tests: nodes (the binary, `bun cli/main.ts` or
 * `deno run cli/main.ts`) started until their ready line, client commands
 * run to completion. Every wait has a deadline; every process started here
 * is killed by killAll() (call it in afterAll).
 */
import type { Subprocess } from "bun";
import { ROOT } from "./binary.ts";

const started: Subprocess[] = [];

/** The caller's ROOMY_* must not leak into the tests. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("ROOMY_")) env[k] = v;
  return { ...env, ...extra };
}

export interface RunningNode {
  name: string;
  url: string;
  mesh: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** stderr so far (the logs). */
  logs(): string;
  /** SIGTERM, then the exit code (null if it had to be killed at the deadline). */
  stop(deadlineMs?: number): Promise<number | null>;
}

/** Starts `cmd` (a `roomy node ...` command line) and waits for its ready line. */
export async function startNode(cmd: string[], env: Record<string, string> = {}, deadlineMs = 30_000): Promise<RunningNode> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: cleanEnv(env) });
  started.push(proc);
  let logs = "";
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) logs += dec.decode(chunk);
  })();
  const reader = proc.stdout.getReader();
  const dec = new TextDecoder();
  let out = "";
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const next = await Promise.race([
      reader.read(),
      new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, deadline - Date.now()))),
    ]);
    if (next === null || next.done) break;
    out += dec.decode(next.value);
    const m = /roomy node (\S+) ready http=(\S+) mesh=(\S+)/.exec(out);
    if (m !== null) {
      // Keep draining stdout so the process never blocks on a full pipe.
      void (async () => {
        for (;;) if ((await reader.read()).done) break;
      })().catch(() => {});
      return {
        name: m[1]!,
        url: m[2]!,
        mesh: m[3]!,
        proc,
        logs: () => logs,
        stop: async (ms = 20_000) => {
          proc.kill("SIGTERM");
          return exitOf(proc, ms);
        },
      };
    }
  }
  proc.kill("SIGKILL");
  await proc.exited;
  throw new Error(`no ready line within ${deadlineMs} ms from ${cmd.join(" ")}; stdout=${JSON.stringify(out)} stderr=${JSON.stringify(logs)}`);
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed at the deadline: code null). */
export async function run(cmd: string[], env: Record<string, string> = {}, deadlineMs = 30_000): Promise<Result> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: cleanEnv(env) });
  started.push(proc);
  const timer = setTimeout(() => proc.kill("SIGKILL"), deadlineMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code: proc.signalCode === null ? code : null, stdout, stderr };
}

/** Waits for a process to exit, killing it at the deadline; its exit code, or null if killed. */
export async function exitOf(proc: Subprocess, deadlineMs = 20_000): Promise<number | null> {
  const timer = setTimeout(() => proc.kill("SIGKILL"), deadlineMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return proc.signalCode === null ? code : null;
}

/** Polls `probe` until it returns a value other than undefined, or throws at the deadline. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not within ${deadlineMs} ms${last === undefined ? "" : ` (last error: ${String(last)})`}`);
}

/** JSON from a node's admin API (with the token, when given). */
export async function getJson<T>(url: string, token?: string): Promise<T> {
  const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

export function killAll(): void {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
}
