/**
 * A recovered generation whose leader dies while a node it was adding holds
 * only the log's tail (mesh/consensus/generation-over.ts). Seen on real
 * processes (the nemesis, seed 1, 5 nodes): two of three voters killed and
 * restarted, the survivor n3 started the next generation, made n5 its second
 * voter and appended n1's addition; n5 froze, so the addition never
 * committed, and n3 was killed. n5 (voters n3 and n5, n3 back under a new id)
 * waited for good: n1, outside the committed configuration, said it was in
 * the generation, which was taken as a sign the generation lived on
 * elsewhere. n1 had applied no more than n5: it knew of no later
 * configuration. Now n5 starts the next generation and everyone joins it.
 *
 * Then the same survivor's next generation must hold every entry it held,
 * not only what it knew committed: a park the dead leader had committed with
 * its ack, and acknowledged, was lost (recover() snapshotted only what this
 * node had applied).
 *
 * SEED=n replays one run.
 */
import { expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";
import { leaderSlot, raftSettled, raftStates } from "./raft-lot-run.ts";

const node = (sim: AppSim, name: string) => sim.slot(name).node!;
const SEEDS = process.env["SEED"] !== undefined ? [Number(process.env["SEED"])] : [31];

test("a recovered generation's leader killed while a node it was adding held only the log's tail: the other voter starts the next generation, and all join it", async () => {
  for (const seed of SEEDS) {
    const sim = await AppSim.start({ seed, nodes: 3, gates: 2, spaces: 3, lot: "raft", callTimeoutMs: 3000 });
    await sim.until(() => raftSettled(sim) && leaderSlot(sim)?.node!.consensus.status().voters.length === 3, 30_000, "three voters");
    await sim.retry(() => node(sim, "n1").app.park(1, "OLD 1"), "park");
    await sim.until(() => raftSettled(sim), 10_000, "the park applied everywhere");
    const g1 = node(sim, "n1").consensus.status().generation;
    // n1 survives; n2 and n3 are killed at once and come back: n1 starts the next generation.
    sim.crash("n2");
    sim.crash("n3");
    await sim.run(300);
    sim.restart("n2");
    sim.restart("n3");
    // The moment n1 (leading the new generation) has a second voter that applied all it committed, and the
    // third node is not yet in its committed configuration: cut that second voter off.
    let second = "";
    await sim.until(() => {
      const s = node(sim, "n1").consensus;
      const st = s.status();
      if (st.generation === g1 || st.role !== "leader") return false;
      const c = s.committedConfig();
      if (c.voters.length !== 2) return false;
      const other = c.voters.find((v) => v.name !== "n1")!.name;
      const third = other === "n2" ? "n3" : "n2";
      if (c.learners.some((l) => l.name === third)) return false;
      if (node(sim, other).consensus.status().applied !== st.commit) return false;
      second = other;
      return true;
    }, 30_000, `n1 leading the new generation with a second voter\n${raftStates(sim)}`, 1);
    const third = second === "n2" ? "n3" : "n2";
    sim.partition([[second], ["n1", third]]);
    const g2 = node(sim, "n1").consensus.status().generation;
    // n1 appends the third node's addition, which cannot commit; the third node takes the tail.
    const commit = node(sim, "n1").consensus.status().commit;
    await sim.until(() => {
      const st = node(sim, third).consensus.status();
      return st.generation === g2 && st.applied === commit;
    }, 5_000, `${third} in the new generation with the log's tail (its addition appended)\n${raftStates(sim)}`, 1);
    expect(node(sim, "n1").consensus.committedConfig().learners.map((l) => l.name)).not.toContain(third);
    sim.crash("n1");
    sim.heal();
    await sim.run(500);
    sim.restart("n1");
    await sim.until(() => raftSettled(sim), 30_000, `seed ${seed}: the next generation, all three in it\n${raftStates(sim)}`);
    const now = leaderSlot(sim)!.node!.consensus.status();
    expect(now.generation).not.toBe(g2);
    for (const n of sim.names()) expect(Object.keys(node(sim, n).app.lotLocal().vehicles)).toEqual(["OLD 1"]);
  }
}, 120_000);

test("two voters: a park the leader committed with the other's ack, the leader killed before it told the other, survives the next generation the other starts", async () => {
  for (const seed of SEEDS) {
    const sim = await AppSim.start({ seed, nodes: 3, gates: 2, spaces: 3, lot: "raft", callTimeoutMs: 3000 });
    await sim.until(() => raftSettled(sim) && leaderSlot(sim)?.node!.consensus.status().voters.length === 3, 30_000, "three voters");
    // Two voters: a 3-node cluster that lost one node for good keeps the two left.
    const victim = sim.names().find((n) => n !== leaderSlot(sim)!.name)!;
    sim.crash(victim);
    await sim.until(() => {
      const l = leaderSlot(sim)?.node!.consensus;
      if (l === undefined || l.committedConfig().voters.length !== 2 || l.core?.config.voters.length !== 2) return false;
      return l.committedConfig().voters.every((v) => node(sim, v.name).consensus.status().applied === l.status().commit);
    }, 30_000, `the crashed voter dropped\n${raftStates(sim)}`);
    const leader = leaderSlot(sim)!.name;
    const other = leaderSlot(sim)!.node!.consensus.committedConfig().voters.find((v) => v.name !== leader)!.name;
    expect(leaderSlot(sim)!.node!.consensus.committedConfig().voters.length).toBe(2);
    // A park through the leader: the moment the leader has it committed (with the other voter's ack)
    // and the other voter does not yet know, kill the leader.
    const before = node(sim, leader).consensus.status().commit;
    const g = node(sim, leader).consensus.status().generation;
    const last = node(sim, other).consensus.core!.log.lastIndex();
    let answer = null as string | null;
    void node(sim, leader).app.park(1, "ACKED 1").then(() => (answer = "ok"), (e: unknown) => (answer = String(e)));
    // Once the other voter holds the park (its ack on the way), nothing more from the leader reaches it.
    await sim.until(() => node(sim, other).consensus.core!.log.lastIndex() > last, 5_000, `the park on the other voter\n${raftStates(sim)}`, 1);
    sim.net.block(sim.address(leader), sim.address(other));
    await sim.until(() => node(sim, leader).consensus.status().commit > before, 5_000, `the park committed on the leader\n${raftStates(sim)}`, 1);
    // The moment this test is about (a seed may run past it: seed 34 does; 31, 32, 33 and 35 reach it).
    expect(node(sim, other).consensus.status().commit).toBeLessThanOrEqual(before);
    sim.crash(leader);
    await sim.run(500); // what it still had on the wire is lost (the block holds until the restart)
    sim.heal();
    sim.restart(leader);
    await sim.until(() => {
      const l = leaderSlot(sim)?.node!.consensus;
      return l !== undefined && l.status().generation !== g && sim.up().every((x) => x.node!.consensus.status().applied === l.status().commit && x.node!.consensus.status().generation === l.status().generation);
    }, 30_000, `seed ${seed}: the next generation\n${raftStates(sim)}`);
    // Whether or not its answer got out, the park was committed: it must be in every replica's lot.
    for (const x of sim.up()) expect(Object.keys(x.node!.app.lotLocal().vehicles)).toEqual(["ACKED 1"]);
    // The leader applied it at its commit and answered: acknowledged, then the leader died.
    expect(answer).toBe("ok");
  }
}, 120_000);
