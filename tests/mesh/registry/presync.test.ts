/**
 * A member outside the committed configuration pulls its live peers' data
 * and says so in its lease pings (mesh/registry/presync.ts); the consensus
 * leader adds it only then (registry synced(), consensus mayAdd).
 */
import { expect, test } from "bun:test";
import { RegSim } from "../../support/registry-sim.ts";

test("a member outside the configuration pulls its peers' data and says so; one whose pull never ends does not; a holder never does", async () => {
  const sim = new RegSim(31);
  for (const n of ["n0", "n1", "n2"]) sim.add(n);
  await sim.run(50);
  sim.commit(["n0", "n1"]);
  expect(await sim.untilEpoch(2)).toBe(true);
  expect(await sim.until(() => sim.reg("n0").synced("n2"), 3000, undefined, 5)).toBe(true);
  const pulled = sim.bus.pulls.filter((p) => p.node === "n2" && p.doneAt !== undefined && p.epoch === 2);
  expect(pulled.length).toBeGreaterThan(0);
  expect(sim.reg("n0").synced("n1")).toBe(false);
  sim.bus.stuck.add("n3"); // its pulls never end
  sim.add("n3");
  await sim.run(2000);
  expect(sim.reg("n0").synced("n3")).toBe(false);
  expect(sim.reg("n1").synced("n3")).toBe(false);
  sim.bus.stuck.delete("n3");
  expect(await sim.until(() => sim.reg("n0").synced("n3") && sim.reg("n1").synced("n3"), 3000, undefined, 5)).toBe(true);
});
