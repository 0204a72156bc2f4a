import { describe, expect, test } from "bun:test";
import { detectionBoundMs, lanConfig, localConfig } from "../../../mesh/membership/config.ts";
import { SimCluster } from "../../../mesh/sim/harness.ts";
import { forEachSeed, SIM_TEST_TIMEOUT_MS } from "../sim/seeds.ts";

/** Build, converge, and let probing settle into its rhythm. */
function settled(seed: number, size: number, config = {}): SimCluster {
  const c = SimCluster.create({ seed, size, config });
  c.runUntil(() => c.converged(true), 30_000, "convergence");
  c.runFor(2_000 + (seed % 7) * 113);
  return c;
}

describe("sim: failure detection", () => {
  test("lan: a frozen node on 5 nodes is declared dead by every survivor within 3 s", async () => {
    await forEachSeed([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], (seed) => {
      const c = settled(seed, 5);
      c.net.clockOf(c.node("n002").address).pause(); // SIGSTOP, never resumed
      const took = c.runUntil(() => c.allSee("n002", "dead"), 3_000, "frozen node declared dead everywhere");
      expect(took).toBeLessThanOrEqual(3_000);
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("a crashed node is declared dead everywhere within the profile's bound (lan and local, 5 and 30 nodes)", async () => {
    await forEachSeed([21, 22, 23], (seed) => {
      for (const [cfg, size] of [
        [lanConfig, 5],
        [lanConfig, 30],
        [localConfig, 5],
        [localConfig, 30],
      ] as const) {
        const c = settled(seed, size, cfg);
        c.crash("n003");
        c.runUntil(() => c.allSee("n003", "dead"), detectionBoundMs(cfg, size), `${cfg.profile}/${size}: crash detected`);
        // Declared dead, not left, and every survivor delivered one down event.
        expect(c.eventsAbout("n003", "down")).toHaveLength(size - 1);
        expect(c.eventsAbout("n003", "left")).toEqual([]);
      }
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("lan: a killed node whose connections are refused is declared dead everywhere within 1 s", async () => {
    await forEachSeed([61, 62, 63, 64, 65], (seed) => {
      const c = settled(seed, 5);
      c.crash("n002", { refusedAfterMs: 5 });
      c.runUntil(() => c.allSee("n002", "dead"), 1_000, "killed node declared dead everywhere");
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("a spurious unreachable report about a live node is refuted, not fatal", async () => {
    await forEachSeed([66, 67, 68], (seed) => {
      const c = settled(seed, 5);
      c.node("n000").membership.peerUnreachable(c.node("n003").address);
      c.runFor(5_000);
      expect(c.eventsAbout("n003", "suspect").length).toBeGreaterThan(0);
      expect(c.eventsAbout("n003", "down")).toEqual([]);
      expect(c.converged(true)).toBe(true);
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("lan: a node stalled for 1 s (shorter than the suspicion timeout) is not declared dead", async () => {
    await forEachSeed([31, 32, 33, 34, 35, 36, 37, 38, 39, 40], (seed) => {
      const c = settled(seed, 5);
      c.stall("n001", 1_000);
      c.runFor(10_000);
      expect(c.eventsAbout("n001", "down")).toEqual([]);
      expect(c.converged(true)).toBe(true);
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("a node stalled past its suspicion timeout is declared dead, then refutes and is alive again when it resumes", async () => {
    await forEachSeed([41, 42], (seed) => {
      const c = settled(seed, 5);
      const before = c.node("n004").membership.self().incarnation;
      c.stall("n004", 8_000);
      c.runUntil(() => c.allSee("n004", "dead"), 8_000, "stalled node declared dead");
      c.runUntil(() => c.converged(true), 10_000, "resumed node alive again everywhere");
      expect(c.node("n004").membership.self().incarnation).toBeGreaterThan(before);
      // Each survivor saw it go down and come back up.
      expect(c.eventsAbout("n004", "up").filter((e) => e.incarnation > before)).toHaveLength(4);
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("a suspicion is refuted by an incarnation bump from the suspect", async () => {
    await forEachSeed([51, 52, 53], (seed) => {
      const c = settled(seed, 8);
      const victim = c.node("n005");
      const inc = victim.membership.self().incarnation;
      // Cut the victim off just long enough to be suspected, not declared dead.
      c.net.partition([[victim.address]]);
      c.runUntil(() => c.eventsAbout("n005", "suspect").length > 0, 10_000, "victim suspected");
      c.net.heal();
      c.runUntil(() => c.converged(true), 10_000, "suspicion refuted everywhere");
      expect(victim.membership.self().incarnation).toBeGreaterThan(inc);
      expect(c.eventsAbout("n005", "down")).toEqual([]);
      // Observers that suspected it saw it come back with the higher incarnation.
      const alive = c.eventsAbout("n005", "alive");
      expect(alive.length).toBeGreaterThan(0);
      for (const e of alive) expect(e.incarnation).toBeGreaterThan(inc);
      expect(victim.membership.stats().refutes).toBeGreaterThan(0);
    });
  }, SIM_TEST_TIMEOUT_MS);
});
