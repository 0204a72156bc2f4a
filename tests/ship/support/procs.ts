/**
 * Real processes for the ship tests (tests/support/procs.ts): nodes (the
 * binary, `bun cli/main.ts` or `deno run cli/main.ts`) started until their
 * ready line, client commands run to completion. Every wait has a deadline;
 * every process started here is killed by killAll() (call it in afterAll).
 */
import type { Subprocess } from "bun";
import { READY, type RunResult, runToEnd, startChild, until } from "../../support/procs.ts";
import { ROOT } from "./binary.ts";

export { cleanEnv, exitOf, killAll } from "../../support/procs.ts";

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
  const { child, match } = await startChild(cmd, READY, deadlineMs, { env, cwd: ROOT });
  return {
    name: match[1]!,
    url: match[2]!,
    mesh: match[3]!,
    proc: child.proc,
    logs: () => child.stderr(),
    stop: (ms = 20_000) => child.terminate(ms),
  };
}

export type Result = RunResult;

/** Runs a command to completion (killed at the deadline: code null). */
export function run(cmd: string[], env: Record<string, string> = {}, deadlineMs = 30_000): Promise<Result> {
  return runToEnd(cmd, { env, cwd: ROOT, deadlineMs });
}

/** Polls `probe` until it returns a value other than undefined, or throws at the deadline. */
export function eventually<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 20_000, everyMs = 100): Promise<T> {
  return until(what, probe, deadlineMs, everyMs);
}

/** JSON from a node's admin API (with the token, when given). */
export async function getJson<T>(url: string, token?: string): Promise<T> {
  const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}
