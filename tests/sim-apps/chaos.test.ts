/**
 * The whole system on the simulator: 3- and 5-node roomy clusters (startNode
 * over real membership, replication, registry and apps) under a random
 * workload with crashes, restarts under the same name, partitions, stalls,
 * 5-10% message loss, duplication and reordering (workload.ts). Each seed
 * runs once; every test below judges one invariant over all runs.
 *
 * SEED=n replays one run; SOAK=1 runs 40 seeds with a longer workload.
 * A failure names the seed and the command that replays it.
 */
import { describe, expect, test } from "bun:test";
import { replay, seeds, SOAK } from "./seeds.ts";
import { runScenario, type ScenarioResult, type Violations } from "./workload.ts";

const FILE = "tests/sim-apps/chaos.test.ts";
const TIMEOUT_MS = SOAK ? 1_800_000 : 120_000;
/** Every third seed runs 3 nodes (a single crash then leaves a bare majority). */
const nodesFor = (seed: number): number => (seed % 3 === 0 ? 3 : 5);

let runs: Promise<ScenarioResult[]> | undefined;
function results(): Promise<ScenarioResult[]> {
  runs ??= (async () => {
    const out: ScenarioResult[] = [];
    for (const seed of seeds([1, 2, 3], 40)) {
      out.push(await runScenario({ seed, nodes: nodesFor(seed), workloadMs: SOAK ? 40_000 : 12_000 }));
    }
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
  const report = bad.map((r) => `seed ${r.seed} (${nodesFor(r.seed)} nodes; replay: ${replay(r.seed, FILE)}):\n  ${r.violations[kind].join("\n  ")}`);
  expect(report.join("\n")).toBe("");
}

describe("rooms and parking on a simulated cluster under crashes, restarts, partitions, stalls, loss and reordering", () => {
  // Passes on the default seeds. SOAK=1 finds two product bugs here (3-node
  // seeds): 9 and 33, a walk-into answered ok as a no-op by a room owner whose
  // replica had not seen the leave before it (stale-owner.test.ts); 15, an
  // isolated node collects a tombstone once its membership has reaped the
  // others, and the old room comes back (isolated-gc.test.ts).
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

  // Passes on the default seeds; SOAK=1 seed 33: a room's owner answers
  // who-is-in with den = 3 of capacity 2 (a replica missing a leave its
  // predecessor had admitted against).
  test("no read (dump, who-is-in) shows a room over its capacity", () => expectClean("readCapacity"), TIMEOUT_MS);

  // Fixed product bugs (seeds: default run 1-3 and, in brackets, SOAK=1 of 40):
  // - dump multi-called the rooms and each answered from its owner's replica:
  //   a person moving between rooms showed in both. Seeds 1-3 [all 40]. Rooms
  //   now answer each person with their key's timestamp and the dump keeps
  //   the newer room (mergeOccupancies).
  test("a person is in at most one room in every dump", () => expectClean("readTwice"), TIMEOUT_MS);
  // - leaves are written by any node, admissions by the room's owner: a third
  //   replica could merge an admission before the leave it relied on ("den
  //   holds 3, capacity 2"). Seed 2 [35 of 40]. Seats, written with the
  //   admission, now bound every replica's count.
  test("no replica ever shows a room over its capacity", () => expectClean("replicaRoom"), TIMEOUT_MS);
  // - a park after an unpark could reach a replica first (loss and retransmit,
  //   reordering, a lot owner change): 5-6 cars in 4 spaces. Seeds 2, 3 [29
  //   of 40]. Slots, written with the car, now bound every replica's count.
  test("no replica ever shows the lot over its spaces", () => expectClean("replicaLot"), TIMEOUT_MS);
  // Fixed: a restarted node served calls that peers routed to it before its
  // own join completed, on an empty replica (unknown_room for rooms that
  // exist, two copies serving, an overfilled lot). The registry now serves
  // nothing until the node is ready (cluster-wiring.ts). Seeds 2, 3, 1.
  test("no answer the contract rules out (unknown_room for a room that exists)", () => expectClean("wrongAnswer"));
  test("never two nodes serving one process at the same instant", () => expectClean("dualServe"));
  // Fixed: a node restarted inside a partition learned the members from the
  // others and never ran a join of its own: never ready. Being reached by a
  // live member now counts as joined. Seed 1 [18].
  test("every node reports ready once the cluster has settled", () => expectClean("ready"));
});
