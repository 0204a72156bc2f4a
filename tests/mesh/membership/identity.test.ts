import { describe, expect, test } from "bun:test";
import { DEAD, SUSPECT, type Update } from "../../../mesh/membership/messages.ts";
import { SimCluster } from "../../../mesh/sim/harness.ts";
import { forEachSeed, SIM_TEST_TIMEOUT_MS } from "../sim/seeds.ts";

/** Deliver `updates` to every running node from a rogue endpoint, as gossip. */
function injectGossip(c: SimCluster, updates: Update[]): void {
  const rogue = c.net.transport("10.66.6.6:4370");
  for (const n of c.running()) rogue.send(n.address, { t: "g", b: updates });
  void rogue.close();
}

describe("sim: identities, restarts and leaving", () => {
  test("a restarted node (same name, new id) replaces its dead predecessor and stale dead/suspect messages about the old id do not touch it", async () => {
    await forEachSeed([1, 2, 3], (seed) => {
      const c = SimCluster.create({ seed, size: 6 });
      c.runUntil(() => c.converged(true), 30_000, "convergence");
      const old = c.node("n003");
      const oldId = old.id;
      const oldInc = old.membership.self().incarnation;
      c.crash("n003");
      c.runUntil(() => c.allSee("n003", "dead") || c.running().every((n) => n.membership.get("n003")?.state === "dead"), 10_000, "old process declared dead");
      c.runFor(1_000);
      const fresh = c.restart("n003");
      expect(fresh.id).not.toBe(oldId);
      c.runUntil(() => c.converged(true), 10_000, "new identity alive everywhere");
      // Stale news about the old identity, with incarnations above anything seen.
      injectGossip(c, [
        { k: DEAD, n: "n003", i: oldId, a: old.address, c: oldInc + 100, f: "n000" },
        { k: SUSPECT, n: "n003", i: oldId, a: old.address, c: oldInc + 100, f: "n001" },
      ]);
      c.runFor(10_000);
      expect(c.converged(true)).toBe(true);
      for (const n of c.running()) {
        const m = n.membership.get("n003")!;
        expect(m.id).toBe(fresh.id);
        expect(m.state).toBe("alive");
        // Nobody delivered a down or suspect event for the new identity.
        expect(n.events.filter((e) => e.id === fresh.id && (e.type === "down" || e.type === "suspect"))).toEqual([]);
      }
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("a node restarted before its crash was detected replaces the old identity at once (down old, up new)", async () => {
    await forEachSeed([4, 5], (seed) => {
      const c = SimCluster.create({ seed, size: 6 });
      c.runUntil(() => c.converged(true), 30_000, "convergence");
      const oldId = c.node("n004").id;
      const fresh = c.restart("n004");
      c.runUntil(() => c.converged(true), 5_000, "new identity alive everywhere");
      for (const n of c.running()) {
        if (n.name === "n004") continue;
        const about = n.events.filter((e) => e.name === "n004").map((e) => `${e.type}:${e.id === oldId ? "old" : e.id === fresh.id ? "new" : "?"}`);
        expect(about).toEqual(["up:old", "down:old", "up:new"]);
      }
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("graceful leave is announced: every member sees left, never down, and the leaver is reaped later", async () => {
    await forEachSeed([6, 7], async (seed) => {
      const c = SimCluster.create({ seed, size: 8 });
      c.runUntil(() => c.converged(true), 30_000, "convergence");
      await c.runUntilSettled(c.leave("n006"), c.node("n006").membership.config.leaveTimeoutMs + 100, "leave");
      c.runUntil(() => c.allSee("n006", "left"), 2_000, "left seen everywhere");
      c.runFor(5_000);
      expect(c.allSee("n006", "left")).toBe(true);
      expect(c.eventsAbout("n006", "down")).toEqual([]);
      expect(c.eventsAbout("n006", "left")).toHaveLength(7);
      for (const n of c.running()) expect(n.membership.live().map((m) => m.name)).not.toContain("n006");
      // Tombstones go after the tombstone period.
      c.runFor(c.node("n000").membership.config.tombstoneMs + 30_000);
      for (const n of c.running()) expect(n.membership.get("n006")).toBeUndefined();
    });
  }, SIM_TEST_TIMEOUT_MS);

  test("a partition heals into one view, even after both sides declared each other dead", async () => {
    await forEachSeed([8, 9], (seed) => {
      const c = SimCluster.create({ seed, size: 10 });
      c.runUntil(() => c.converged(true), 30_000, "convergence");
      const names = [...c.nodes.keys()];
      const a = names.slice(0, 4).map((n) => c.node(n).address);
      const b = names.slice(4).map((n) => c.node(n).address);
      c.net.partition([a, b]);
      const sideA = names.slice(0, 4);
      const sideB = names.slice(4);
      c.runUntil(
        () =>
          sideB.every((n) => sideA.every((m) => c.stateOf(n, m) === "dead")) &&
          sideA.every((n) => sideB.every((m) => c.stateOf(n, m) === "dead")),
        30_000,
        "each side declares the other dead",
      );
      // Long enough that gossip to the dead has stopped: only rejoin can merge.
      c.runFor(c.node("n000").membership.config.gossipToTheDeadMs + 5_000);
      c.net.heal();
      const cfg = c.node("n000").membership.config;
      c.runUntil(() => c.converged(true), cfg.rejoinIntervalMs * 2 + 10_000, "healed partition converges");
      for (const n of names) expect(c.eventsAbout(n, "up").length).toBeGreaterThan(0);
    });
  }, SIM_TEST_TIMEOUT_MS);
});
