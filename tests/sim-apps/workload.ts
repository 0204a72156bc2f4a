/**
 * The whole-system scenario: a roomy cluster on the simulator under a random
 * workload (walk-into, leave, park, unpark, dump, who-is-in through random
 * ready nodes) and random faults (crashes, restarts under the same name,
 * partitions, stalls, loss, duplication, reordering). Invariants are checked
 * after every step on every live node and on every read's answer; at the end
 * the faults stop, the cluster must settle and converge, and the final state
 * is judged against the history (history.ts, invariants.ts).
 *
 * Faults stay within what the product promises to survive: one failure at a
 * time (a node crashed, stalled long enough to be declared dead, or a side
 * cut off by a partition), a node is crashed only once the last failure is repaired
 * (every node is back in the committed configuration and every voter of it
 * is a live incarnation: two voters of three lost before the configuration
 * replaced the first is a lost majority, beyond what Raft survives), and
 * only when no entry older than a second lives on it alone (losing every
 * holder of an acknowledged write before it spreads is beyond the promise).
 * With twoAtOnce (faults.ts) a second crash, stall or cut may follow the
 * first before it is repaired, where every configuration in force keeps a
 * majority of its voters and holders (5 voters: any two of five).
 *
 * Keys retire during the run: once nothing on a key can still take effect,
 * it gets one last write (retried for long) and is left alone, so its final
 * value is known exactly while crashes and partitions go on around it.
 */
import { AppSim } from "../../mesh/sim/app-harness.ts";
import type { Logger } from "../../mesh/types.ts";
import { Clients } from "./clients.ts";
import { faultInjector } from "./faults.ts";
import { History, type OpKind } from "./history.ts";
import {
  checkAnswer,
  checkEnd,
  checkFresh,
  checkRead,
  checkReplicas,
  checkServing,
  newViolations,
  type RoomCaps,
  type Violations,
} from "./invariants.ts";

export type { Violations } from "./invariants.ts";

export interface ScenarioOptions {
  seed: number;
  nodes: number;
  /** Virtual ms of workload before the faults stop. */
  workloadMs: number;
  /** Crashes, restarts, partitions, stalls (default true). */
  faults?: boolean;
  /** Message loss during the workload (default: 5-10%, drawn from the seed). */
  loss?: number;
  /** Messages between two nodes may overtake each other (default true). */
  reorder?: boolean;
  /** Called after every step of the workload (debugging). */
  onStep?: (sim: AppSim) => void;
  /** Called with the settled cluster before the result is returned (debugging). */
  inspect?: (sim: AppSim, history: History) => void;
  /** A logger per node (debugging; default silent). */
  logger?: (node: string) => Logger;
  /** Each process's clock off the world's by up to this much, drawn at its start (default 0). */
  clockSkewMs?: number;
  /** At most this many Raft voters (default the node's, 5): below the node count, the others are learners. */
  maxVoters?: number;
  /** A second failure may follow the first before it is repaired, where every configuration in force survives it (faults.ts). */
  twoAtOnce?: boolean;
}

export const ROOMS: RoomCaps = { hall: null, kitchen: 3, den: 2, attic: 1 };
const PEOPLE = Array.from({ length: 40 }, (_, i) => `p${String(i + 1).padStart(2, "0")}`);
const PLATES = Array.from({ length: 16 }, (_, i) => `AB ${String(i + 1).padStart(2, "0")}`);
export const SPACES = 4;
const GATES = 4;
const PROCESSES = [...Object.keys(ROOMS).map((r) => `room:${r}`), "lot", ...Array.from({ length: GATES }, (_, i) => `gate:${i + 1}`)];
const CALL_TIMEOUT_MS = 3000;
/** A client retries `unavailable` until this long after it first asked. */
const CLIENT_DEADLINE_MS = 10_000;
/** The last write of a retired key insists longer. */
const FINAL_DEADLINE_MS = 40_000;

export interface ScenarioResult {
  seed: number;
  violations: Violations;
  figures: {
    virtualMs: number;
    realMs: number;
    timers: number;
    loss: number;
    ops: Record<string, number>;
    faults: Record<string, number>;
    /** keys written, and those whose final value the history fixed exactly */
    keys: number;
    determined: number;
  };
  faultLog: string[];
}

const cap = (xs: string[], max = 20): string[] => (xs.length > max ? [...xs.slice(0, max), `... ${xs.length - max} more`] : xs);

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const realStart = performance.now();
  const sim = await AppSim.start({
    seed: o.seed,
    nodes: o.nodes,
    gates: GATES,
    spaces: SPACES,
    callTimeoutMs: CALL_TIMEOUT_MS,
    network: { reorder: o.reorder ?? true, delayMinMs: 0.2, delayMaxMs: 3 },
    ...(o.clockSkewMs !== undefined ? { clockSkewMs: o.clockSkewMs } : {}),
    ...(o.maxVoters !== undefined ? { maxVoters: o.maxVoters } : {}),
    ...(o.logger !== undefined ? { logger: o.logger } : {}),
  });
  const rnd = sim.random.fork("workload");
  const pick = <T>(xs: readonly T[]): T => xs[rnd.int(xs.length)]!;
  const v = newViolations();
  const faultCounts: Record<string, number> = { crash: 0, second: 0, restart: 0, partition: 0, stall: 0, crashDeferred: 0, drain: 0 };
  /** Every fault with its virtual time, for replaying a failure by eye. */
  const log: string[] = [];
  const history = new History(CALL_TIMEOUT_MS);
  const now = (): number => sim.clock.now() - sim.startedAt;
  const at = (): string => `t=${now().toFixed(1)}`;
  const clients = new Clients(sim, history, rnd.fork("clients"), (op) => {
    checkAnswer(history, op, v);
    if (op.status !== "ok") return;
    if (op.kind === "dump") checkRead(history, op, op.result as Record<string, string[]>, ROOMS, v);
    if (op.kind === "who") checkRead(history, op, { [op.target]: op.result as string[] }, ROOMS, v);
    if (op.kind === "dump") checkFresh(history, op, op.result as Record<string, string[]>, v);
    if (op.kind === "who") checkFresh(history, op, { [op.target]: op.result as string[] }, v);
  });

  // Rooms first, through n1, before any fault.
  for (const [room, c] of Object.entries(ROOMS)) await sim.retry(() => sim.slot("n1").node!.app.addRooms([room], c), `create room ${room}`);
  await sim.until(() => sim.replicasAgree(), 10_000, "rooms replicated");
  const loss = o.loss ?? 0.05 + rnd.float() * 0.05;
  sim.net.configure({ loss, duplicate: loss > 0 ? 0.01 : 0 });

  // ---- ops ----
  const people = new Set(PEOPLE);
  const plates = new Set(PLATES);
  const retiring = new Set<string>();
  const begin = (kind: OpKind, target: string, keys: string[], deadlineMs = CLIENT_DEADLINE_MS): void =>
    clients.send(history.begin(kind, target, keys, now(), deadlineMs));
  const issue = (): void => {
    const x = rnd.float();
    const person = (): string => pick([...people]);
    const plate = (): string => pick([...plates]);
    if (x < 0.38) begin("walk", pick(Object.keys(ROOMS)), rnd.float() < 0.7 ? [person()] : [...new Set([person(), person()])]);
    else if (x < 0.5) begin("leave", "", [person()]);
    else if (x < 0.7) begin("park", String(1 + rnd.int(GATES)), [plate()]);
    else if (x < 0.85) begin("unpark", String(1 + rnd.int(GATES)), [plate()]);
    else if (x < 0.95) begin("dump", "", []);
    else begin("who", pick(Object.keys(ROOMS)), []);
  };
  const retire = (): void => {
    const pool = [...(people.size > 8 ? people : []), ...(plates.size > 4 ? plates : [])];
    if (pool.length === 0) return;
    const k = pick(pool);
    people.delete(k);
    plates.delete(k);
    retiring.add(k);
  };
  const finalWrites = (): void => {
    for (const k of [...retiring]) {
      if (history.openUntil(k) + 1 >= now()) continue;
      retiring.delete(k);
      if (PLATES.includes(k)) begin(rnd.float() < 0.5 ? "park" : "unpark", String(1 + rnd.int(GATES)), [k], FINAL_DEADLINE_MS);
      else if (rnd.float() < 0.6) begin("walk", "hall", [k], FINAL_DEADLINE_MS);
      else begin("leave", "", [k], FINAL_DEADLINE_MS);
    }
  };

  const faults = faultInjector({ sim, rnd, clients, now, log, counts: faultCounts, ...(o.maxVoters !== undefined ? { maxVoters: o.maxVoters } : {}), ...(o.twoAtOnce !== undefined ? { twoAtOnce: o.twoAtOnce } : {}) });

  // ---- the workload, invariants after every step ----
  const end = now() + o.workloadMs;
  while (now() < end) {
    if (o.faults !== false) faults.step();
    const n = rnd.int(4);
    for (let i = 0; i < n; i++) issue();
    if (rnd.float() < 0.05) retire();
    finalWrites();
    await sim.run(2 + rnd.int(30));
    checkReplicas(sim, ROOMS, SPACES, v, at());
    checkServing(sim, PROCESSES, v, at());
    o.onStep?.(sim);
  }

  // ---- heal, restart, stop losing; the cluster must settle ----
  faults.end();
  sim.net.configure({ loss: 0, duplicate: 0 });
  const settled = (): boolean => history.ops.every((op) => op.status !== "pending");
  try {
    // Keys still retiring get their last write now, on the healed cluster.
    await sim.until(
      () => {
        finalWrites();
        return retiring.size === 0 && settled() && sim.settledExceptReadiness();
      },
      90_000,
      "settling after the faults stopped",
      20,
    );
    await sim.run(3000);
    await sim.until(() => sim.settledExceptReadiness(), 30_000, "settling again", 20);
  } catch (err) {
    v.converge.push(err instanceof Error ? err.message : String(err));
  }
  for (const s of sim.up()) if (!sim.isReady(s.name)) v.ready.push(`${s.name} (gen ${s.generation}) settled but never ready\n${sim.describe()}`);
  for (const op of clients.hung()) v.hung.push(`never answered: ${history.show(op.id)}`);
  for (const op of history.ops) if (op.status === "pending") v.hung.push(`still pending: ${history.show(op.id)}`);
  v.hung.push(...sim.failures);
  checkReplicas(sim, ROOMS, SPACES, v, at());
  await checkEnd(sim, history, ROOMS, SPACES, v);

  o.inspect?.(sim, history);
  for (const k of Object.keys(v) as (keyof Violations)[]) v[k] = cap(v[k]);
  return {
    seed: o.seed,
    violations: v,
    figures: {
      virtualMs: sim.progress.virtualMs,
      realMs: performance.now() - realStart,
      timers: sim.progress.timers,
      loss,
      ops: history.counts(),
      faults: faultCounts,
      keys: history.judgement?.keys ?? 0,
      determined: history.judgement?.determined ?? 0,
    },
    faultLog: log,
  };
}
