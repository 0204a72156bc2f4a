/**
 * README, "Running a cluster": "Every node runs the same command. The first
 * one needs nothing; the others name any node already in the cluster" (its
 * three-node example starts n1 without --join). README, "What survives
 * what": one node crashes (of 3+), nothing lost; "one failure at a time,
 * each repaired (the node back ...) is what roomy survives"; never a wrong
 * answer (`unknown_room` for a room that exists, a dump with rooms
 * missing); `roomy lot` is linearizable, "a read sees every write
 * acknowledged before it, on any node". And "Serving rights": a node
 * started without --join waits out a lease window because "an earlier life
 * of it under the same name (crashed, restarted)" may exist, so restarting
 * the first node with its own command is a case the README means to cover.
 *
 * Found (hostA, binary at 37277dd): kill -9 of that first node, or its drain
 * (SIGTERM, a rolling restart), and its restart with the same command (no
 * --join) never heals.
 * mesh/consensus/generation.ts tick(): a node with no seeds and no live peer
 * at its first tick bootstraps a generation of its own at once; when n2 and
 * n3 (whose seed is n1) reach it a second later, it only logs ERROR "another
 * generation is alive beside ours ... end one with `roomy recover --force`"
 * and stays in it, while the old generation's leader adds the new n1 as a
 * learner of ITS configuration. Then, for as long as we watched (minutes):
 *  - n1's GET /v1/lot answers 200 `{"occupied":0,"vehicles":{}}` without
 *    the car whose park the cluster acknowledged (a lot of its own: voters
 *    [n1]);
 *  - n1 owns names in the old configuration but serves none of them (its
 *    lease is counted in the other generation): every full dump on n2 and
 *    n3 answers `unavailable` ("node n1 ... did not answer"), and so does
 *    every walk into a room n1 owns, and every park through a gate it owns;
 *  - restarting n1 once more with `--join` of the others heals it all.
 * Worse, when n2 and n3 reach the new n1 only after its 1.65 s wait (the
 * mesh's redial of a dead member, or, once they forgot it, their periodic
 * rejoin of their seed: every 3 s in the local profile, every 10 s in lan),
 * n1 serves its empty generation alone meanwhile: 200 `[]` for the room
 * list, `unknown_room` for who-is-in of an existing room, `{"room":null}`
 * for where-is, `{}` for a full dump (lan, restarted 1 s after the kill: at
 * +1.85 s in one run of two; local profile, restarted 25 s after the kill:
 * in 3 of 5 rounds, for 1.3-3 s each).
 *
 * The first two tests fail at 37277dd (deterministic: the split is reached
 * in every run); the third is a race on the rejoin timer (each round ~40%),
 * so it runs several rounds and stops at the first wrong answer.
 * At 06623e5 (a seedless node waits one rejoin period and two probe rounds,
 * 3.4 s in the local profile, before it starts alone) the first two pass and
 * the third failed once in 10 rounds (hostA, 3 runs): n1 served alone from
 * +3.4 s (200 `[]`, `unknown_room`), the others' rejoin having come later
 * than the wait (it dials a lost seed once a period, so the margin is the
 * two probe rounds minus the dial's own time and the timers' drift on a
 * busy machine).
 *
 * Real processes: `HOSTILE=1 npx bun test --timeout 300000 tests/cluster/hostile-first-node-restart.test.ts`
 * (~40 s, ~40 s and ~2 min; HOSTILE_BIN=path runs that binary; HOSTILE_FIRST_ROUNDS=n rounds of the second, default 4).
 * Ports 26500-26505.
 */
import { afterEach, expect, test } from "bun:test";
import { LoopbackNode, request, sleep, until } from "../support/procs.ts";
import { hostileBinary } from "./hostile-kit.ts";

const RUN = process.env["HOSTILE"] === "1" || process.env["HOSTILE_FIRST_RESTART"] === "1";
const ROUNDS = Number(process.env["HOSTILE_FIRST_ROUNDS"] ?? 4);
const ROOMS = Array.from({ length: 12 }, (_, i) => `r${i}`);
const person = (i: number): string => `p${i}`;
/** The dump every node must answer (or refuse): p_i in r_i. */
const EXPECTED = Object.fromEntries(ROOMS.map((r, i): [string, string[]] => [r, [person(i)]]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))); // a dump lists rooms sorted

let nodes: LoopbackNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
  nodes = [];
});

/** The README's three nodes: n1 alone, n2 and n3 joining n1. */
async function readmeCluster(profile: string): Promise<{ bin: string; n1: LoopbackNode; n2: LoopbackNode; n3: LoopbackNode }> {
  const bin = await hostileBinary();
  const args = ["--profile", profile];
  const [n1, n2, n3] = [new LoopbackNode("n1", 26500, 26501, args), new LoopbackNode("n2", 26502, 26503, args), new LoopbackNode("n3", 26504, 26505, args)];
  nodes = [n1, n2, n3];
  await n1.start(bin, []);
  await n2.start(bin, [n1.mesh]);
  await n3.start(bin, [n1.mesh]);
  await until("n1, n2, n3 ready", async () => ((await Promise.all(nodes.map((n) => n.ready()))).every(Boolean) ? true : undefined), 60_000, 100);
  const add = await request(`${n2.url}/v1/rooms`, { body: { rooms: ROOMS }, timeoutMs: 8_000 });
  expect(add.code).toBe("ok");
  for (let i = 0; i < ROOMS.length; i++) {
    const via = i % 2 === 0 ? n2 : n3;
    const w = await request(`${via.url}/v1/walk-into`, { body: { room: ROOMS[i], people: [person(i)] }, timeoutMs: 8_000 });
    expect(w.code).toBe("ok");
  }
  return { bin, n1, n2, n3 };
}

/** n1's rooms reads now: each 200 that the acknowledged writes rule out, as text. */
async function wrongRoomReads(n1: LoopbackNode, at: number): Promise<string[]> {
  const [rooms, who, where, dump] = await Promise.all([
    request<string[]>(`${n1.url}/v1/rooms`, { timeoutMs: 6_000 }),
    request<string[]>(`${n1.url}/v1/who-is-in?room=${ROOMS[0]}`, { timeoutMs: 6_000 }),
    request<{ room: string | null }>(`${n1.url}/v1/where-is?person=${person(0)}`, { timeoutMs: 6_000 }),
    request(`${n1.url}/v1/dump`, { timeoutMs: 6_000 }),
  ]);
  const wrong: string[] = [];
  if (rooms.code === "ok" && JSON.stringify(rooms.body) !== JSON.stringify(ROOMS.slice().sort())) wrong.push(`+${at} ms rooms 200 ${JSON.stringify(rooms.body)}`);
  if (who.code === "unknown_room" || (who.code === "ok" && JSON.stringify(who.body) !== JSON.stringify([person(0)]))) wrong.push(`+${at} ms who-is-in ${ROOMS[0]} ${who.code} ${JSON.stringify(who.body)}`);
  if (where.code === "ok" && where.body?.room !== ROOMS[0]) wrong.push(`+${at} ms where-is ${person(0)} 200 ${JSON.stringify(where.body)}`);
  if (dump.code === "ok" && JSON.stringify(dump.body) !== JSON.stringify(EXPECTED)) wrong.push(`+${at} ms dump 200 ${JSON.stringify(dump.body)}`);
  return wrong;
}

/**
 * n1 stopped (kill -9, or drained with SIGTERM, as in a rolling restart) and
 * started again with its first command: watched for 30 s, n1 must give no
 * wrong answer and every node's dump and lot must come back whole.
 */
async function restartFirstNode(stop: "kill" | "term"): Promise<void> {
  const { bin, n1, n2, n3 } = await readmeCluster("lan");
  const park = await request(`${n2.url}/v1/gates/1/park`, { body: { plate: "CAR1" }, timeoutMs: 8_000 });
  expect(park.code).toBe("ok");

  if (stop === "kill") await n1.kill();
  else await n1.terminate();
  await sleep(1_000);
  await n1.start(bin, []); // the same command as its first start
  const started = Date.now();

  const wrong: string[] = [];
  let whole = false;
  let last = "";
  while (Date.now() - started < 30_000 && wrong.length < 20) {
    const at = Date.now() - started;
    wrong.push(...(await wrongRoomReads(n1, at)));
    const lots = await Promise.all(nodes.map((n) => request<{ vehicles: Record<string, unknown> }>(`${n.url}/v1/lot`, { timeoutMs: 6_000 })));
    lots.forEach((l, i) => {
      if (l.code === "ok" && !("CAR1" in (l.body?.vehicles ?? {}))) wrong.push(`+${at} ms ${nodes[i]!.name} lot 200 without CAR1 ${JSON.stringify(l.body)}`);
    });
    const dumps = await Promise.all([n1, n2, n3].map((n) => request(`${n.url}/v1/dump`, { timeoutMs: 6_000 })));
    last = dumps.map((d, i) => `${nodes[i]!.name}: ${d.code} ${d.code === "ok" ? JSON.stringify(d.body) : d.message}`).join("\n");
    if (dumps.every((d) => d.code === "ok" && JSON.stringify(d.body) === JSON.stringify(EXPECTED)) && lots.every((l) => l.code === "ok")) {
      whole = true;
      break;
    }
    await sleep(200);
  }
  const consensus = await Promise.all(nodes.map((n) => request(`${n.url}/v1/consensus`, { timeoutMs: 3_000 })));
  const seen = `wrong answers (${wrong.length}):\n${wrong.slice(0, 10).join("\n")}\nlast dumps:\n${last}\nconsensus:\n${consensus.map((c) => JSON.stringify(c.body)).join("\n")}`;
  expect({ wrong: wrong.slice(0, 10), whole }, seen).toEqual({ wrong: [], whole: true });
}

test.skipIf(!RUN)("the README's first node (no --join) kill -9'd and restarted with the same command: no wrong answer from it, and within 30 s every node's dump is whole and its lot holds the acknowledged car", async () => {
  await restartFirstNode("kill");
}, 120_000);

test.skipIf(!RUN)("the same drained (SIGTERM, a rolling restart) and restarted with the same command", async () => {
  await restartFirstNode("term");
}, 120_000);

test.skipIf(!RUN)("the same restarted after the others forgot it (local profile, 25 s after its kill): n1 never answers 200 without the rooms, or unknown_room", async () => {
  const { bin, n1 } = await readmeCluster("local");
  const wrong: string[] = [];
  let rounds = 0;
  for (; rounds < ROUNDS && wrong.length === 0; rounds++) {
    await n1.kill();
    await sleep(25_000); // past the local profile's tombstone (20 s): only the seeds' rejoin (3 s) finds it now
    await n1.start(bin, []);
    const started = Date.now();
    while (Date.now() - started < 7_000) {
      wrong.push(...(await wrongRoomReads(n1, Date.now() - started)));
      await sleep(50);
    }
  }
  expect(wrong.slice(0, 12), `after ${rounds} restarts of n1: ${wrong.length} wrong answers from it`).toEqual([]);
}, 240_000);
