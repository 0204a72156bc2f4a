/**
 * Dissemination: virtual time for one update (a new member joining through
 * one random member) to reach every member of a converged cluster of N =
 * 10, 100 and 1,000 simulated nodes, with and without 10% message loss. The
 * real membership code runs on the deterministic simulator (LAN delays of
 * 0.2-1 ms), so figures are virtual time and replay from their seeds.
 *
 * Peer figure: memberlist/Serf's convergence estimate, as used by Serf's
 * convergence simulator, T = interval * (2 ln(N + 1) + 10) / (fanout *
 * (1 - loss)); with memberlist's LAN gossip (200 ms, fanout 3) that is
 * 1.59 s for 1,000 nodes. We also run our simulator with memberlist's gossip
 * settings (200 ms, fanout 3, no eager round) to separate the effect of the
 * numbers from the effect of the model.
 */
import { lanConfig, type MembershipConfig } from "../../mesh/membership/config.ts";
import { nodeAddress, SimCluster } from "../../mesh/sim/harness.ts";

export interface BenchSection {
  title: string;
  markdown: string;
}

/** Serf's convergence estimate, ms. */
export function memberlistEstimateMs(n: number, loss: number, intervalMs = 200, fanout = 3): number {
  return (intervalMs * (2 * Math.log(n + 1) + 10)) / (fanout * (1 - loss));
}

/**
 * One run: virtual ms from the first member learning of the joiner (the
 * update exists) until all `n` members know it.
 */
export function disseminationMs(n: number, loss: number, seed: number, config: Partial<MembershipConfig> = {}): number {
  const c = SimCluster.create({ seed, size: n, start: "preload", recordEvents: false, network: { loss }, config });
  c.runFor(1_000); // probing under way, queues empty
  let reached = 0;
  let first = -1;
  let last = -1;
  for (const node of c.nodes.values()) {
    node.membership.subscribe((ev) => {
      if (ev.type !== "up" || ev.member.name !== "joiner") return;
      if (reached++ === 0) first = c.clock.now();
      if (reached === n) last = c.clock.now();
    });
  }
  const via = nodeAddress(Math.floor(c.random.fork("via").float() * n));
  c.add("joiner", "10.250.0.1:4370", [via]);
  c.runUntil(() => reached >= n, 60_000, `dissemination to ${n}`, 5);
  return last - first;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

interface Row {
  n: number;
  loss: number;
  runs: number;
  median: number;
  p99: number;
  realMs: number;
}

function measure(n: number, loss: number, runs: number, config: Partial<MembershipConfig> = {}): Row {
  const t0 = performance.now();
  const times: number[] = [];
  for (let s = 1; s <= runs; s++) times.push(disseminationMs(n, loss, 1000 * n + s, config));
  times.sort((a, b) => a - b);
  return { n, loss, runs, median: quantile(times, 0.5), p99: quantile(times, 0.99), realMs: performance.now() - t0 };
}

const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);

export async function run(): Promise<BenchSection> {
  const plan: Array<[number, number, number]> = [
    [10, 0, 40],
    [10, 0.1, 40],
    [100, 0, 20],
    [100, 0.1, 20],
    [1000, 0, 5],
    [1000, 0.1, 3],
  ];
  const rows = plan.map(([n, loss, runs]) => measure(n, loss, runs));
  const mlSettings: Partial<MembershipConfig> = { gossipIntervalMs: 200, gossipNodes: 3, gossipEagerMs: 0 };
  const ml = measure(1000, 0, 3, mlSettings);

  const lines: string[] = [];
  lines.push(
    `Time for one update (a member joining through one random member) to reach all N members, from the moment the first member learns of it, virtual time on the deterministic simulator, lan profile (gossip every ${lanConfig.gossipIntervalMs} ms to ${lanConfig.gossipNodes} members plus one eager round ${lanConfig.gossipEagerMs} ms after news, updates piggybacked on every message). p99 is nearest-rank, so with fewer than 100 runs it is the slowest run.`,
  );
  lines.push("");
  lines.push("| N | loss | runs | roomy median | roomy p99 | memberlist LAN estimate | roomy median / memberlist |");
  lines.push("|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    const est = memberlistEstimateMs(r.n, r.loss);
    lines.push(
      `| ${r.n} | ${r.loss * 100}% | ${r.runs} | ${fmt(r.median)} | ${fmt(r.p99)} | ${fmt(est)} | ${(r.median / est).toFixed(2)} |`,
    );
  }
  lines.push("");
  lines.push(
    `memberlist LAN estimate: 200 ms * (2 ln(N+1) + 10) / (3 * (1 - loss)), the formula behind Serf's convergence simulator (1.59 s at N = 1,000). Same simulator with memberlist's gossip settings (200 ms, fanout 3, no eager round), N = 1,000, no loss, ${ml.runs} runs: median ${fmt(ml.median)}, slowest ${fmt(ml.p99)}.`,
  );
  const k = rows.find((r) => r.n === 1000 && r.loss === 0)!;
  lines.push("");
  lines.push(
    `Goal (at most 1.0 s for 1,000 nodes): ${k.median <= 1000 && k.p99 <= 1000 ? "met" : "NOT met"} (median ${fmt(k.median)}, slowest ${fmt(k.p99)}; with 10% loss median ${fmt(rows.find((r) => r.n === 1000 && r.loss > 0)!.median)}).`,
  );
  lines.push(
    `Real time spent: ${rows.map((r) => `N=${r.n}${r.loss ? "/loss" : ""} ${(r.realMs / 1000).toFixed(1)} s`).join(", ")}, memberlist settings ${(ml.realMs / 1000).toFixed(1)} s.`,
  );
  return { title: "Membership dissemination (simulated)", markdown: lines.join("\n") };
}

if (import.meta.main) {
  const s = await run();
  console.log(`## ${s.title}\n\n${s.markdown}`);
}
