/**
 * who-is-in under read leases on a simulated 3-node cluster (real
 * membership, replication, registry and apps): after the first read a node
 * answers from its replica with no round trip, and a walk-into acknowledged
 * through another node shows in the next who-is-in, also when that node's
 * stream to the reader is cut (the write then waits for the reader's grants
 * to run out, and the reader goes back to the read barrier). The chaos soak
 * checks the same promise under random faults (invariants.ts checkFresh).
 *
 * SEED=n replays one seed.
 */
import { describe, expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";

const SEEDS = process.env["SEED"] !== undefined ? [Number(process.env["SEED"])] : [1, 2, 3];

async function cluster(seed: number) {
  const sim = await AppSim.start({ seed: `read-lease-${seed}`, nodes: 3, callTimeoutMs: 5000 });
  const n1 = sim.slot("n1").node!;
  const rooms = Array.from({ length: 12 }, (_, i) => `room${i}`);
  await sim.retry(() => n1.app.addRooms(rooms), "create the rooms");
  await sim.until(() => sim.replicasAgree(), 5000, "replicated");
  const reg = sim.slot("n1").parts!.registry;
  // A room n3 does not own: its who-is-in reads n3's replica, a walk-into is written by another node.
  const room = rooms.find((r) => reg.ownerOf(`room:${r}`) !== "n3")!;
  return { sim, room, owner: reg.ownerOf(`room:${room}`)! };
}

describe("who-is-in under read leases", () => {
  for (const seed of SEEDS) {
    test(`seed ${seed}: a node reads by lease after its first read, and each read holds the walk-in acknowledged before it`, async () => {
      const { sim, room } = await cluster(seed);
      const n1 = sim.slot("n1").node!;
      const n3 = sim.slot("n3").node!;
      const rep3 = sim.slot("n3").parts!.replicator;
      const first = await sim.settle(n3.app.whoIsIn(room));
      expect(first.ok).toBe(true);
      await sim.run(20);
      const leasedBefore = rep3.stats().readsLeased;
      for (let k = 0; k < 10; k++) {
        const person = `p${k}`;
        const walk = await sim.settle(n1.app.walkInto(room, [person]));
        expect(walk.ok).toBe(true);
        const who = await sim.settle(n3.app.whoIsIn(room));
        expect(who.ok === true ? who.value : who).toContain(person);
      }
      expect(rep3.stats().readsLeased - leasedBefore).toBeGreaterThanOrEqual(10);
    }, 60_000);
  }

  test("with the owner's stream to the reader cut, a walk-in is acknowledged only once the reader's lease ran out, and the reader's next who-is-in holds it", async () => {
    const { sim, room, owner } = await cluster(SEEDS[0]!);
    const n3 = sim.slot("n3").node!;
    const rep3 = sim.slot("n3").parts!.replicator;
    expect((await sim.settle(n3.app.whoIsIn(room))).ok).toBe(true);
    await sim.run(20);
    // Every message from the owner to n3 is lost: its writes, its acks and its grants.
    sim.net.block(sim.slot(owner).address, sim.slot("n3").address);
    const walk = sim.track(sim.slot(owner).node!.app.walkInto(room, ["zed"]));
    await sim.run(100);
    expect(walk.outcome.ok).toBe("pending"); // n3 still holds the owner's grant: the walk-in waits for it
    await sim.until(() => walk.outcome.ok !== "pending", 3000, "the walk-in answered");
    expect(walk.outcome.ok).toBe(true);
    const barrierBefore = rep3.stats().readsBarrier;
    const who = await sim.settle(n3.app.whoIsIn(room), 5000);
    expect(who.ok === true ? who.value : who).toContain("zed");
    expect(rep3.stats().readsBarrier).toBeGreaterThan(barrierBefore);
    sim.net.unblock(sim.slot(owner).address, sim.slot("n3").address);
  }, 60_000);
});
