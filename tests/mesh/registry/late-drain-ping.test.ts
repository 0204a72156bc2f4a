/**
 * A lease ping read late from a process since restarted under its name is
 * ignored (mesh/registry/lease.ts). Found by a nemesis run on 5 real nodes:
 * a node frozen (SIGSTOP) while a peer drained and restarted read the old
 * process's draining pings after it knew the new one, took the new one for
 * draining, and, leading, dropped it from the configuration for good.
 */
import { expect, test } from "bun:test";
import { RegSim } from "../../support/registry-sim.ts";

/** Three holders of one committed configuration, settled. */
async function threeHolders(seed: number): Promise<RegSim> {
  const sim = new RegSim(seed);
  for (const n of ["n0", "n1", "n2"]) sim.add(n);
  await sim.run(50);
  sim.commit(["n0", "n1", "n2"]);
  await sim.run(500);
  return sim;
}

test("a draining ping from an earlier process under a name does not mark the process running under it now as draining", async () => {
  const sim = await threeHolders(41);
  const oldId = sim.world.idOf("n2");
  const stamp = sim.configs.knownBy("n0")!;
  sim.restart("n2");
  sim.world.announce("n2");
  await sim.run(200);
  expect(sim.world.idOf("n2")).not.toBe(oldId);
  const ping = (id: string) => ({ t: "lp", s: sim.clock.now(), n: "n2", i: id, dr: true, g: stamp.generation, e: stamp.epoch, r: -1 });
  // The old process's last ping, read late.
  sim.net.inject(sim.node("n2").address, sim.node("n0").address, ping(oldId));
  await sim.run(200);
  expect([...sim.reg("n0").draining()]).toEqual([]);
  // The process running now saying it drains does count.
  sim.net.inject(sim.node("n2").address, sim.node("n0").address, ping(sim.world.idOf("n2")));
  await sim.run(200);
  expect([...sim.reg("n0").draining()]).toEqual(["n2"]);
});

test("a draining mark the process under that name contradicts (its pings say it does not drain) is undone", async () => {
  const sim = await threeHolders(43);
  const stamp = sim.configs.knownBy("n0")!;
  // A ping of n2's current process marked draining (as a forged or misread one would): n2's own next pings undo it.
  sim.net.inject(sim.node("n2").address, sim.node("n0").address, { t: "lp", s: sim.clock.now(), n: "n2", i: sim.world.idOf("n2"), dr: true, g: stamp.generation, e: stamp.epoch, r: -1 });
  await sim.run(20);
  expect([...sim.reg("n0").draining()]).toEqual(["n2"]);
  await sim.run(1000);
  expect([...sim.reg("n0").draining()]).toEqual([]);
});
