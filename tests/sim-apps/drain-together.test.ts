/**
 * README, "What roomy promises": nothing lost on SIGTERM (the node drains).
 * Several nodes told to stop at the same moment (`kubectl scale`, a
 * StatefulSet with parallel pod management, `pkill roomy` on two machines)
 * must leave the rest a cluster that serves, not a configuration of voters
 * that are gone.
 *
 * Found with real processes (3 nodes, SIGTERM to two of them at once): each
 * draining node counted as gone, so the leader's next configuration (drop
 * one of them) had only itself as a live voter of two and was never
 * proposed; both drains waited out their 10 s and exited; the survivor was
 * left with voters {n1, n2, n3}, "no majority of voters: 1 of 3 alive",
 * every walk-into, park and dump `unavailable`, for good. Now a draining
 * voter still counts towards committing the change that drops it
 * (mesh/consensus/reconfigure.ts `answering`), so the leader drops them one
 * at a time while they still acknowledge.
 */
import { describe, expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";

const ROOMS = ["r1", "r2", "r3", "r4", "r5", "r6"];

interface Load {
  acked: Map<string, string>;
  parked: string[];
}

/** Rooms made, one person walked into each through every node, and a car parked through each (`rooms: false`: cars only, so no node owns a process). */
async function load(sim: AppSim, rooms = true): Promise<Load> {
  const acked = new Map<string, string>();
  const parked: string[] = [];
  if (rooms) await sim.retry(() => sim.slot("n1").node!.app.addRooms(ROOMS), "rooms");
  for (const via of sim.names()) {
    for (const room of rooms ? ROOMS : []) {
      const person = `${via}-${room}`;
      await sim.retry(() => sim.slot(via).node!.app.walkInto(room, [person]), `walk ${person}`);
      acked.set(person, room);
    }
    const plate = `CAR-${via}`;
    await sim.retry(() => sim.slot(via).node!.app.park(1, plate), `park ${plate}`);
    parked.push(plate);
  }
  return { acked, parked };
}

/**
 * Stops `names` at the same virtual instant and waits for every drain to
 * end. Each drain must end only once the committed configuration drops it
 * (others are left to take over): a voter gone before that can leave the
 * rest without a majority; and well before its timeout.
 */
async function stopTogether(sim: AppSim, names: string[]): Promise<void> {
  const stillHeld: string[] = [];
  const slow: string[] = [];
  const stopped = new Set<string>();
  const t0 = sim.clock.now();
  const stops = names.map((n) => {
    const node = sim.slot(n).node!;
    return node.stop().then(() => {
      stopped.add(n);
      // Well inside the drain timeout (10 s), which only a drain that waited in vain reaches.
      const ms = sim.clock.now() - t0;
      if (ms > 6_000) slow.push(`${n} took ${ms} ms`);
      // The newest configuration any node still running has seen committed
      // (a leader among the draining may have committed it and told this
      // node in a notice before the survivors heard of the commit).
      const running = sim.names().filter((s) => s !== n && !stopped.has(s) && sim.slot(s).node !== null);
      const c = running.map((s) => sim.slot(s).node!.consensus.committedConfig()).sort((a, b) => b.epoch - a.epoch)[0]!;
      if ([...c.voters, ...c.learners].some((s) => s.name === n)) stillHeld.push(`${n} (epoch ${c.epoch})`);
    });
  });
  const done = await sim.settle(Promise.all(stops), 60_000);
  expect(done.ok).toBe(true);
  expect(stillHeld).toEqual([]);
  expect(slow).toEqual([]);
  for (const n of names) sim.crash(n); // the processes exit
}

/** Every survivor serves alone what the cluster acknowledged: voters are the survivors, reads and writes answer. */
async function expectServing(sim: AppSim, survivors: string[], before: Load): Promise<void> {
  for (const s of survivors) {
    await sim.until(() => {
      const c = sim.slot(s).node!.consensus.committedConfig();
      return c.voters.every((v) => survivors.includes(v.name)) && c.learners.every((v) => survivors.includes(v.name));
    }, 15_000, `${s}'s configuration holds only the survivors`);
  }
  await sim.retry(() => sim.slot(survivors[0]!).node!.app.addRooms(ROOMS), "rooms after");
  for (const s of survivors) {
    const app = sim.slot(s).node!.app;
    const walk = await sim.settle(app.walkInto("r1", [`after-${s}`]), 10_000);
    expect({ s, walk: walk.ok }).toEqual({ s, walk: true });
    const dump = await sim.settle(app.dump(), 10_000);
    if (dump.ok !== true) throw new Error(`${s}: dump ${JSON.stringify(dump)}`);
    const where = new Map<string, string>();
    for (const [room, people] of Object.entries(dump.value)) for (const p of people) where.set(p, room);
    const lost = [...before.acked].filter(([p, room]) => where.get(p) !== room);
    expect({ s, lost }).toEqual({ s, lost: [] });
    const lot = await sim.settle(app.lot(), 10_000);
    if (lot.ok !== true) throw new Error(`${s}: lot ${JSON.stringify(lot)}`);
    expect({ s, missing: before.parked.filter((p) => !(p in lot.value.vehicles)) }).toEqual({ s, missing: [] });
  }
}

/** One gate (its process on one node): the two nodes that run no process drain at once, and the third serves. */
async function idleTwoOfThree(sim: AppSim): Promise<void> {
  const before = await load(sim, false);
  const idle = sim.names().filter((n) => sim.slot(n).parts!.registry.localNames().length === 0);
  expect(idle).toHaveLength(2);
  await stopTogether(sim, idle);
  await expectServing(sim, sim.names().filter((n) => !idle.includes(n)), before);
}

describe("nodes told to stop at the same moment", () => {
  test("two of three drain at once: the third serves alone with every acknowledged write and the lot", async () => {
    const sim = await AppSim.start({ seed: 41, nodes: 3, lot: "raft" });
    const before = await load(sim);
    await stopTogether(sim, ["n2", "n3"]);
    await expectServing(sim, ["n1"], before);
  }, 60_000);

  test("two of three that own no process drain at once (nothing to hand off): they still wait to be dropped, and the third serves", async () => {
    await idleTwoOfThree(await AppSim.start({ seed: 44, nodes: 3, lot: "raft", gates: 1 }));
  }, 60_000);

  test("two of three that own no process drain at once and their leave is announced at once: each still stays until the configuration drops it", async () => {
    // leave() waits up to leaveTimeoutMs for its announcement to spread; with
    // that near zero nothing but the drain's own wait keeps a voter around.
    await idleTwoOfThree(await AppSim.start({ seed: 46, nodes: 3, lot: "raft", gates: 1, membership: { leaveTimeoutMs: 1 } }));
  }, 60_000);

  test("the one voter of two drains: it promotes the learner first, hands leadership over, and the learner serves alone", async () => {
    const sim = await AppSim.start({ seed: 45, nodes: 2, lot: "raft" });
    const before = await load(sim);
    const c = sim.slot("n1").node!.consensus.committedConfig();
    expect(c.voters.length).toBe(1);
    const voter = c.voters[0]!.name;
    await stopTogether(sim, [voter]);
    await expectServing(sim, sim.names().filter((n) => n !== voter), before);
  }, 60_000);

  test("the leader and another of three drain at once: the third serves alone", async () => {
    const sim = await AppSim.start({ seed: 42, nodes: 3, lot: "raft" });
    const before = await load(sim);
    const leader = sim.slot("n1").node!.consensus.status().leader!;
    const other = sim.names().find((n) => n !== leader)!;
    await stopTogether(sim, [leader, other]);
    await expectServing(sim, sim.names().filter((n) => n !== leader && n !== other), before);
  }, 60_000);

  test("all five voters of six drain at once (a swap): the learner is promoted, takes the lead, and serves alone", async () => {
    const sim = await AppSim.start({ seed: 47, nodes: 6, lot: "raft" });
    const before = await load(sim);
    const c = sim.slot("n1").node!.consensus.committedConfig();
    expect({ voters: c.voters.length, learners: c.learners.length }).toEqual({ voters: 5, learners: 1 });
    await stopTogether(sim, c.voters.map((v) => v.name));
    await expectServing(sim, c.learners.map((v) => v.name), before);
  }, 60_000);

  test("two of three voters drain while two learners are live: the learners vote before the drained go, so a kill -9 of the last voter midway still leaves a majority", async () => {
    // Dropping first went {n1, n2, n3} -> {n1, n3}: killing n1 then left the
    // draining n3 alone of two, and the learners a configuration nobody could change.
    const sim = await AppSim.start({ seed: 48, nodes: 5, lot: "raft", maxVoters: 3 });
    const before = await load(sim);
    await sim.until(() => sim.replicasAgree(), 15_000, "replicas agree");
    const leader = sim.slot("n1").node!.consensus.status().leader!;
    const c = sim.slot(leader).node!.consensus.committedConfig();
    expect({ voters: c.voters.length, learners: c.learners.length }).toEqual({ voters: 3, learners: 2 });
    const going = c.voters.map((v) => v.name).filter((n) => n !== leader);
    const stops = going.map((n) => sim.slot(n).node!.stop());
    await sim.until(() => {
      const now = sim.slot(leader).node!.consensus.committedConfig().voters.map((v) => v.name);
      return going.some((n) => !now.includes(n));
    }, 15_000, "a draining voter dropped");
    sim.crash(leader);
    expect((await sim.settle(Promise.all(stops), 60_000)).ok).toBe(true);
    for (const n of going) sim.crash(n);
    await expectServing(sim, c.learners.map((v) => v.name), before);
  }, 60_000);

  test("three of five, the leader among them, drain at once: the other two serve", async () => {
    const sim = await AppSim.start({ seed: 43, nodes: 5, lot: "raft" });
    const before = await load(sim);
    const leader = sim.slot("n1").node!.consensus.status().leader!;
    const rest = sim.names().filter((n) => n !== leader);
    const going = [leader, rest[0]!, rest[2]!];
    await stopTogether(sim, going);
    await expectServing(sim, sim.names().filter((n) => !going.includes(n)), before);
  }, 60_000);
});
