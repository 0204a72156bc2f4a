/**
 * A walk-into sent to a frozen owner by a node that is then killed and
 * restarted (a new process under the same name) before the owner wakes:
 * the caller's client got no answer, so the call must not run late. On
 * waking, the owner sees that name alive again (not dead, the check it
 * had), but under a later process than the one that sent the call
 * (Inbound.originId): it refuses the call unrun. Found by the nemesis on
 * real processes (seed 14): a leader's unpark, sent to a frozen gate owner
 * just before the leader was killed and restarted, ran 5 s later, after an
 * acknowledged park of the same car, which it undid.
 *
 * SEED=n replays one seed.
 */
import { describe, expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";

const SEEDS = process.env["SEED"] !== undefined ? [Number(process.env["SEED"])] : [1, 2, 3];

async function restartedCaller(seed: number, restart: boolean) {
  const sim = await AppSim.start({ seed: `restarted-caller-${seed}`, nodes: 5, callTimeoutMs: 5000 });
  const n1 = sim.slot("n1").node!;
  const rooms = Array.from({ length: 20 }, (_, i) => `room${i}`);
  await sim.retry(() => n1.app.addRooms(rooms), "create the rooms");
  const reg = sim.slot("n1").parts!.registry;
  const away = rooms.find((r) => reg.ownerOf(`room:${r}`) === "n3")!;
  await sim.until(() => sim.replicasAgree(), 5000, "replicated");

  sim.slot("n3").clock!.stall(3000);
  const zombie = sim.track(n1.app.walkInto(away, ["al"]));
  await sim.run(200);
  // kill -9 of the caller (its client sees the connection drop), and, when `restart`, a new process under its name.
  if (restart) sim.restart("n1");
  else sim.crash("n1");
  await sim.run(3000); // n3 wakes
  await sim.run(6000); // past the call's deadline: a call that is going to run has run
  const where = await sim.settle(sim.slot("n2").node!.app.whereIs("al"));
  return { zombie: zombie.outcome.ok, where: where.ok === true ? where.value : "no answer" };
}

describe("a call whose sender was killed and restarted while its owner was frozen", () => {
  for (const seed of SEEDS) {
    test(`seed ${seed}: the owner, on waking, knows the sender's later process and refuses the call unrun`, async () => {
      const r = await restartedCaller(seed, true);
      expect(r.where).toBe(null);
    }, 60_000);
  }

  test("the sender killed and not restarted: dead in the owner's view, the call is refused too (the check that was there)", async () => {
    const r = await restartedCaller(SEEDS[0]!, false);
    expect(r.where).toBe(null);
  }, 60_000);
});
