/**
 * Real processes: a node started with `roomy node`, and CLI commands run as
 * child processes against it. Every wait has a deadline; every process a
 * test starts is killed by `killAll()` (call it in afterAll).
 */
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";

export const MAIN = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
const started: Subprocess[] = [];

export interface SpawnedNode {
  url: string;
  /** The listening mesh address, as the listening line prints it. */
  mesh: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** stderr so far (logs), for failure messages */
  logs(): string;
  /** stdout so far (the listening line, then the ready line once ready) */
  out(): string;
}

/** Cleaned env: the caller's ROOMY_* must not leak into the tests. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("ROOMY_")) env[k] = v;
  return { ...env, ...extra };
}

/** Starts `roomy node` on free loopback ports and waits for its listening line (not for it to be ready). */
export async function spawnNode(args: string[] = [], env: Record<string, string> = {}, deadlineMs = 20_000): Promise<SpawnedNode> {
  const proc = Bun.spawn([process.execPath, MAIN, "node", "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: cleanEnv(env),
  });
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
    const m = /roomy node \S+ listening http=(\S+) mesh=(\S+)\n/.exec(out);
    if (m !== null) {
      // Keep reading stdout: the ready line comes later (or never).
      void (async () => {
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          out += dec.decode(r.value);
        }
      })().catch(() => {});
      return { url: m[1]!, mesh: m[2]!, proc, logs: () => logs, out: () => out };
    }
  }
  proc.kill("SIGKILL");
  throw new Error(`node did not print its listening line within ${deadlineMs} ms; stdout=${JSON.stringify(out)} stderr=${JSON.stringify(logs)}`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one CLI command to completion (killed after the deadline). */
export async function cli(args: string[], env: Record<string, string> = {}, deadlineMs = 20_000): Promise<CliResult> {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: cleanEnv(env) });
  started.push(proc);
  const timer = setTimeout(() => proc.kill("SIGKILL"), deadlineMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Waits for a process to exit, killing it at the deadline; returns its exit code (null if killed). */
export async function exitOf(proc: Subprocess, deadlineMs = 20_000): Promise<number | null> {
  const timer = setTimeout(() => proc.kill("SIGKILL"), deadlineMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return proc.signalCode === null ? code : null;
}

/** A loopback port nobody listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export function killAll(): void {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
}
