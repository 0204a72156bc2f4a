/**
 * README, "What roomy promises": nothing lost on SIGTERM. Nodes told to stop
 * at the same moment (`kubectl scale`, parallel pod management, `pkill
 * roomy` on two machines) leave the rest a cluster that serves everything
 * acknowledged before, not a configuration of voters that are gone.
 *
 * Seen before (3 nodes under walk-ins and parks, SIGTERM to n2 and n3 at
 * once): both drains waited out their 10 s and exited; n1 was left with
 * voters {n1, n2, n3}, `no majority of voters: 1 of 3 alive`, every
 * walk-into, park and dump `unavailable`, for good (only `roomy recover
 * --force` would have ended it). Now a draining voter still counts towards
 * committing the change that drops it, and stays until it is dropped.
 * Simulator twin: tests/sim-apps/drain-together.test.ts.
 *
 * Real processes on loopback, ~10-20 s (HOSTILE_BIN=path runs that binary). Ports 28060-28065.
 */
import { afterAll, expect, test } from "bun:test";
import { ConsensusCluster, type Node, sleep, until } from "./consensus-procs.ts";
import { hostileBinary } from "./hostile-kit.ts";

const ROOMS = Array.from({ length: 12 }, (_, i) => `room-${i}`);
const three = new ConsensusCluster({ names: ["n1", "n2", "n3"], basePort: 28060, profile: "lan", args: ["--spaces", "100000", "--gates", "4"] });

afterAll(async () => {
  await three.close();
}, 30_000);

interface Acked {
  people: Map<string, string>;
  cars: Set<string>;
}

/** Four clients walking new people in and parking through every node in turn, until `stop()`. */
function startLoad(nodes: Node[]): { acked: Acked; stop(): Promise<void> } {
  const acked: Acked = { people: new Map(), cars: new Set() };
  let running = true;
  let seq = 0;
  const client = async (k: number): Promise<void> => {
    while (running) {
      const s = seq++;
      const n = nodes[s % nodes.length]!;
      if (!n.alive) continue;
      const person = `p${k}-${s}`;
      const room = ROOMS[s % ROOMS.length]!;
      const w = await n.call("POST", "/v1/walk-into", { room, people: [person] }, 6_000);
      if (w.ok) acked.people.set(person, room);
      if (s % 4 === 0) {
        const plate = `C${k}-${s}`;
        if ((await n.park(1 + (s % 4), plate, 6_000)).ok) acked.cars.add(plate);
      }
    }
  };
  const clients = [0, 1, 2, 3].map(client);
  return {
    acked,
    async stop() {
      running = false;
      await Promise.all(clients);
    },
  };
}

test("two of three nodes, the Raft leader among them, sent SIGTERM at the same moment: both exit 0, and the third serves every acknowledged walk-into and park", async () => {
  const bin = await hostileBinary();
  const [n1, ...rest] = three.nodes as [Node, Node, Node];
  await n1.start(bin, []);
  await Promise.all(rest.map((n) => n.start(bin, [n1.mesh])));
  await until("all ready", async () => ((await Promise.all(three.nodes.map((n) => n.ready()))).every(Boolean) ? true : undefined), 40_000, 20);
  expect((await n1.call("POST", "/v1/rooms", { rooms: ROOMS }, 5_000)).ok).toBe(true);
  const { leader } = await three.agreedLeader(three.nodes, 10_000, 3);
  const going = [three.node(leader), three.nodes.find((n) => n.name !== leader)!];
  const staying = three.nodes.find((n) => !going.includes(n))!;

  const load = startLoad(three.nodes);
  await sleep(1_500);
  const exits = await Promise.all(going.map(async (n) => {
    const t0 = Date.now();
    const code = await n.terminate(30_000);
    return { name: n.name, ms: Date.now() - t0, code };
  }));
  await until(`${staying.name} ready alone`, async () => ((await staying.ready()) ? true : undefined), 15_000, 50);
  await load.stop();
  console.log(`[drain-together] stopped ${exits.map((e) => `${e.name} in ${e.ms} ms`).join(", ")}; acknowledged ${load.acked.people.size} walk-ins, ${load.acked.cars.size} parks`);

  expect(exits.map((e) => e.code)).toEqual([0, 0]);
  // Neither waited out its drain timeout (10 s: a drain that waited in vain).
  expect(exits.filter((e) => e.ms > 9_000)).toEqual([]);
  const view = await staying.consensus();
  expect({ voters: view.voters, learners: view.learners, unavailable: view.unavailable }).toEqual({ voters: [staying.name], learners: [], unavailable: null });
  // Writes and reads answer, and hold everything acknowledged before.
  expect((await staying.call("POST", "/v1/walk-into", { room: ROOMS[0], people: ["after"] }, 5_000)).ok).toBe(true);
  expect((await staying.park(1, "AFTER", 5_000)).ok).toBe(true);
  const dump = await staying.call<Record<string, string[]>>("GET", "/v1/dump", undefined, 10_000);
  if (!dump.ok) throw new Error(`dump: ${dump.code} ${dump.message}`);
  const where = new Map<string, string>();
  for (const [room, people] of Object.entries(dump.body)) for (const p of people) where.set(p, room);
  expect([...load.acked.people].filter(([p, room]) => where.get(p) !== room)).toEqual([]);
  const lot = await staying.lot(5_000);
  if (!lot.ok) throw new Error(`lot: ${lot.code} ${lot.message}`);
  expect([...load.acked.cars].filter((c) => !(c in lot.body.vehicles))).toEqual([]);
  expect(load.acked.people.size).toBeGreaterThan(100);
}, 120_000);
