/**
 * A linearizability run against real processes: clients bound to every node
 * park, unpark and read the lot on a few plates while a nemesis takes one
 * node at a time down (kill -9 then restart, SIGSTOP then SIGCONT, SIGTERM
 * then restart), the leader every other time. Times are performance.now()
 * in this process (one clock); an error other than a refusal of the lot's
 * specification, or no answer, is indeterminate. The history goes to checkLot.
 */
import { SeededRandom } from "../../mesh/sim/random.ts";
import { checkLot, type CheckResult, historyRecorder, type LotHistory, type LotResult } from "../support/linearizability/index.ts";
import { type ConsensusCluster, type Node, sleep, until } from "./consensus-procs.ts";

export interface LinOptions {
  runMs: number;
  plates: number;
  /** The nodes' --spaces (the checker's model needs it). */
  spaces: number;
  clientsPerNode: number;
  /** Per-call timeout (then the op is indeterminate). */
  callMs?: number;
  seed?: number;
}

export interface LinReport {
  check: CheckResult;
  history: LotHistory;
  faults: string[];
  seed: number;
  summary: string;
}

/** The simulator's seeded generator: the seed is printed, so a run can be repeated. */
function prng(seed: number): () => number {
  const r = new SeededRandom(seed);
  return () => r.float();
}

/** The lot's specification refusals: definite answers the checker must justify. */
const definite = new Set(["lot_full", "not_parked"]);

export async function runLinearizability(c: ConsensusCluster, o: LinOptions): Promise<LinReport> {
  const seed = o.seed ?? (Date.now() & 0x7fffffff);
  const rand = prng(seed);
  const callMs = o.callMs ?? 1_500;
  const t0 = performance.now();
  const rec = historyRecorder(() => performance.now() - t0);
  const plates = Array.from({ length: o.plates }, (_, i) => `P${String(i).padStart(2, "0")}`);
  const end = Date.now() + o.runMs;
  const faults: string[] = [];
  const stamp = (): string => `${(performance.now() - t0).toFixed(0)}ms`;

  const asResult = (a: Awaited<ReturnType<Node["park"]>>): LotResult => {
    if (a.ok) return { ok: true };
    return { ok: false, code: definite.has(a.code) ? a.code : a.code === "unavailable" ? "unavailable" : `indeterminate:${a.code}`, message: a.message };
  };

  const client = async (id: string, node: Node, r: () => number): Promise<void> => {
    while (Date.now() < end) {
      if (!node.alive) {
        await sleep(50);
        continue;
      }
      let indeterminate = false;
      const x = r();
      const plate = plates[Math.floor(r() * plates.length)]!;
      const gate = 1 + Math.floor(r() * 4);
      if (x < 0.4) {
        const done = rec.invoke(id, "park", plate);
        const res = asResult(await node.park(gate, plate, callMs));
        indeterminate = !res.ok && !definite.has(res.code);
        done(res);
      } else if (x < 0.75) {
        const done = rec.invoke(id, "unpark", plate);
        const res = asResult(await node.unpark(gate, plate, callMs));
        indeterminate = !res.ok && !definite.has(res.code);
        done(res);
      } else {
        const done = rec.invoke(id, "read");
        const a = await node.lot(callMs);
        indeterminate = !a.ok;
        done(a.ok ? { ok: true, cars: Object.keys(a.body.vehicles), occupied: a.body.occupied } : { ok: false, code: `indeterminate:${a.code}` });
      }
      // Back off while the node cannot answer: every indeterminate op stays a
      // candidate to the end of the history and multiplies the checker's search.
      await sleep(indeterminate ? 250 + Math.floor(r() * 250) : 5 + Math.floor(r() * 20));
    }
  };

  const leaderOf = async (): Promise<string | null> => {
    try {
      return (await c.agreedLeader(c.running(), 10_000)).leader;
    } catch {
      return null;
    }
  };

  const nemesis = async (): Promise<void> => {
    for (let round = 0; Date.now() < end - 2_000; round++) {
      await sleep(1_000 + Math.floor(rand() * 1_000));
      const leader = await leaderOf();
      const pick = round % 2 === 0 && leader !== null ? c.node(leader) : c.nodes[Math.floor(rand() * c.nodes.length)]!;
      const kind = round % 3;
      if (kind === 0) {
        faults.push(`${stamp()} kill -9 ${pick.name}${pick.name === leader ? " (leader)" : ""}`);
        await pick.kill();
        await sleep(500 + Math.floor(rand() * 1_000));
        faults.push(`${stamp()} restart ${pick.name}`);
        await c.restart(pick);
      } else if (kind === 1) {
        faults.push(`${stamp()} SIGSTOP ${pick.name}${pick.name === leader ? " (leader)" : ""}`);
        pick.pause();
        await sleep(1_000 + Math.floor(rand() * 1_500));
        faults.push(`${stamp()} SIGCONT ${pick.name}`);
        pick.resume();
      } else {
        faults.push(`${stamp()} SIGTERM ${pick.name}${pick.name === leader ? " (leader)" : ""}`);
        await pick.terminate(10_000);
        faults.push(`${stamp()} restart ${pick.name}`);
        await c.restart(pick);
      }
      // One fault at a time: wait until the cluster has a leader all running nodes agree on.
      await until("a leader after the fault", async () => ((await leaderOf()) ?? undefined), 20_000, 100).catch(() => {
        faults.push(`${stamp()} no agreed leader within 20 s`);
      });
    }
  };

  const clients: Promise<void>[] = [];
  for (const n of c.nodes) {
    for (let k = 0; k < o.clientsPerNode; k++) {
      const sub = prng(seed + clients.length + 1);
      clients.push(client(`${n.name}.${k}`, n, sub));
    }
  }
  await Promise.all([nemesis(), ...clients]);
  const history = rec.history();
  // A 15 s run takes a few million steps; the budget is for loaded machines and soak runs.
  const check = checkLot(history, o.spaces, { maxSteps: 500_000_000, maxMs: 90_000 });
  const count = (f: (op: LotHistory[number]) => boolean): number => history.filter(f).length;
  const summary = `seed ${seed}, ${history.length} ops (${count((h) => h.result?.ok === true)} ok, ` +
    `${count((h) => h.result?.ok === false && definite.has(h.result.code))} definite refusals, ` +
    `${count((h) => h.result?.ok === false && !definite.has(h.result.code))} indeterminate); check: ${String(check.ok)} ` +
    `in ${check.elapsedMs.toFixed(0)} ms, ${check.steps} steps; faults: ${faults.join("; ")}`;
  return { check, history, faults, seed, summary };
}
