/**
 * A walk-into sent through a live node to a room whose owner is frozen:
 * the caller's own client gives up (its HTTP connection closes: here, the
 * signal passed as `left` aborts), a leave of the same person is then
 * acknowledged through the live node, and the owner wakes. The owner holds
 * calls that reach it while its loop is behind for one turn
 * (mesh/registry/stalled-calls.ts), reads the caller's cancel behind the
 * call, and refuses it unrun, so the acknowledged leave stands. Without the
 * cancel (no `left`) the call runs on waking and undoes the leave: the
 * "may or may not" of a write whose caller got no answer, which the
 * control case pins. Real processes: tests/cluster/hostile-zombie-write.
 *
 * SEED=n replays one seed.
 */
import { describe, expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";

const SEEDS = process.env["SEED"] !== undefined ? [Number(process.env["SEED"])] : [1, 2, 3];

async function frozenOwner(seed: number, cancel: boolean) {
  const sim = await AppSim.start({ seed: `stalled-owner-${seed}`, nodes: 3, callTimeoutMs: 5000 });
  const n1 = sim.slot("n1").node!;
  const rooms = Array.from({ length: 12 }, (_, i) => `room${i}`);
  await sim.retry(() => n1.app.addRooms(rooms), "create the rooms");
  const reg = sim.slot("n1").parts!.registry;
  const home = rooms.find((r) => reg.ownerOf(`room:${r}`) === "n1")!;
  const away = rooms.find((r) => reg.ownerOf(`room:${r}`) === "n3")!;
  await sim.retry(() => n1.app.walkInto(home, ["al"]), "the first walk-into");
  await sim.until(() => sim.replicasAgree(), 5000, "replicated");

  sim.slot("n3").clock!.stall(1500);
  const client = new AbortController();
  const zombie = sim.track(n1.app.walkInto(away, ["al"], cancel ? client.signal : undefined));
  await sim.run(1000);
  client.abort(); // its client gave up
  const leave = await sim.settle(n1.app.leave(["al"]), 400);
  await sim.run(600); // n3 wakes
  await sim.until(() => zombie.outcome.ok !== "pending", 6000, "the zombie call answered");
  await sim.until(() => sim.quiet(), 30_000, "settled");
  const where = await sim.settle(sim.slot("n2").node!.app.whereIs("al"));
  return { leave: leave.ok, zombie: zombie.outcome, where: where.ok === true ? where.value : "no answer" };
}

describe("a walk-into through a live node to a frozen owner, its client gone before the owner woke", () => {
  for (const seed of SEEDS) {
    test(`seed ${seed}: the owner refuses it unrun (no_effect), and the leave acknowledged meanwhile stands`, async () => {
      const r = await frozenOwner(seed, true);
      expect(r.leave).toBe(true);
      expect(r.zombie.ok).toBe(false);
      const err = r.zombie.ok === false ? (r.zombie.error as { code?: string; noEffect?: boolean }) : {};
      expect({ code: err.code, noEffect: err.noEffect }).toEqual({ code: "unavailable", noEffect: true });
      expect(r.where).toBe(null);
    }, 60_000);
  }

  test("without the cancel (no `left`), the call runs when the owner wakes: the leave is undone (the case the cancel exists for)", async () => {
    const r = await frozenOwner(SEEDS[0]!, false);
    expect(r.leave).toBe(true);
    expect(r.zombie.ok).toBe(true);
    expect(r.where).not.toBe(null);
  }, 60_000);
});
