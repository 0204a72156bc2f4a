/**
 * README, "What roomy promises": a slow node is not a lost write; a person is
 * in at most one room; a room never holds more than its capacity, the lot
 * never more cars than spaces; never a wrong answer; after the node wakes
 * the nodes converge.
 *
 * 3 real nodes (lan profile) under a mixed load (hostile-load.ts: walks
 * between rooms, two with a capacity, parks and unparks on the Raft lot,
 * who-is-in, dumps, the lot and the room list read through every live node).
 * Each node in turn is frozen (SIGSTOP) for 3, 6 and 10 s while the load
 * keeps sending it requests and writes into the rooms it owns, then woken
 * (SIGCONT) and waited for (every node ready). Checked all along and once
 * settled, on every node (see hostile-load.ts).
 *
 * Real processes, ~60 s: `HOSTILE_FREEZE=1 npx bun test --timeout 200000 tests/cluster/hostile-freeze.test.ts`
 * (HOSTILE_BIN=path runs that binary; HOSTILE_FREEZE_S=3,6,10 the freezes; HOSTILE_LOT=crdt the CRDT lot).
 */
import { afterAll, expect, test } from "bun:test";
import { HostileCluster, hostileBinary, sleep } from "./hostile-kit.ts";
import { MixedLoad } from "./hostile-load.ts";

const RUN = process.env["HOSTILE_FREEZE"] === "1";
const FREEZES = (process.env["HOSTILE_FREEZE_S"] ?? "3,6,10").split(",").map(Number);
const LOT = process.env["HOSTILE_LOT"] ?? "raft";

let cluster: HostileCluster | undefined;
afterAll(async () => {
  await cluster?.close();
}, 30_000);

test.skipIf(!RUN)("each node frozen 3-10 s in turn under load: nothing acknowledged lost, nobody in two rooms, no room or lot over capacity, no unknown_room", async () => {
  const c = (cluster = new HostileCluster(await hostileBinary(), ["n1", "n2", "n3"], 26330, ["--spaces", "6", "--gates", "4", "--lot", LOT]));
  await c.start();
  const load = new MixedLoad(c, { rooms: Array.from({ length: 8 }, (_, i) => `room-${i}`), capRooms: { "pair": 2, "trio": 3 }, people: 24, plates: 12, spaces: 6, gates: 4 });
  await load.setUp();
  const timeline: string[] = [];
  const mark = (s: string): void => void timeline.push(`${load.at()} ${s}`);
  load.start();
  try {
    for (let i = 0; i < FREEZES.length; i++) {
      const v = c.nodes[i % c.nodes.length]!;
      await sleep(1_500);
      mark(`SIGSTOP ${v.name} for ${FREEZES[i]} s`);
      v.pause();
      await sleep(FREEZES[i]! * 1_000);
      v.resume();
      mark(`SIGCONT ${v.name}`);
      await c.waitReady(c.nodes, 45_000);
      mark(`all ready`);
    }
    await sleep(1_500);
  } finally {
    for (const n of c.nodes) n.resume();
    await load.stop();
  }
  mark("load stopped");
  await load.settle();
  console.log(timeline.join("\n"));
  console.log(JSON.stringify(load.counts));
  if (load.violations.length > 0) console.log(load.violations.slice(0, 60).join("\n"));
  expect(load.violations).toEqual([]);
}, 240_000);
