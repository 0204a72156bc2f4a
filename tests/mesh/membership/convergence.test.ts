import { describe, expect, test } from "bun:test";
import { SimCluster } from "../../../mesh/sim/harness.ts";
import { forEachSeed, SIM_TEST_TIMEOUT_MS } from "../sim/seeds.ts";

describe("sim: convergence", () => {
  test("100 nodes joining through one seed converge to one view", async () => {
    await forEachSeed([1, 2], (seed) => {
      const c = SimCluster.create({ seed, size: 100 });
      c.runUntil(() => c.converged(true), 30_000, "100-node convergence");
      // Every node holds the same 100 alive members, ids included.
      const reference = JSON.stringify(c.node("n000").membership.live());
      for (const n of c.running()) expect(JSON.stringify(n.membership.live())).toBe(reference);
      expect(c.node("n050").membership.live()).toHaveLength(100);
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("with 10% message loss, 50 nodes still converge and nobody is declared dead", async () => {
    await forEachSeed([3, 4], (seed) => {
      const c = SimCluster.create({ seed, size: 50, network: { loss: 0.1 } });
      c.runUntil(() => c.converged(), 60_000, "convergence under 10% loss");
      c.runFor(60_000);
      expect(c.converged()).toBe(true);
      for (const n of c.running()) {
        expect(c.eventsAbout(n.name, "down")).toEqual([]);
      }
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("a healthy 50-node cluster has no false death in 10 virtual minutes", async () => {
    await forEachSeed([5], (seed) => {
      const c = SimCluster.create({ seed, size: 50, network: { delayMinMs: 0.1, delayMaxMs: 5 } });
      c.runUntil(() => c.converged(true), 30_000, "50-node convergence");
      c.runFor(10 * 60_000);
      expect(c.converged(true)).toBe(true);
      for (const n of c.running()) {
        expect(c.eventsAbout(n.name, "down")).toEqual([]);
        expect(c.eventsAbout(n.name, "suspect")).toEqual([]);
      }
    });
  }, SIM_TEST_TIMEOUT_MS);
});
