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

// Was open (hostile-rejoin-write-stall): a call for a name whose previous
// owner was killed and restarted under its name waited for that node's
// handoff, which its new process, never having served, could not give
// (no answer at another generation's stamp) until the activation timeout.
test("a previous owner restarted under its name holds nothing: the new owners of its names do not wait for it", async () => {
  const sim = new RegSim(32);
  for (const n of ["n0", "n1", "n2"]) sim.add(n);
  await sim.run(50);
  const names = Array.from({ length: 60 }, (_, i) => `c:room-${i}`).filter((n) => sim.reg("n0").ownerOf(n) === "n2");
  expect(names.length).toBeGreaterThan(5);
  sim.crash("n2");
  sim.commit(["n0", "n1"]);
  expect(await sim.untilEpoch(2, ["n0", "n1"])).toBe(true);
  expect(await sim.until(() => ["n0", "n1"].every((n) => sim.reg(n).stats().serving === "serving"), 5000, undefined, 5)).toBe(true);
  // Its new process learns no configuration (as a real restarted node, outside the log until added).
  sim.configs.hold("n2");
  sim.restart("n2");
  sim.world.announce("n2");
  await sim.run(300);
  expect(sim.configs.knownBy("n2")).toBeNull();
  const t0 = sim.clock.now();
  const r = await sim.settle(Promise.all(names.map((n) => sim.reg(n.length % 2 === 0 ? "n0" : "n1").call(n, { op: "inc" }))), 10_000);
  expect(r.ok).toBe(true);
  expect(sim.clock.now() - t0).toBeLessThan(1_000);
});

test("a draining member dropped from the configuration pulls nothing on its way out; one dropped without draining pulls again", async () => {
  const sim = new RegSim(37);
  for (const n of ["n0", "n1", "n2", "n3"]) sim.add(n);
  await sim.run(50);
  sim.commit(["n0", "n1", "n2", "n3"]);
  const epoch = () => sim.configs.knownBy("n0")?.epoch ?? 0;
  expect(await sim.until(() => epoch() > 0 && sim.upNames().every((n) => sim.configs.knownBy(n)?.epoch === epoch()), 5000)).toBe(true);
  void sim.reg("n2").drain();
  const before = epoch();
  sim.commit(["n0", "n1"]); // drops n2 (draining) and n3 (not)
  expect(await sim.untilEpoch(before + 1)).toBe(true);
  const dropped = sim.clock.now();
  await sim.run(2000);
  const pullsAfter = (n: string) => sim.bus.pulls.filter((p) => p.node === n && p.at >= dropped).length;
  expect(pullsAfter("n2")).toBe(0);
  expect(pullsAfter("n3")).toBeGreaterThan(0);
  expect(sim.reg("n0").synced("n2")).toBe(false);
});
