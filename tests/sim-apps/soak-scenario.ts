/**
 * One chaos run reduced to what crosses a process boundary: the seed, how
 * long its workload ran, which invariants it broke (with their lines) and a
 * few figures. chaos.test.ts, the soak runner (soak.ts) and its workers
 * (soak-worker.ts) all run a seed through here, so a seed means the same run
 * everywhere and the replay command printed by one reproduces it in another.
 */
import { type ScenarioResult, runScenario, type Violations } from "./workload.ts";

/** Every third seed runs 3 nodes (a single crash then leaves a bare majority). */
export const nodesFor = (seed: number): number => (seed % 3 === 0 ? 3 : 5);

/**
 * Every sixth seed (of 5 nodes) keeps 3 voters, so 2 nodes are learners:
 * drains, crashes and cuts then also promote learners and drop voters with
 * learners standing by (a voter drained before the learners were promoted
 * once left one voter holding everything).
 */
export const votersFor = (seed: number): number | undefined => (seed % 6 === 4 ? 3 : undefined);

/**
 * Seeds of 5 nodes may lose a second node while the first failure is not yet
 * repaired, where every configuration in force keeps a majority of its voters
 * and holders: with 5 voters any two (the README's "any two of five"); with 3
 * voters a learner beside a voter, or two learners.
 */
export const twoAtOnceFor = (seed: number): boolean => nodesFor(seed) === 5;

/** How a seed's cluster is shaped, for reports: "5 nodes" or "5 nodes, 3 voting". */
export const shapeOf = (seed: number): string => {
  const v = votersFor(seed);
  return `${nodesFor(seed)} nodes${v === undefined ? "" : `, ${v} voting`}`;
};

/** Virtual ms of workload: chaos.test.ts's fixed seeds, its SOAK=1 run, the soak runner and the suite's 50 short seeds. */
export const WORKLOAD_MS = { test: 12_000, soakTest: 40_000, soak: 20_000, suite: 4_000 } as const;

export type Invariant = keyof Violations;

export interface SeedOutcome {
  seed: number;
  nodes: number;
  workloadMs: number;
  /** Real ms the run took in its process. */
  realMs: number;
  /** CPU ms its process spent on it (user + system): the load-independent cost. */
  cpuMs: number;
  virtualMs: number;
  /** Only the invariants this run broke, each with its lines (capped by workload.ts). */
  broken: Partial<Record<Invariant, string[]>>;
  faultLog: string[];
  ops: Record<string, number>;
}

export function outcomeOf(r: ScenarioResult, workloadMs: number, cpuMs: number): SeedOutcome {
  const broken: Partial<Record<Invariant, string[]>> = {};
  for (const k of Object.keys(r.violations) as Invariant[]) if (r.violations[k].length > 0) broken[k] = r.violations[k];
  return {
    seed: r.seed,
    nodes: nodesFor(r.seed),
    workloadMs,
    realMs: r.figures.realMs,
    cpuMs,
    virtualMs: r.figures.virtualMs,
    broken,
    faultLog: r.faultLog,
    ops: r.figures.ops,
  };
}

/** The chaos scenario for one seed, as every chaos run in the project runs it. */
export function chaosRun(seed: number, workloadMs: number): Promise<ScenarioResult> {
  const maxVoters = votersFor(seed);
  return runScenario({ seed, nodes: nodesFor(seed), workloadMs, twoAtOnce: twoAtOnceFor(seed), ...(maxVoters !== undefined ? { maxVoters } : {}) });
}

/** How to replay one seed of the runner, with every violation line and the fault log. */
export function soakReplay(seed: number, workloadMs: number): string {
  return `npx bun tests/sim-apps/soak.ts --from ${seed} --seeds 1 --workload-ms ${workloadMs} --verbose`;
}
