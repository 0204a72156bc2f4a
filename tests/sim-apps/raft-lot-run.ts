/**
 * One chaos run of the Raft lot on the simulator: whole roomy nodes with
 * `lot: "raft"`, clients parking, unparking and reading the lot through
 * random ready nodes, faults (crashes, restarts under the same name,
 * partitions, bridges (one link cut: relay.ts), stalls, loss, duplication,
 * reordering), every operation
 * recorded with its call and return virtual times for checkLot.
 *
 * Faults stay within what Raft promises to survive: a node is crashed only
 * when the previous crash is repaired (crashSurvivable: the leader's
 * committed configuration holds every live process, and so does every
 * configuration in force on a node, with as many voters as the leader aims
 * for), so a generation never ends by accident here, and a partition cuts
 * off at most a minority.
 *
 * Checked after every step: no replica's lot machine holds more cars than
 * spaces. At the end: every node applied up to the leader's commit and holds
 * the leader's lot, the generation never changed, and the history is
 * linearizable.
 */
import { AppSim, type AppSimNode } from "../../mesh/sim/app-harness.ts";
import { configWhole } from "./config-whole.ts";
import { RoomyError } from "../../core/errors.ts";
import { DEFAULT_NO_EFFECT } from "../support/linearizability/compile.ts";
import { checkLot, historyRecorder, type CheckResult, type LotHistory, type LotResult } from "../support/linearizability/index.ts";

export interface RaftRunOptions {
  seed: number;
  nodes: number;
  workloadMs: number;
  faults?: boolean;
  /** The checker's budget (default 30M steps; 300 s as a backstop): beyond it the answer is "unknown". */
  checkMs?: number;
  checkSteps?: number;
}

export interface RaftRunResult {
  seed: number;
  nodes: number;
  history: LotHistory;
  check: CheckResult;
  /** Problems found outside the linearizability check. */
  violations: string[];
  faultLog: string[];
  figures: { ops: number; ok: number; indeterminate: number; faults: Record<string, number>; realMs: number };
}

export const RAFT_SPACES = 4;
const GATES = 3;
const PLATES = Array.from({ length: 8 }, (_, i) => `RL ${i + 1}`);

export const codeOf = (e: unknown): string => {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : "unavailable";
};

/** A write's error as the checker reads it: a refusal before the call could run anywhere is no effect at all. */
const REFUSED = "refused before it ran";
const writeCode = (e: unknown): string => (e instanceof RoomyError && e.noEffect ? REFUSED : codeOf(e));

/** The node the Raft leader runs on, by the leader's own account. */
export function leaderSlot(sim: AppSim): AppSimNode | undefined {
  return sim.up().find((s) => s.node !== null && s.node.consensus.core?.state.role === "leader" && s.node.consensus.status().leader === s.name);
}

/** Every node up with a process, the leader's config holding all of them, every node applied up to the leader's commit. */
export function raftSettled(sim: AppSim): boolean {
  const l = leaderSlot(sim);
  if (l === undefined) return false;
  const st = l.node!.consensus.status();
  const members = new Set([...st.voters, ...st.learners]);
  for (const s of sim.nodes.values()) {
    if (!s.up || s.node === null || !members.has(s.name)) return false;
    const mine = s.node.consensus.status();
    if (mine.generation !== st.generation || mine.applied !== st.commit) return false;
  }
  // the leader's config names the current processes (not an old incarnation)
  const ids = new Set(l.node!.consensus.committedConfig().voters.concat(l.node!.consensus.committedConfig().learners).map((v) => v.id));
  return sim.up().every((s) => s.parts !== null && ids.has(s.parts.id));
}

/** The nodes' maxVoters (the default: AppSim sets none). */
const MAX_VOTERS = 5;

/**
 * Whether one more crash is within what Raft survives: settled (above), and
 * every configuration in force on a live node is whole (config-whole.ts), not
 * only the committed one. A configuration takes effect when appended: a
 * leader's change that has not committed yet (it dropped a voter, then lost
 * its quorum) already counts its votes; and a committed one whose learner is
 * not promoted yet ({n2, n3} voting, the restarted n1 learning) loses its
 * majority with one more voter, for good (a crashed voter comes back as a
 * new process, never as the one the configuration names).
 */
export function crashSurvivable(sim: AppSim): boolean {
  if (!raftSettled(sim)) return false;
  const live = sim.up().flatMap((s) => (s.node === null ? [] : [{ id: s.node.id, committed: s.node.consensus.committedConfig(), inForce: s.node.consensus.core?.config }]));
  return configWhole(live, MAX_VOTERS);
}

/** Every node's consensus status, for failure messages. */
export function raftStates(sim: AppSim): string {
  return sim.up().map((s) => `${s.name}#${s.generation} id=${s.parts?.id} ${JSON.stringify(s.node?.consensus.status())} ${JSON.stringify(s.node?.consensus.stats)} config=${JSON.stringify(s.node?.consensus.core?.config)} last=${s.node?.consensus.core?.log.lastIndex()}/${s.node?.consensus.core?.log.lastTerm()} votedFor=${s.node?.consensus.core?.votedFor}`).join("\n");
}

/** Differences between every node's lot machine and the leader's. */
export function lotDivergence(sim: AppSim): string[] {
  const l = leaderSlot(sim);
  if (l === undefined) return ["no leader"];
  const want = JSON.stringify(Object.keys(l.node!.app.lotLocal().vehicles));
  const out: string[] = [];
  for (const s of sim.up()) {
    const got = JSON.stringify(Object.keys(s.node?.app.lotLocal().vehicles ?? {}));
    if (got !== want) out.push(`${s.name} (gen ${s.node?.consensus.status().generation}) holds ${got}, leader ${l.name} (gen ${l.node!.consensus.status().generation}) holds ${want}`);
  }
  return out;
}

export async function runRaftLot(o: RaftRunOptions): Promise<RaftRunResult> {
  const realStart = performance.now();
  const sim = await AppSim.start({ seed: o.seed, nodes: o.nodes, gates: GATES, spaces: RAFT_SPACES, lot: "raft", callTimeoutMs: 3000, network: { reorder: true, delayMinMs: 0.2, delayMaxMs: 3 } });
  const violations: string[] = [...sim.failures];
  await sim.until(() => raftSettled(sim), 30_000, "raft formation").catch((e: unknown) => violations.push(String(e)));
  const generation = leaderSlot(sim)?.node!.consensus.status().generation;
  const rnd = sim.random.fork("raft-lot");
  const pick = <T>(xs: readonly T[]): T => xs[rnd.int(xs.length)]!;
  const now = (): number => sim.clock.now() - sim.startedAt;
  const rec = historyRecorder(now);
  const faults: Record<string, number> = { crash: 0, restart: 0, partition: 0, bridge: 0, stall: 0 };
  const log: string[] = [];
  let client = 0;

  const issue = (target?: AppSimNode): void => {
    const ready = sim.ready();
    const s = target ?? ready[rnd.int(ready.length)];
    if (s === undefined || s.node === null) return;
    const app = s.node.app;
    const x = rnd.float();
    const c = `${s.name}#${s.generation}/${client++}`;
    if (x < 0.45) {
      const plate = pick(PLATES);
      const done = rec.invoke(c, "park", plate);
      app.park(String(1 + rnd.int(GATES)), plate).then(() => done({ ok: true }), (e: unknown) => done({ ok: false, code: writeCode(e), message: String(e) }));
    } else if (x < 0.8) {
      const plate = pick(PLATES);
      const done = rec.invoke(c, "unpark", plate);
      app.unpark(String(1 + rnd.int(GATES)), plate).then(() => done({ ok: true }), (e: unknown) => done({ ok: false, code: writeCode(e), message: String(e) }));
    } else {
      const done = rec.invoke(c, "read");
      app.lot().then(
        (info) => done({ ok: true, cars: Object.keys(info.vehicles), occupied: info.occupied }),
        (e: unknown) => done({ ok: false, code: codeOf(e), message: String(e) }),
      );
    }
  };

  const overfull = (when: string): void => {
    for (const s of sim.up()) {
      const info = s.node?.app.lotLocal();
      if (info !== undefined && info.occupied > RAFT_SPACES) violations.push(`${when}: ${s.name} lot machine holds ${info.occupied} cars in ${RAFT_SPACES} spaces`);
    }
  };

  let down: { name: string; restartAt: number } | null = null;
  let healAt: number | null = null;
  const fault = (): void => {
    const t = now();
    if (down !== null && t >= down.restartAt) {
      sim.restart(down.name);
      faults.restart!++;
      log.push(`t=${t.toFixed(1)} restart ${down.name}`);
      down = null;
    }
    if (healAt !== null && t >= healAt) {
      sim.heal();
      log.push(`t=${t.toFixed(1)} heal`);
      healAt = null;
    }
    const x = rnd.float();
    if (x < 0.012 && down === null && crashSurvivable(sim)) {
      const victim = pick(sim.names());
      sim.crash(victim);
      faults.crash!++;
      log.push(`t=${t.toFixed(1)} crash ${victim}`);
      down = { name: victim, restartAt: t + (rnd.float() < 0.3 ? 20 + rnd.int(300) : 1000 + rnd.int(4000)) };
    } else if (x < 0.02 && healAt === null) {
      const order = sim.names().map((n) => ({ n, r: rnd.float() })).sort((a, b) => a.r - b.r).map((e) => e.n);
      const cut = 1 + rnd.int(Math.floor((order.length - 1) / 2));
      sim.partition([order.slice(0, cut), order.slice(cut)]);
      healAt = t + 500 + rnd.int(5000);
      faults.partition!++;
      log.push(`t=${t.toFixed(1)} partition ${order.slice(0, cut).join(",")} | ${order.slice(cut).join(",")}`);
    } else if (x < 0.03 && healAt === null) {
      // A bridge: one link cut both ways, each side still reaching the rest
      // (the leader's link, half the time): the cut node's proposals and
      // reads go through peers (mesh/consensus/relay.ts).
      const leader = leaderSlot(sim)?.name;
      const a = leader !== undefined && rnd.float() < 0.5 ? leader : pick(sim.names());
      const b = pick(sim.names().filter((n) => n !== a));
      sim.net.block(sim.address(a), sim.address(b));
      sim.net.block(sim.address(b), sim.address(a));
      healAt = t + 500 + rnd.int(5000);
      faults.bridge!++;
      log.push(`t=${t.toFixed(1)} bridge: link ${a} - ${b} cut`);
    } else if (x < 0.035) {
      const s = pick(sim.up());
      const ms = 100 + rnd.int(2500);
      s.clock?.stall(ms);
      faults.stall!++;
      log.push(`t=${t.toFixed(1)} stall ${s.name} ${ms} ms`);
    }
  };

  const loss = process.env["LOSS"] !== undefined ? Number(process.env["LOSS"]) : 0.01 + rnd.float() * 0.03;
  sim.net.configure({ loss, duplicate: 0.01 });
  const end = now() + o.workloadMs;
  while (now() < end) {
    if (o.faults !== false) fault();
    // ~8 ops per virtual second: every op in flight across a fault is
    // indeterminate, and the checker's search grows with their number
    if (rnd.float() < 0.15) issue();
    await sim.run(2 + rnd.int(30));
    overfull(`t=${now().toFixed(1)}`);
  }

  // ---- faults stop; the cluster must settle and agree ----
  sim.heal();
  if (down !== null) sim.restart((down as { name: string }).name);
  sim.net.configure({ loss: 0, duplicate: 0 });
  await sim.until(() => raftSettled(sim), 60_000, "raft settling after the faults stopped", 20).catch((e: unknown) => violations.push(`${String(e)}\n${raftStates(sim)}`));
  await sim.run(4000); // let every answer in flight arrive (call timeouts are 3 s)
  violations.push(...lotDivergence(sim));
  const finalGen = leaderSlot(sim)?.node!.consensus.status().generation;
  if (finalGen !== generation) violations.push(`the generation changed under faults Raft survives: ${generation} -> ${finalGen}`);
  // one last read through every node, into the history: the final state is judged too
  for (const s of sim.up()) issue(s);
  const last = sim.ready().map((s) => {
    const done = rec.invoke(`final/${s.name}`, "read");
    return sim.track(s.node!.app.lot().then((info) => done({ ok: true, cars: Object.keys(info.vehicles), occupied: info.occupied }), (e: unknown) => done({ ok: false, code: codeOf(e), message: String(e) })));
  });
  await sim.until(() => last.every((b) => b.outcome.ok !== "pending"), 10_000, "final reads").catch((e: unknown) => violations.push(String(e)));
  overfull("settled");
  violations.push(...sim.failures.filter((f) => !violations.includes(f)));

  const history = rec.history();
  // A budget in steps, not time: the same seed gives the same verdict on a loaded CI machine.
  const check = checkLot(history, RAFT_SPACES, { maxMs: o.checkMs ?? 300_000, maxSteps: o.checkSteps ?? 30_000_000, noEffectCodes: [...DEFAULT_NO_EFFECT, REFUSED] });
  const ok = history.filter((op) => op.result?.ok === true).length;
  const definite = new Set(["lot_full", "not_parked", REFUSED]);
  const indeterminate = history.filter((op) => op.result === null || (op.result.ok === false && !definite.has(op.result.code))).length;
  return { seed: o.seed, nodes: o.nodes, history, check, violations, faultLog: log, figures: { ops: history.length, ok, indeterminate, faults, realMs: performance.now() - realStart } };
}

export type { LotResult };
