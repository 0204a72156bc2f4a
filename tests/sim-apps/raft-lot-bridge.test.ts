/**
 * The Raft lot across a bridge: only the link between the leader and one
 * node F is cut, each still reaches every other node (a majority). F hears
 * no leader, and none is elected in its place (the others still hear the
 * leader: pre-vote, check-quorum), so without relays (mesh/consensus/
 * relay.ts) every park at a gate placed on F and every lot read sent to F
 * timed out for the whole cut (tests/cluster/hostile-lot-bridge.test.ts,
 * with real processes). With them, F hands its proposals and reads to a
 * peer, and they answer within a few hundred ms, with the answers a
 * linearizable lot gives.
 *
 * SEED=n replays one seed.
 */
import { describe, expect, test } from "bun:test";
import { AppSim, type AppSimNode } from "../../mesh/sim/app-harness.ts";
import { gateProcess } from "../../mesh/apps/parking.ts";
import { leaderSlot, raftSettled, raftStates } from "./raft-lot-run.ts";

const SEEDS = process.env["SEED"] !== undefined ? [Number(process.env["SEED"])] : [31, 32, 33];
const GATES = 6;

const node = (s: AppSimNode) => s.node!;

async function bridged(seed: number) {
  const sim = await AppSim.start({ seed, nodes: 5, gates: GATES, spaces: 4, lot: "raft", callTimeoutMs: 3000 });
  await sim.until(() => raftSettled(sim) && leaderSlot(sim)!.node!.consensus.committedConfig().voters.length === 5, 30_000, `five voters\n${raftStates(sim)}`);
  const leader = leaderSlot(sim)!;
  // A gate whose process runs on a node other than the leader: that node is cut from the leader.
  let gate = 0;
  let cut: AppSimNode | undefined;
  await sim.until(() => {
    for (let g = 1; g <= GATES; g++) {
      const owner = leader.parts!.registry.ownerOf(gateProcess(g));
      if (owner !== leader.name && owner !== "") {
        gate = g;
        cut = sim.slot(owner);
        return true;
      }
    }
    return false;
  }, 10_000, "a gate off the leader");
  // Start the gate's process before the cut (a park through it does), so the cut only tests the lot.
  await sim.retry(() => node(leader).app.park(gate, "BEFORE"), "a park before the cut");
  const third = sim.up().find((s) => s.name !== leader.name && s.name !== cut!.name)!;
  sim.net.block(leader.address, cut!.address);
  sim.net.block(cut!.address, leader.address);
  return { sim, leader, cut: cut!, third, gate };
}

describe("the Raft lot across a bridge (only the leader's link to one node cut)", () => {
  for (const seed of SEEDS) {
    test(`seed ${seed}: parks at the cut node's gate and lot reads on it answer within 1 s, as the leader's lot says`, async () => {
      const { sim, leader, cut, third, gate } = await bridged(seed);
      // Long enough for the cut node to give up on the leader (election timeout 0.5-1 s, pre-vote refused).
      await sim.run(2000);
      expect(leaderSlot(sim)?.name).toBe(leader.name); // nobody replaced the leader: the cut is a bridge, not a split

      const t0 = sim.clock.now();
      const park = sim.track(node(third).app.park(gate, "BRIDGE 1"));
      await sim.until(() => park.outcome.ok !== "pending", 1000, `the park through ${third.name} at gate ${gate} on ${cut.name}`);
      expect(park.outcome.ok).toBe(true);
      const read = sim.track(node(cut).app.lot());
      await sim.until(() => read.outcome.ok !== "pending", 1000, `a lot read on ${cut.name}`);
      expect(read.outcome.ok === true && Object.keys(read.outcome.value.vehicles).sort()).toEqual(["BEFORE", "BRIDGE 1"]);
      // A refusal from the machine is relayed as itself, not as unavailable.
      const again = sim.track(node(third).app.unpark(gate, "NEVER PARKED"));
      await sim.until(() => again.outcome.ok !== "pending", 1000, "an unpark of a car not parked");
      expect(again.outcome.ok === false && (again.outcome.error as { code?: string }).code).toBe("not_parked");
      const gates = sim.track(node(cut).app.gates());
      await sim.until(() => gates.outcome.ok !== "pending", 1000, `the gates read on ${cut.name}`);
      expect(gates.outcome.ok === true && gates.outcome.value.find((g) => g.gate === gate)?.parked).toBe(2);
      expect(sim.clock.now() - t0).toBeLessThan(4000);
      const relayed = node(cut).consensus.stats;
      expect(relayed.proposalsRelayed).toBeGreaterThan(0);
      expect(relayed.readsRelayed).toBeGreaterThan(0);

      // The leader's own lot agrees, and once healed every node holds the car once.
      const atLeader = await sim.settle(node(leader).app.lot());
      expect(atLeader.ok === true && Object.keys(atLeader.value.vehicles).sort()).toEqual(["BEFORE", "BRIDGE 1"]);
      sim.heal();
      await sim.until(() => raftSettled(sim), 10_000, "settled after the heal");
      for (const s of sim.up()) expect(Object.keys(node(s).app.lotLocal().vehicles).sort()).toEqual(["BEFORE", "BRIDGE 1"]);
      expect(node(leader).app.lotLocal().occupied).toBe(2);
    }, 60_000);
  }
});
