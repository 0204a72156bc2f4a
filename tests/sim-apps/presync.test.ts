/**
 * A node outside the committed configuration is made a holder only once it
 * pulled its peers' data (mesh/registry/presync.ts): a restarted node's
 * replica holds what the others held before it owns a single name, so its
 * catch-up for the epoch that adds it moves only what was written since,
 * and its names are not unavailable for a whole catch-up
 * (tests/cluster/hostile-rejoin-write-stall).
 */
import { expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";
import type { Node } from "../../mesh/node/node.ts";

const isHolder = (n: Node): boolean => {
  const c = n.consensus.committedConfig();
  return [...c.voters, ...c.learners].some((s) => s.id === n.id);
};

for (const seed of [3, 4, 5]) {
  test(`a restarted node holds the others' data before it is made a holder again (seed ${seed})`, async () => {
    const sim = await AppSim.start({ seed, nodes: 3 });
    const n1 = sim.slot("n1").node!;
    const rooms = Array.from({ length: 100 }, (_, i) => `r${i}`);
    expect((await sim.settle(n1.app.addRooms(rooms))).ok).toBe(true);
    for (let i = 0; i < 100; i++) {
      const people = Array.from({ length: 20 }, (_, j) => `p${i}-${j}`);
      expect((await sim.settle(n1.app.walkInto(rooms[i]!, people))).ok).toBe(true);
    }
    const keys = n1.map.size;
    expect(keys).toBeGreaterThanOrEqual(2100);
    sim.crash("n3");
    await sim.until(() => !n1.consensus.committedConfig().voters.concat(n1.consensus.committedConfig().learners).some((s) => s.name === "n3"), 30_000, "n3 dropped");
    sim.restart("n3");
    let atHolder = -1;
    await sim.until(() => {
      const n = sim.slot("n3").node;
      if (n !== null && atHolder < 0 && isHolder(n)) atHolder = n.map.size;
      return sim.isReady("n3");
    }, 30_000, "n3 ready", 1);
    expect(atHolder).toBeGreaterThanOrEqual(keys);
    expect(sim.replicasAgree()).toBe(true);
  });
}
