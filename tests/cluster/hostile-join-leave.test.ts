/**
 * README, "What roomy promises" and "What survives what": nodes come and go
 * (a 4th node joins, drains away on SIGTERM, comes back, is killed -9, comes
 * back; a voter is killed while the 4th is in, so the learner is promoted)
 * and nothing acknowledged is lost, nobody is in two rooms, no room or the
 * lot is over capacity, no `unknown_room`, and every node ends with the
 * same dump and lot.
 *
 * 3 real nodes plus a 4th (lan profile) under the mixed load of
 * hostile-load.ts, one change at a time, each waited for (every running node
 * ready) before the next.
 *
 * Real processes, ~60 s: `HOSTILE_JOIN_LEAVE=1 npx bun test --timeout 200000 tests/cluster/hostile-join-leave.test.ts`
 * (HOSTILE_BIN=path runs that binary; HOSTILE_CYCLES=n join/leave cycles, default 3; HOSTILE_LOT=crdt the CRDT lot).
 */
import { afterAll, expect, test } from "bun:test";
import { HostileCluster, hostileBinary, sleep } from "./hostile-kit.ts";
import { MixedLoad } from "./hostile-load.ts";

const RUN = process.env["HOSTILE_JOIN_LEAVE"] === "1";
const CYCLES = Number(process.env["HOSTILE_CYCLES"] ?? 3);
const LOT = process.env["HOSTILE_LOT"] ?? "raft";

let cluster: HostileCluster | undefined;
afterAll(async () => {
  await cluster?.close();
}, 30_000);

test.skipIf(!RUN)("a 4th node joining, draining, killed and rejoining under load, and a voter killed while it is in: nothing lost, nothing wrong", async () => {
  const c = (cluster = new HostileCluster(await hostileBinary(), ["n1", "n2", "n3", "n4"], 26350, ["--spaces", "6", "--gates", "4", "--lot", LOT]));
  const [n1, n2, n3, n4] = c.nodes;
  // The first three form the cluster; n4 joins later (it knows them all).
  await Promise.all([n1!, n2!, n3!].map((n) => n.start(c.bin, c.seeds(n.name).filter((s) => s !== n4!.mesh))));
  await c.waitReady([n1!, n2!, n3!], 60_000);
  const load = new MixedLoad(c, { rooms: Array.from({ length: 8 }, (_, i) => `room-${i}`), capRooms: { pair: 2, trio: 3 }, people: 24, plates: 12, spaces: 6, gates: 4 });
  await load.setUp();
  const timeline: string[] = [];
  const mark = (s: string): void => void timeline.push(`${load.at()} ${s}`);
  const settle = async (what: string): Promise<void> => {
    await c.waitReady(c.live(), 45_000);
    mark(`${what}; ready: ${c.live().map((n) => n.name).join(",")}`);
    await sleep(1_500);
  };
  load.start();
  try {
    for (let i = 0; i < CYCLES; i++) {
      await c.restart("n4");
      await settle("n4 joined");
      const code = await n4!.child!.terminate(30_000);
      await settle(`n4 drained (exit ${code})`);
      await c.restart("n4");
      await settle("n4 joined again");
      await n4!.kill();
      await settle("n4 killed -9");
    }
    // A voter killed while n4 is in: n4 is promoted, and the voter comes back as a learner.
    await c.restart("n4");
    await settle("n4 joined");
    await n2!.kill();
    await settle("n2 killed -9");
    await c.restart("n2");
    await settle("n2 back");
  } finally {
    await load.stop();
  }
  mark("load stopped");
  await load.settle();
  console.log(timeline.join("\n"));
  console.log(JSON.stringify(load.counts));
  if (load.violations.length > 0) console.log(load.violations.slice(0, 60).join("\n"));
  expect(load.violations).toEqual([]);
}, 280_000);
