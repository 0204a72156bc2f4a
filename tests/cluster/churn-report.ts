/**
 * Shared checks of the churn tests (hostile-churn, hostile-lossy): the
 * churn's figures as report lines, and dumps of every node until they are
 * 200, equal and as the ledger says.
 */
import { compareDumps, takeDump } from "../bench/scale-check.ts";
import { sleep } from "../support/procs.ts";
import { pct } from "../support/walk-load.ts";
import type { ChurnLedger } from "./churn-ledger.ts";
import type { Churn } from "./churn-load.ts";

/** A node the checks can reach. */
export interface Node {
  readonly name: string;
  readonly url: string;
}

/**
 * Dumps of every node until all are 200, equal and as the ledger says (deadline), each 200 checked:
 * a 200 that breaks the ledger (churn stopped: every write answered) is a wrong answer at once.
 */
export async function converge(nodes: readonly Node[], ledger: ChurnLedger, created: Uint8Array, deadlineMs: number, problems: string[], phase: string): Promise<{ ms: number; tries: number; detail: string; dumpMs: number[] }> {
  const t = performance.now();
  for (let tries = 1; ; tries++) {
    const ds = await Promise.all(nodes.map((n) => takeDump(n.url, 60_000)));
    const texts: string[] = [];
    for (const [i, d] of ds.entries()) {
      if (d.text === undefined) continue;
      texts.push(d.text);
      const c = ledger.checkDump(d.text, created);
      if (!c.ok) problems.push(`${phase}: ${nodes[i]!.name}'s dump (200, try ${tries}) breaks the ledger: ${JSON.stringify({ ...c, examples: undefined })} e.g. ${c.examples.join("; ")}`);
    }
    const all = texts.length === ds.length;
    const cmp = all ? compareDumps(texts) : { equal: false, detail: ds.map((d, i) => `${nodes[i]!.name}: ${d.error ?? "200"}`).join(", ") };
    const ms = performance.now() - t;
    if (all && cmp.equal) return { ms, tries, detail: "equal", dumpMs: ds.map((d) => Math.round(d.ms)) };
    if (ms > deadlineMs) {
      problems.push(`${phase}: dumps not 200 and equal within ${deadlineMs} ms: ${cmp.detail}`);
      return { ms, tries, detail: cmp.detail, dumpMs: ds.map((d) => Math.round(d.ms)) };
    }
    await sleep(1_000);
  }
}

export function churnReport(ch: Churn, secs: number): string[] {
  const lines: string[] = [];
  for (const [k, f] of ch.kinds) {
    const sorted = [...f.ms].sort((a, b) => a - b);
    const ok = f.codes["ok"] ?? 0;
    lines.push(`  ${k}: ${f.ms.length} requests, ${(ok / secs).toFixed(0)} ok/s, p50 ${pct(sorted, 50).toFixed(1)} ms, p99 ${pct(sorted, 99).toFixed(1)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(0)} ms; codes ${JSON.stringify(f.codes)}`);
  }
  lines.push(`  acknowledged writes per 5 s: ${ch.windows.join(" ")}`);
  if (ch.refusals.size > 0) lines.push(`  answers other than ok/room_full, by second sent: ${[...ch.refusals].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}s:${n}`).join(" ")}`);
  if (ch.doubtfulFull.length > 0) lines.push(`  room_full though the room could not be full by the ledger: ${ch.doubtfulFull.length}, e.g. ${ch.doubtfulFull.slice(0, 3).join("; ")}`);
  for (const v of ch.violations.slice(0, 20)) lines.push(`  VIOLATION at ${v.at.toFixed(2)} s via ${v.node}: ${v.what}`);
  return lines;
}

