/**
 * A room's owner answering from a replica that has not yet seen a newer
 * write: the leave of a person is acknowledged by the other two nodes while
 * the owner is cut off (it still holds its lease), then the person walks
 * into the room again through the owner. That walk-into must win: it was
 * acknowledged after the leave. Deterministic; SEED=n replays one seed.
 */
import { describe, expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";
import { replay, seeds } from "./seeds.ts";

const FILE = "tests/sim-apps/stale-owner.test.ts";

async function staleOwner(seed: number): Promise<{ owner: string; walk: string; final: unknown; settle: string | null }> {
  const sim = await AppSim.start({ seed: `stale-${seed}`, nodes: 3, callTimeoutMs: 2000 });
  const n1 = sim.slot("n1").node!;
  await sim.retry(() => n1.app.addRooms(["hall"]), "create the room");
  const owner = sim.slot("n1").parts!.registry.ownerOf("room:hall");
  const [x, y] = sim.names().filter((n) => n !== owner) as [string, string];
  await sim.retry(() => sim.slot(x).node!.app.walkInto("hall", ["al"]), "first walk-into");
  await sim.until(() => sim.replicasAgree(), 5000, "replicated");

  sim.partition([[owner], [x, y]]);
  await sim.retry(() => sim.slot(x).node!.app.leave(["al"]), "leave on the majority side");
  const walk = await sim.settle(sim.slot(owner).node!.app.walkInto("hall", ["al"]), 5000);
  sim.heal();
  let settle: string | null = null;
  try {
    await sim.until(() => sim.quiet(), 30_000, "settling");
  } catch (err) {
    settle = err instanceof Error ? err.message : String(err);
  }
  const outcome = walk.ok === true ? "ok" : walk.ok === false ? String(walk.error) : "no answer";
  return { owner, walk: outcome, final: sim.slot(x).node!.map.get("person/al"), settle };
}

describe("a walk-into answered by a room owner whose replica lags", () => {
  // Known product bug (reported with seeds 1-3): the owner finds "al" already
  // in the hall in its stale replica, writes nothing (a no-op) and answers
  // ok; once healed the older leave wins and the acknowledged walk-into is
  // lost. Writing every person of a walk-into, even those the replica shows
  // inside, would order it after the leave.
  test.todo("is either refused or survives the leave it followed", async () => {
    for (const seed of seeds([1, 2, 3], 20)) {
      const r = await staleOwner(seed);
      const where = `seed ${seed}, owner ${r.owner} (replay: ${replay(seed, FILE)})`;
      expect({ where, settle: r.settle }).toEqual({ where, settle: null });
      if (r.walk === "ok") expect({ where, final: r.final }).toEqual({ where, final: "hall" });
    }
  });
});
