/**
 * The soak runner's worker pool (soak-pool.ts): a seed over its real-time cap
 * is reported over time, never dropped, and the seeds after it still run.
 */
import { expect, test } from "bun:test";
import { runPool } from "./soak-pool.ts";

test("a seed over its time cap is reported over time, and the next seed runs on a fresh worker", async () => {
  const reports = await runPool({
    // Ten virtual minutes of workload take minutes of real time; no workload takes well under a second.
    runs: [
      { seed: 1, workloadMs: 600_000 },
      { seed: 2, workloadMs: 0 },
    ],
    jobs: 1,
    capMs: 3000,
  });
  expect(reports.map((r) => [r.seed, r.status])).toEqual([
    [1, "overtime"],
    [2, "done"],
  ]);
  const done = reports[1]!;
  if (done.status === "done") expect(done.outcome.broken).toEqual({});
}, 60_000);
