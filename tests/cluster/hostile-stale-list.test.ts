/**
 * README, "What roomy promises": never a wrong answer, "a dump with rooms
 * missing"; "where-is, the room list and dumps come only from a node that
 * caught up for its epoch and holds the lease". The lease does not make
 * them whole: a room's creation is acknowledged once a majority holds it
 * (its owner and one more of three), so the third node may merge it later
 * (its copy of the delta lost with a dropped connection and re-sent, or only
 * slow), and meanwhile that node, caught up for its epoch and holding its
 * lease, answers the room list and a full dump from its own index
 * (mesh/apps/rooms.ts: rooms() -> index.rooms(); dumpText() -> room-dump.ts
 * allRooms() -> index.rooms(), then gatherDump asks only those rooms'
 * owners): 200 without a room whose creation was acknowledged before the
 * question was asked. 0c0e8b9 closed this window for `unknown_room` (only
 * a room's owner says a room does not exist), not for the lists.
 *
 * In the simulator, deterministic: the creation's delta from the owner to
 * the third node is dropped once (the replicator re-sends it), the creation
 * is acknowledged by the owner and the other node, then the third node is
 * asked at once. With real processes: hostile-stale-dump.test.ts (a request
 * completed after the acknowledgement, answered by a node waking from a
 * 0.4 s freeze before it merged the creation).
 *
 * Also: where-is on that node answered null right after an acknowledged
 * walk-into it missed; and a leave (written by the node it reaches, not by
 * the room's owner) that the owner missed left the person listed by
 * who-is-in, asked anywhere (forwarded to the owner).
 *
 * Fixed by the read barrier (mesh/registry/read-barrier.ts): these reads
 * first pull from enough holders to make a majority with the reading node.
 * `npx bun test tests/cluster/hostile-stale-list.test.ts` (simulator, under a second).
 */
import { expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";

// In the simulator, under a second: runs by default (HOSTILE_STALE_LIST=1 kept for old scripts).
const RUN = true;
const SEEDS = [1, 2, 3];

async function staleList(seed: number): Promise<{ listed: string; dumped: string; later: string; where: string; afterLeave: string }> {
  const sim = await AppSim.start({ seed: `stale-list-${seed}`, nodes: 3 });
  const z = "n3";
  const registry = sim.slot("n1").parts!.registry;
  // A room that z does not own (its creation is then acknowledged without z).
  let room = "";
  for (let i = 0; room === ""; i++) if (registry.ownerOf(`room:fresh-${i}`) !== z) room = `fresh-${i}`;
  const owner = registry.ownerOf(`room:${room}`);
  const other = sim.names().find((n) => n !== z && n !== owner)!;
  sim.net.dropNextMatching(sim.address(owner), sim.address(z), "d", 1);
  await sim.retry(() => sim.slot(other).node!.app.addRooms([room]), "create the room");
  // Acknowledged. Asked of z now, as a client would right after the ok.
  const app = sim.slot(z).node!.app;
  const show = async (f: () => Promise<string[] | Record<string, string[]>>): Promise<string> => {
    const d = await sim.settle(f(), 5_000);
    if (d.ok !== true) return d.ok === false ? `error ${(d.error as { code?: string }).code}` : "pending";
    const v = d.value;
    return (Array.isArray(v) ? v.includes(room) : Object.hasOwn(v, room)) ? "has it" : "200 WITHOUT IT";
  };
  const listed = await show(() => app.rooms());
  const dumped = await show(() => app.dump());
  await sim.run(3_000);
  const later = await show(() => app.rooms());
  // The same for a person (not asserted: the README lists where-is under the same mechanism).
  sim.net.dropNextMatching(sim.address(owner), sim.address(z), "d", 1);
  await sim.retry(() => sim.slot(other).node!.app.walkInto(room, ["al"]), "walk al in");
  const w = await sim.settle(app.whereIs("al"), 5_000);
  const where = w.ok === true && w.value === room ? "has it" : w.ok === true ? `200 WITHOUT IT: ${JSON.stringify(w.value)}` : "error";
  // A leave is written by the node it reaches, not by the room's owner: the owner (z here) that
  // missed it still lists the person, to a who-is-in asked anywhere (forwarded to it).
  let zRoom = "";
  for (let i = 0; zRoom === ""; i++) if (registry.ownerOf(`room:z-${i}`) === z) zRoom = `z-${i}`;
  await sim.retry(() => sim.slot(other).node!.app.addRooms([zRoom]), "create z's room");
  await sim.retry(() => sim.slot(other).node!.app.walkInto(zRoom, ["bo"]), "walk bo in");
  await sim.until(() => sim.replicasAgree(), 5_000, "replicated");
  sim.net.dropNextMatching(sim.address(other), sim.address(z), "d", 1);
  await sim.retry(() => sim.slot(other).node!.app.leave(["bo"]), "bo leaves");
  const who = await sim.settle(sim.slot(other).node!.app.whoIsIn(zRoom), 5_000);
  const afterLeave = who.ok === true ? (who.value.includes("bo") ? "still lists bo" : "does not list bo") : "error";
  return { listed, dumped, later, where, afterLeave };
}

test.skipIf(!RUN)("a room list or full dump asked of any node after a room's creation was acknowledged holds that room (or answers an error)", async () => {
  const seen: string[] = [];
  for (const seed of SEEDS) {
    const r = await staleList(seed);
    seen.push(`seed ${seed}: rooms ${r.listed}, dump ${r.dumped}, 3 s later rooms ${r.later}; where-is after an acknowledged walk-into ${r.where}; who-is-in (owner lagging) after an acknowledged leave ${r.afterLeave}`);
  }
  console.log(seen.join("\n"));
  expect(seen.filter((s) => s.includes("WITHOUT") || s.includes("still lists"))).toEqual([]);
}, 60_000);
