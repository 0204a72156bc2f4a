/**
 * A fencing node pulls from holders that have served in this generation
 * before one that never did: a restarted node, still catching up, holds
 * little and is busy, and the survivors' pull from it held their serving
 * (and the whole cluster's writes to their new epoch) until its own
 * catch-up ended (tests/cluster/hostile-rejoin-write-stall.test.ts).
 */
import { expect, test } from "bun:test";
import { RegSim } from "../../support/registry-sim.ts";

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`survivors of a restart reach serving for the epoch that re-adds it, pulling from each other, while its own catch-up still runs (seed ${seed})`, async () => {
    const sim = new RegSim(400 + seed);
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    expect(await sim.until(() => ["n0", "n1", "n2"].every((n) => sim.reg(n).ready()), 3000, undefined, 5)).toBe(true);
    sim.crash("n2");
    sim.commit(["n0", "n1"]);
    expect(await sim.untilEpoch(2, ["n0", "n1"])).toBe(true);
    expect(await sim.until(() => ["n0", "n1"].every((n) => sim.reg(n).stats().serving === "serving"), 5000, undefined, 5)).toBe(true);
    sim.restart("n2");
    sim.bus.stuck.add("n2"); // its catch-up does not end while this test looks
    sim.world.announce("n2");
    sim.commit(["n0", "n1", "n2"]);
    expect(await sim.untilEpoch(3)).toBe(true);
    expect(await sim.until(() => ["n0", "n1"].every((n) => sim.reg(n).stats().serving === "serving"), 3000, undefined, 5)).toBe(true);
    expect(sim.reg("n2").stats().serving).not.toBe("serving");
    for (const n of ["n0", "n1"]) {
      const pulls = sim.bus.pulls.filter((p) => p.node === n && p.epoch === 3 && p.doneAt !== undefined);
      expect({ n, from: pulls.map((p) => p.from) }).toEqual({ n, from: [[n === "n0" ? "n1" : "n0"]] });
    }
  });
}
