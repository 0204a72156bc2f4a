/**
 * The whole system on the simulator with node clocks that disagree: each
 * node's clock reads up to 2 s ahead of or behind the world's, drawn
 * from the seed (the same for its restarted processes), under the chaos
 * workload (crashes, restarts, partitions, stalls, loss, reordering).
 * Every invariant of chaos.test.ts must hold: clocks seconds apart may cost
 * availability, never a wrong answer. Calls' deadlines cross nodes on the
 * caller's clock and are put on the receiver's by measured offsets
 * (membership clock-offsets.ts); writes are ordered by hybrid clocks and the
 * write barrier.
 *
 * And, pinned on its own: a node whose clock reads 10 s ahead of the others
 * (more than the call timeout) serves the rooms it owns to calls from the
 * others; with the deadlines taken on the caller's clock as they were, it
 * dropped every such call as late.
 *
 * Default: seeds 1-2 of 8 virtual seconds. SOAK=1: 20 seeds of 20 s.
 * SEED=n replays one.
 */
import { expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";
import { replay, seeds, SOAK } from "./seeds.ts";
import { nodesFor } from "./soak-scenario.ts";
import { runScenario, type ScenarioResult } from "./workload.ts";

const FILE = "tests/sim-apps/clock-skew.test.ts";
const SKEW_MS = 2_000;

test("clocks up to 2 s apart: no invariant broken on any seed", async () => {
  const bad: string[] = [];
  for (const seed of seeds([1, 2], 20)) {
    const r: ScenarioResult = await runScenario({ seed, nodes: nodesFor(seed), workloadMs: SOAK ? 20_000 : 8_000, clockSkewMs: SKEW_MS });
    for (const [kind, lines] of Object.entries(r.violations)) {
      if (lines.length > 0) bad.push(`seed ${seed} ${kind} (replay: ${replay(seed, FILE)}):\n  ${lines.slice(0, 5).join("\n  ")}`);
    }
  }
  expect(bad.join("\n")).toBe("");
}, SOAK ? 1_800_000 : 120_000);

for (const [skewed, ms] of [["n2", 10_000], ["n3", -10_000]] as const) {
  test(`${skewed} started with its clock ${ms / 1000} s off the others: walk-intos from every node into every room are acknowledged`, async () => {
    const sim = await AppSim.start({ seed: `skew-${skewed}`, nodes: 3, callTimeoutMs: 3_000, fixedSkewMs: { [skewed]: ms } });
    const rooms = Array.from({ length: 9 }, (_, i) => `room${i}`);
    await sim.retry(() => sim.slot("n1").node!.app.addRooms(rooms), "create the rooms");
    await sim.until(() => sim.replicasAgree(), 5_000, "replicated");
    const reg = sim.slot("n1").parts!.registry;
    expect(rooms.some((r) => reg.ownerOf(`room:${r}`) === skewed)).toBe(true);
    const failed: string[] = [];
    let k = 0;
    for (const via of ["n1", "n2", "n3"]) {
      for (const room of rooms) {
        const walk = await sim.settle(sim.slot(via).node!.app.walkInto(room, [`p${k++}`]), 10_000);
        if (walk.ok !== true) failed.push(`${room} (owner ${reg.ownerOf(`room:${room}`)}) via ${via}: ${walk.ok === false ? String(walk.error) : "pending"}`);
      }
    }
    expect(failed).toEqual([]);
  }, 60_000);
}
