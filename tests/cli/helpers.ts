/**
 * Real processes (tests/support/procs.ts): a node started with `roomy node`,
 * and CLI commands run as child processes against it. Every wait has a
 * deadline; every process a test starts is killed by `killAll()` (call it in
 * afterAll).
 */
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";
import { type RunResult, runToEnd, startChild } from "../support/procs.ts";

export { exitOf, killAll } from "../support/procs.ts";

export const MAIN = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));

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

/** Starts `roomy node` on free loopback ports and waits for its listening line (not for it to be ready). */
export async function spawnNode(args: string[] = [], env: Record<string, string> = {}, deadlineMs = 20_000): Promise<SpawnedNode> {
  const argv = [process.execPath, MAIN, "node", "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", ...args];
  const { child, match } = await startChild(argv, /roomy node \S+ listening http=(\S+) mesh=(\S+)\n/, deadlineMs, { env });
  return { url: match[1]!, mesh: match[2]!, proc: child.proc, logs: () => child.stderr(), out: () => child.stdout() };
}

/**
 * A node alone on its ready line: a node given no seeds waits two rejoin
 * periods for a cluster it may have been in before it starts one (README,
 * ~5-6 s), longer than the CLI's own retries, so tests that want answers wait.
 */
export async function spawnReadyNode(args: string[] = [], env: Record<string, string> = {}, deadlineMs = 30_000): Promise<SpawnedNode> {
  const n = await spawnNode(args, env, deadlineMs);
  const end = Date.now() + deadlineMs;
  while (!/\nroomy node \S+ ready /.test(n.out())) {
    if (Date.now() > end) throw new Error(`node not ready within ${deadlineMs} ms:\n${n.out()}\n${n.logs().slice(-2_000)}`);
    await Bun.sleep(50);
  }
  return n;
}

export type CliResult = RunResult;

/** Runs one CLI command to completion (killed after the deadline: code null). */
export function cli(args: string[], env: Record<string, string> = {}, deadlineMs = 20_000): Promise<CliResult> {
  return runToEnd([process.execPath, MAIN, ...args], { env, deadlineMs });
}

/** A loopback port nobody listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}
