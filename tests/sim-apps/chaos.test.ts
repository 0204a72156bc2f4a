/**
 * The whole system on the simulator: 3- and 5-node roomy clusters (startNode
 * over real membership, replication, registry and apps) under a random
 * workload with crashes, restarts under the same name, partitions, stalls,
 * 5-10% message loss, duplication and reordering (workload.ts). Each seed
 * runs once; every test in the first block judges one invariant over seeds
 * 1-3 (12 s of workload each). The second block runs 50 more seeds, short,
 * in worker processes (soak-pool.ts). A seed known to break an invariant is
 * a test.failing case naming its seed and what breaks (KNOWN below).
 * No seed is known to fail today (KNOWN is empty).
 *
 * SEED=n replays one run; SOAK=1 runs 40 seeds of 40 s here, in one process.
 * The long soak (1,000 seeds in parallel workers) is the runner:
 * `npx bun tests/sim-apps/soak.ts` (README, Tests). A failure names the seed
 * and the command that replays it.
 */
import { describe, expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { DEFAULT_SEEDS, replay, seeds, SOAK } from "./seeds.ts";
import { runPool, type SeedReport, type SeedRun } from "./soak-pool.ts";
import { chaosRun, type Invariant, shapeOf, soakReplay, WORKLOAD_MS } from "./soak-scenario.ts";
import type { ScenarioResult, Violations } from "./workload.ts";

const FILE = "tests/sim-apps/chaos.test.ts";
const TIMEOUT_MS = SOAK ? 1_800_000 : 120_000;

let runs: Promise<ScenarioResult[]> | undefined;
function results(): Promise<ScenarioResult[]> {
  runs ??= (async () => {
    if (SOAK) console.log("SOAK=1: 40 seeds in this process; for 1,000 in parallel workers run `npx bun tests/sim-apps/soak.ts`");
    const out: ScenarioResult[] = [];
    for (const seed of seeds([1, 2, 3], 40)) out.push(await chaosRun(seed, SOAK ? WORKLOAD_MS.soakTest : WORKLOAD_MS.test));
    if (SOAK || process.env["SIM_FIGURES"] === "1") {
      for (const r of out) {
        const f = r.figures;
        console.log(
          `seed ${r.seed}: ${(f.virtualMs / 1000).toFixed(1)} s virtual in ${(f.realMs / 1000).toFixed(2)} s (x${(f.virtualMs / f.realMs).toFixed(0)}), ` +
            `ops ${JSON.stringify(f.ops)}, faults ${JSON.stringify(f.faults)}, final values fixed for ${f.determined}/${f.keys} keys`,
        );
      }
    }
    return out;
  })();
  return runs;
}

/** Fails listing every run that broke `kind`, each with its replay command. */
async function expectClean(kind: keyof Violations): Promise<void> {
  const bad = (await results()).filter((r) => r.violations[kind].length > 0);
  const report = bad.map((r) => `seed ${r.seed} (${shapeOf(r.seed)}; replay: ${replay(r.seed, FILE)}):\n  ${r.violations[kind].join("\n  ")}`);
  expect(report.join("\n")).toBe("");
}

describe("rooms and parking on a simulated cluster under crashes, restarts, partitions, stalls, loss and reordering", () => {
  // Fixed: a walk-into answered ok as a no-op by a room owner whose replica
  // had not seen the leave before it (stale-owner.test.ts); an isolated node
  // collecting a tombstone once its membership had reaped the others
  // (isolated-gc.test.ts).
  test(
    "no acknowledged write is lost unless a later write replaced it",
    async () => {
      await expectClean("lost");
      // The check is only as strong as the keys whose final value the history fixes.
      for (const r of await results()) expect(r.figures.determined).toBeGreaterThan(r.figures.keys / 4);
    },
    TIMEOUT_MS,
  );

  test("once the faults stop, every node settles to the same replica and answers the same dump and lot", () => expectClean("converge"), TIMEOUT_MS);

  test("once membership is stable, each process runs on one node: its owner", () => expectClean("owners"), TIMEOUT_MS);

  test("every call on a live node is answered, and every node starts", () => expectClean("hung"), TIMEOUT_MS);

  test("the settled state holds every capacity: lot and rooms", () => expectClean("finalCapacity"), TIMEOUT_MS);

  // Fixed: a room's owner answered who-is-in with den = 3 of capacity 2 (a
  // replica missing a leave its predecessor had admitted against).
  test("no read (dump, who-is-in) shows a room over its capacity", () => expectClean("readCapacity"), TIMEOUT_MS);

  // Fixed product bugs:
  // - dump multi-called the rooms and each answered from its owner's replica:
  //   a person moving between rooms showed in both. A dump now reads one
  //   replica and puts everyone who moved meanwhile in the one room it has
  //   them in at the end (core/rooms/dump-lists.ts).
  test("a person is in at most one room in every dump", () => expectClean("readTwice"), TIMEOUT_MS);
  // Every read (dump, who-is-in) holds the walk-ins and leaves acknowledged
  // before it began: the read barrier's promise, and the read lease's. With
  // the barrier off, 43 stale reads in seeds 1-6 (12 of them a person shown
  // in a room after an acknowledged leave).
  test("no read misses a walk-into or a leave acknowledged before it began", () => expectClean("staleRead"), TIMEOUT_MS);
  // - leaves are written by any node, admissions by the room's owner: a third
  //   replica could merge an admission before the leave it relied on ("den
  //   holds 3, capacity 2"). Seats, written with the admission, now bound
  //   every replica's count.
  test("no replica ever shows a room over its capacity", () => expectClean("replicaRoom"), TIMEOUT_MS);
  // - a park after an unpark could reach a replica first (loss and retransmit,
  //   reordering, a lot owner change): 5-6 cars in 4 spaces. Slots, written
  //   with the car, now bound every replica's count.
  test("no replica ever shows the lot over its spaces", () => expectClean("replicaLot"), TIMEOUT_MS);
  // Fixed: a restarted node served calls that peers routed to it before its
  // own join completed, on an empty replica (unknown_room for rooms that
  // exist, two copies serving, an overfilled lot). The registry now serves
  // nothing until the node is ready (mesh/node/wiring.ts).
  test("no answer the contract rules out (unknown_room for a room that exists)", () => expectClean("wrongAnswer"));
  test("never two nodes serving one process at the same instant", () => expectClean("dualServe"));
  // Fixed: a node restarted inside a partition learned the members from the
  // others and never ran a join of its own: never ready. Being reached by a
  // live member now counts as joined.
  test("every node reports ready once the cluster has settled", () => expectClean("ready"));
});

/** The suite's short seeds: 50 beyond the fixed three, each in a worker process. */
const SUITE_SEEDS = Array.from({ length: 50 }, (_, i) => i + 4);
const JOBS = Math.max(1, Math.min(4, availableParallelism()));
/** Real time one pooled seed may take (a 4 s seed takes ~0.5 s of CPU, a 20 s one ~3 s). */
const CAP_MS = 120_000;

interface Known {
  seed: number;
  workloadMs: number;
  /** Every invariant the seed breaks (one test.failing case each). */
  invariants: Invariant[];
  bug: string;
}
/**
 * Open bugs: seeds that break an invariant today (each verified by running
 * it), one test.failing case per seed and invariant. The day one passes, bun
 * fails its case: a fixed bug then becomes a regular test; a seed whose run
 * merely changed (the product draws its randomness differently) is replaced
 * by one the runner finds. Empty: every seed passes (git log holds the ones
 * that did not).
 */
// 402 and 939 (20 s) left a restarted n1 never ready: the workload crashed a
// voter of a configuration change still under way (config-whole.ts), beyond
// what Raft survives. config-whole.test.ts pins the rule.
const KNOWN: Known[] = [];
const key = (seed: number, workloadMs: number): string => `${seed}/${workloadMs}`;
const isKnown = (seed: number, workloadMs: number, k: Invariant): boolean =>
  KNOWN.some((x) => x.seed === seed && x.workloadMs === workloadMs && x.invariants.includes(k));

let pooled: Promise<Map<string, SeedReport>> | undefined;
/** The 50 short seeds and the known failures, run once across JOBS worker processes. */
function pool(): Promise<Map<string, SeedReport>> {
  // Longest first, so no lane is left alone with a long seed at the end.
  const runs: SeedRun[] = KNOWN.filter((k) => k.workloadMs !== WORKLOAD_MS.suite || !SUITE_SEEDS.includes(k.seed))
    .sort((x, y) => y.workloadMs - x.workloadMs)
    .map(({ seed, workloadMs }) => ({ seed, workloadMs }));
  runs.push(...SUITE_SEEDS.map((seed) => ({ seed, workloadMs: WORKLOAD_MS.suite })));
  pooled ??= runPool({ runs, jobs: JOBS, capMs: CAP_MS }).then((rs) => new Map(rs.map((r) => [key(r.seed, r.workloadMs), r])));
  return pooled;
}

describe.skipIf(!DEFAULT_SEEDS)("the same scenario over 50 more seeds, 4 s of workload each, in worker processes", () => {
  test(
    "every seed holds every invariant, but for the open bugs below; none runs over time or fails to run",
    async () => {
      const report: string[] = [];
      for (const r of (await pool()).values()) {
        const where = `seed ${r.seed} (${shapeOf(r.seed)}, ${r.workloadMs / 1000} s; replay: ${soakReplay(r.seed, r.workloadMs)})`;
        if (r.status === "overtime") report.push(`${where}: over time (${Math.round(r.wallMs)} ms real)`);
        else if (r.status === "error") report.push(`${where}: ${r.error}`);
        else {
          for (const [k, lines] of Object.entries(r.outcome.broken) as [Invariant, string[]][]) {
            if (!isKnown(r.seed, r.workloadMs, k)) report.push(`${where} breaks ${k}:\n  ${lines.join("\n  ")}`);
          }
        }
      }
      expect(report.join("\n")).toBe("");
      expect([...(await pool()).keys()].length).toBe(new Set([...SUITE_SEEDS.map((s) => key(s, WORKLOAD_MS.suite)), ...KNOWN.map((k) => key(k.seed, k.workloadMs))]).size);
    },
    600_000,
  );

  for (const k of KNOWN) {
    for (const inv of k.invariants) {
      test.failing(
        `open bug, seed ${k.seed} (${k.workloadMs / 1000} s of workload) breaks ${inv}: ${k.bug}`,
        async () => {
          const r = (await pool()).get(key(k.seed, k.workloadMs));
          // Over time or not run: passing here fails this case too, loudly; the test above says why.
          if (r?.status !== "done") return;
          expect(r.outcome.broken[inv] ?? []).toEqual([]);
        },
        600_000,
      );
    }
  }
});
