/**
 * Leader failover after kill -9, for the lot benchmark: roomy (5 nodes,
 * `--lot raft`, lan profile, GET /v1/consensus) and etcd (5 members, its
 * default timing: 100 ms heartbeat, 1000 ms election timeout). Each run
 * waits until every member names the same leader, SIGKILLs that leader and
 * times until every survivor names one new leader with a higher term,
 * polling the survivors every POLL_MS. Every wait has a deadline.
 */
import { eventually } from "../ship/support/procs.ts";
import { etcdAgreed, etcdStatus, json, sleep, startEtcd, startRoomy } from "./lot-procs.ts";

const POLL_MS = 10;
const FAILOVER_DEADLINE_MS = 15_000;

export interface Failover {
  /** ms from the SIGKILL to agreement on a new leader, per run (Infinity: none within the deadline) */
  times: number[];
  notes: string[];
}

interface Consensus {
  leader: string | null;
  term: number;
  voters?: string[];
  learners?: string[];
}

/** Polls `probe` every POLL_MS until it answers a value; the elapsed ms since `t0`, or Infinity at the deadline. */
async function timeUntil(t0: number, probe: () => Promise<boolean>): Promise<number> {
  while (performance.now() - t0 < FAILOVER_DEADLINE_MS) {
    if (await probe().catch(() => false)) return performance.now() - t0;
    await sleep(POLL_MS);
  }
  return Infinity;
}

/** roomy: a fresh 5-node cluster per run (a restarted node comes back as a learner, so a fresh one starts every run alike). */
export async function roomyFailover(bin: string, runs: number, extra: string[]): Promise<Failover> {
  const times: number[] = [];
  const notes: string[] = [];
  for (let r = 0; r < runs; r++) {
    const c = await startRoomy(bin, 5, `lotf${r}`, extra, false);
    try {
      const states = () => Promise.all(c.urls.map((u) => json<Consensus>(`${u}/v1/consensus`, undefined, 1_000)));
      // Settled: one leader everywhere, the same term, five voters, twice in a row.
      let seen = "";
      let settled: Consensus;
      try {
        settled = await eventually("roomy nodes agree on a leader with 5 voters", async () => {
          const ss = await states();
          const l = ss[0]!.leader;
          const same = l !== null && ss.every((s) => s.leader === l && s.term === ss[0]!.term);
          const key = `${l}@${ss[0]!.term}`;
          if (same && (ss[0]!.voters?.length ?? 5) >= 5 && key === seen) return ss[0]!;
          seen = same ? key : "";
          return undefined;
        }, 20_000, 100);
      } catch {
        // Fewer than five voters is still a cluster to fail over: note it.
        settled = await eventually("roomy nodes agree on a leader", async () => {
          const ss = await states();
          const l = ss[0]!.leader;
          return l !== null && ss.every((s) => s.leader === l && s.term === ss[0]!.term) ? ss[0]! : undefined;
        }, 20_000, 100);
        notes.push(`run ${r + 1}: only ${settled.voters?.length ?? "?"} voters before the kill`);
      }
      const victim = c.nodes.findIndex((n) => n.name === settled.leader);
      if (victim < 0) throw new Error(`leader ${settled.leader} is none of ${c.nodes.map((n) => n.name).join(", ")}`);
      const survivors = c.urls.filter((_, i) => i !== victim);
      const t0 = performance.now();
      c.nodes[victim]!.proc.kill("SIGKILL");
      times.push(await timeUntil(t0, async () => {
        const ss = await Promise.all(survivors.map((u) => json<Consensus>(`${u}/v1/consensus`, undefined, 1_000)));
        const l = ss[0]!.leader;
        return l !== null && l !== settled.leader && ss.every((s) => s.leader === l && s.term > settled.term);
      }));
    } finally {
      for (const n of c.nodes) n.proc.kill("SIGKILL");
      await Promise.all(c.nodes.map((n) => n.proc.exited));
    }
  }
  return { times, notes };
}

/** etcd: one 5-member cluster; the killed leader restarts on its data dir between runs. */
export async function etcdFailover(runs: number, clientBase: number, peerBase: number): Promise<Failover> {
  const times: number[] = [];
  const notes: string[] = [];
  const c = await startEtcd(5, clientBase, peerBase, false);
  const all = c.members.map((_, i) => i);
  try {
    for (let r = 0; r < runs; r++) {
      const before = await etcdAgreed(c, all, 30_000);
      await sleep(300); // let the rejoined member catch up before the next kill
      const ids = await Promise.all(c.members.map((m) => etcdStatus(m.url).then((s) => s.header?.member_id)));
      const victim = ids.indexOf(before.leader);
      if (victim < 0) throw new Error(`etcd leader ${before.leader} is none of ${ids.join(", ")}`);
      const survivors = all.filter((i) => i !== victim);
      const t0 = performance.now();
      c.kill(victim);
      times.push(await timeUntil(t0, async () => {
        const ss = await Promise.all(survivors.map((i) => etcdStatus(c.members[i]!.url, 1_000)));
        const l = ss[0]!.leader;
        return l !== undefined && l !== "0" && l !== before.leader && ss.every((s) => s.leader === l && Number(s.raftTerm) > before.term);
      }));
      await c.members[victim]!.proc.exited;
      c.restart(victim);
    }
  } finally {
    await c.stop();
  }
  return { times, notes };
}
