/**
 * With learners, the voters' majority and the data holders' majority can
 * end up on opposite sides of a cut: voters n1..n3, learners n4, n5, cut
 * {two voters} | {the third voter, n4, n5}. Neither side may then take the
 * other's names: the voters' side could change the configuration but holds
 * 2 of 5 holders; the other side holds 3 of 5 but cannot change it. Found by
 * the chaos workload's 3-voter seeds: the voters' side dropped the far
 * side's holders as dead ("a majority of the holders gone: do not block")
 * and served under its new epoch while the far side still served under the
 * old one: stale reads, rooms served by two nodes at once.
 */
import { expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";

const ROOMS = ["r1", "r2", "r3", "r4", "r5", "r6"];

test("a cut between the voters' majority and the holders' majority: no name served on both sides, no acknowledged write lost, everything served again after the heal", async () => {
  const sim = await AppSim.start({ seed: 49, nodes: 5, maxVoters: 3 });
  await sim.retry(() => sim.slot("n1").node!.app.addRooms(ROOMS), "rooms");
  const leader = sim.slot("n1").node!.consensus.status().leader!;
  const c = sim.slot(leader).node!.consensus.committedConfig();
  expect({ voters: c.voters.length, learners: c.learners.length }).toEqual({ voters: 3, learners: 2 });
  const voters = c.voters.map((v) => v.name).sort();
  const votersSide = voters.slice(0, 2);
  const holdersSide = sim.names().filter((n) => !votersSide.includes(n));
  const acked = new Map<string, string>();
  const walk = async (via: string, room: string, person: string): Promise<void> => {
    const r = await sim.settle(sim.slot(via).node!.app.walkInto(room, [person]), 6_000);
    if (r.ok === true) acked.set(person, room);
  };
  for (const room of ROOMS) await walk(sim.names()[0]!, room, `before-${room}`);

  sim.partition([votersSide, holdersSide]);
  const twice: string[] = [];
  const start = sim.clock.now();
  let i = 0;
  while (sim.clock.now() - start < 12_000) {
    const via = sim.names()[i % 5]!;
    const room = ROOMS[i % ROOMS.length]!;
    const w = walk(via, room, `cut-${i}`);
    await sim.run(200);
    for (const d of sim.duplicateProcesses()) if (!twice.includes(d)) twice.push(d);
    await w;
    i++;
  }
  expect(twice).toEqual([]);
  sim.heal();
  await sim.until(() => sim.quiet(), 30_000, "quiet after the heal");
  for (const s of sim.names()) {
    const dump = await sim.settle(sim.slot(s).node!.app.dump(), 10_000);
    if (dump.ok !== true) throw new Error(`${s}: dump ${JSON.stringify(dump)}`);
    const where = new Map<string, string>();
    for (const [room, people] of Object.entries(dump.value)) for (const p of people) where.set(p, room);
    const lost = [...acked].filter(([p, room]) => where.get(p) !== room).map(([p]) => p);
    expect({ s, lost }).toEqual({ s, lost: [] });
  }
}, 60_000);

test("a 2-node cluster whose learner crashes: the voter drops it and serves alone (half the holders away cannot serve anything)", async () => {
  const sim = await AppSim.start({ seed: 50, nodes: 2 });
  await sim.retry(() => sim.slot("n1").node!.app.addRooms(ROOMS), "rooms");
  for (const room of ROOMS) await sim.retry(() => sim.slot("n2").node!.app.walkInto(room, [`p-${room}`]), `walk ${room}`);
  const cfg = sim.slot("n1").node!.consensus.committedConfig();
  expect({ voters: cfg.voters.length, learners: cfg.learners.length }).toEqual({ voters: 1, learners: 1 });
  const voter = cfg.voters[0]!.name;
  sim.crash(cfg.learners[0]!.name);
  const app = sim.slot(voter).node!.app;
  await sim.retry(() => app.walkInto("r1", ["after"]), "a walk-into on the voter alone", 15_000);
  const dump = await sim.settle(app.dump(), 10_000);
  if (dump.ok !== true) throw new Error(`dump ${JSON.stringify(dump)}`);
  expect(dump.value["r1"]).toEqual(["after", "p-r1"].sort());
}, 60_000);
