/**
 * Faults on a 3-node cluster of real processes (--profile local): kill -9 of
 * a node in the middle of a stream of writes, its restart, and SIGTERM of
 * another in the middle of a stream. Nothing acknowledged may be lost, a
 * person is never in two rooms, every room stays usable, and the nodes end
 * up identical. One cluster for the whole file; tests run in order.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Cluster, waitFor, waitState, type RoomyProcess } from "../support/cluster.ts";
import { WalkStream } from "./walk-stream.ts";

const ROOMS = ["r1", "r2", "r3", "r4", "r5", "r6"];
const CARS = ["KEEP 1", "KEEP 2", "KEEP 3", "KEEP 4", "KEEP 5", "KEEP 6"];
const DEADLINE = 30_000;
/** How long a room may stay unusable after a node dies (generous: 2 shared cores). */
// Detection takes well under 1 s on the local profile; calls in flight to the
// dead node fail at once then. The margin is for a loaded 2-core machine.
const USABLE_WITHIN_MS = 6_000;
const TEST_TIMEOUT = 150_000;

let cluster: Cluster;
let victim = "";
let streamAfterKill: WalkStream | undefined;

beforeAll(async () => {
  cluster = await Cluster.start({ size: 3, profile: "local", deadlineMs: 60_000 });
  const [n1, n2, n3] = cluster.nodes as [RoomyProcess, RoomyProcess, RoomyProcess];
  await n1.client.addRooms(ROOMS);
  await Promise.all(CARS.map((c, i) => [n1, n2, n3][i % 3]!.client.park((i % 4) + 1, c)));
}, 90_000);

afterAll(async () => {
  await cluster?.close();
}, 30_000);

const running = () => cluster.running();

/** Starts a stream of `n` people walking through `nodes()` and waits for `acks` acknowledged walks. */
async function startStream(prefix: string, n: number, acks: number, nodes: () => RoomyProcess[]): Promise<WalkStream> {
  const people = Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, "0")}`);
  const s = new WalkStream(people, ROOMS, nodes);
  s.start();
  await waitFor(`${acks} acknowledged walks`, () => s.acked() >= acks, { timeoutMs: DEADLINE });
  return s;
}

/** Lets `s` run until `more` further walks are acknowledged, then stops it. */
async function finish(s: WalkStream, more: number): Promise<void> {
  const target = s.acked() + more;
  try {
    await waitFor(`${more} more acknowledged walks`, () => s.acked() >= target, { timeoutMs: DEADLINE });
  } finally {
    await s.stop();
  }
}

interface Usable {
  room: string;
  /** ms from the fault until a walk-into through a survivor succeeded */
  ms: number;
  /** How the first attempt (ordinary client: retries `unavailable` for 5 s) ended, and when. */
  first: string;
}

/**
 * For each room, how long until a walk-into through a survivor succeeds
 * (throws past USABLE_WITHIN_MS). A call in flight to the dead node fails
 * `unavailable` as soon as membership declares it down (not at the 5 s call
 * timeout), so the client's retry reaches the new owner.
 */
async function timeUntilUsable(tag: string, t0: number, nodes: () => RoomyProcess[]): Promise<Usable[]> {
  return Promise.all(
    ROOMS.map(async (room, i) => {
      let attempt = 0;
      let first = "";
      await waitFor(`room ${room} to take a walk-into through a survivor`, async () => {
        const ns = nodes();
        const n = ns[attempt++ % ns.length]!;
        try {
          await n.client.walkInto(room, [`${tag}-${room}`]);
          first ||= `ok@${Date.now() - t0}ms`;
        } catch (err) {
          first ||= `${err instanceof Error ? err.message.slice(0, 60) : String(err)}@${Date.now() - t0}ms`;
          throw err;
        }
        return true;
      }, { timeoutMs: USABLE_WITHIN_MS, intervalMs: 50 + i });
      return { room, ms: Date.now() - t0, first };
    }),
  );
}

const showUsable = (u: Usable[]): string => u.map((x) => `${x.room} ${x.ms}ms (first try: ${x.first})`).join("; ");

/**
 * Polls until `nodes` answer the same dump; every dump read must show no lost
 * acknowledged walk and nobody twice. Returns the agreed dump.
 */
async function convergedWithoutLoss(s: WalkStream, nodes: RoomyProcess[]): Promise<Record<string, string[]>> {
  const problems = new Set<string>();
  const dump = await waitFor(`${nodes.map((p) => p.name).join(",")} to answer the same dump`, async () => {
    const dumps = await Promise.all(nodes.map((p) => p.client.dump()));
    dumps.forEach((d, i) => s.lostIn(d).forEach((x) => problems.add(`${nodes[i]!.name}: ${x}`)));
    const texts = dumps.map((d) => JSON.stringify(d));
    if (texts.some((t) => t !== texts[0])) throw new Error(`dumps differ: ${texts.join(" / ")}`);
    return dumps[0]!;
  }, { timeoutMs: DEADLINE });
  expect([...problems]).toEqual([]);
  return dump;
}

/** where-is on each node agrees with a dump (polled: it reads the node's replica). */
async function whereIsAgrees(s: WalkStream, dump: Record<string, string[]>, nodes: RoomyProcess[]): Promise<void> {
  const where = new Map<string, string>();
  for (const [room, people] of Object.entries(dump)) for (const p of people) where.set(p, room);
  for (const node of nodes) {
    await waitFor(`${node.name}'s where-is to agree with the dump`, async () => {
      const answers = await Promise.all(s.people.map((p) => node.client.whereIs(p)));
      const wrong = s.people.filter((p, i) => answers[i] !== (where.get(p) ?? null));
      if (wrong.length > 0) throw new Error(`${wrong.length} differ, e.g. ${wrong[0]}: ${answers[s.people.indexOf(wrong[0]!)]} vs ${where.get(wrong[0]!)}`);
      return true;
    }, { timeoutMs: DEADLINE });
  }
}

describe("kill -9 and restart", () => {
  test("kill -9 during a stream of walks loses no acknowledged walk, and every room takes a walk through a survivor within seconds", async () => {
    // The victim runs gate 1, so the gate has to move.
    victim = (await cluster.nodes[0]!.client.gates()).find((g) => g.gate === 1)!.owner;
    const s = await startStream("k", 24, 100, () => cluster.nodes);
    streamAfterKill = s;
    const t0 = Date.now();
    await cluster.node(victim).kill();
    const survivors = () => running();
    let usable: Usable[] = [];
    try {
      usable = await timeUntilUsable("after-kill", t0, survivors);
    } finally {
      await finish(s, 100);
    }
    console.info(
      `[faults] kill -9 ${victim}: ${s.acked()} walks acknowledged, failures ${JSON.stringify(s.failures())}; ` +
        `rooms usable again: ${showUsable(usable)}`,
    );
    const dump = await convergedWithoutLoss(s, survivors());
    await whereIsAgrees(s, dump, survivors());
    await waitState(survivors(), victim, ["dead"], { timeoutMs: DEADLINE });
  }, TEST_TIMEOUT);

  test("the killed node's gates move to the survivors, and the cars parked before are all still in the lot", async () => {
    expect(victim).not.toBe("");
    const survivors = running();
    const names = survivors.map((p) => p.name);
    for (const p of survivors) {
      await waitFor(`${p.name} to place every gate on a survivor`, async () => {
        const gates = await p.client.gates();
        const stray = gates.filter((g) => !names.includes(g.owner));
        if (stray.length > 0) throw new Error(`gates on ${stray.map((g) => `${g.gate}@${g.owner}`).join(",")}`);
        return true;
      }, { timeoutMs: DEADLINE });
      const lot = await p.client.lot();
      expect(Object.keys(lot.vehicles).sort()).toEqual(CARS);
      // The gates' counters are replicated with the cars: the kill lost none.
      const counts = (await p.client.gates()).map((g) => [g.entries, g.exits]);
      expect(counts).toEqual([[2, 0], [2, 0], [1, 0], [1, 0]]);
    }
    // Every gate admits and releases through every survivor.
    for (let gate = 1; gate <= 4; gate++) {
      const p = survivors[gate % survivors.length]!;
      await p.client.park(gate, `MOVED ${gate}`);
      await p.client.unpark(gate, `MOVED ${gate}`);
    }
    const after = (await survivors[0]!.client.gates()).map((g) => [g.entries, g.exits]);
    expect(after).toEqual([[3, 1], [3, 1], [2, 1], [2, 1]]);
  }, TEST_TIMEOUT);

  test("the restarted node catches up: all three dumps, raw map keys and entries become identical, with every acknowledged walk", async () => {
    expect(victim).not.toBe("");
    await cluster.restart(victim);
    await cluster.waitConverged({ timeoutMs: DEADLINE });
    const s = streamAfterKill!;
    const dump = await convergedWithoutLoss(s, cluster.nodes);
    await whereIsAgrees(s, dump, cluster.nodes);
    await waitFor("identical raw maps on all three nodes", async () => {
      const maps = await Promise.all(cluster.nodes.map((p) => p.client.crdt()));
      const keys = maps.map((m) => JSON.stringify(Object.keys(m.entries).sort()));
      if (keys.some((k) => k !== keys[0])) throw new Error(`key sets differ: sizes ${maps.map((m) => Object.keys(m.entries).length).join(",")}`);
      const entries = maps.map((m) => JSON.stringify(Object.keys(m.entries).sort().map((k) => [k, m.entries[k]])));
      if (entries.some((e) => e !== entries[0])) throw new Error("same keys, different entries");
      return true;
    }, { timeoutMs: DEADLINE });
    const lot = await cluster.node(victim).client.lot();
    expect(Object.keys(lot.vehicles).sort()).toEqual(CARS);
  }, TEST_TIMEOUT);
});

describe("SIGTERM", () => {
  test("SIGTERM during a stream of walks drains and exits 0; nothing acknowledged is lost and the others see it left", async () => {
    await cluster.waitConverged({ timeoutMs: DEADLINE });
    // Not the node just restarted: drain one that has run all along.
    const leaving = cluster.names().find((n) => n !== victim)!;
    const s = await startStream("t", 24, 100, () => running());
    const t0 = Date.now();
    let code: number | null = null;
    let usable: Usable[] = [];
    try {
      code = await cluster.node(leaving).terminate(DEADLINE);
      usable = await timeUntilUsable("after-term", t0, running);
    } finally {
      await finish(s, 50);
    }
    console.info(
      `[faults] SIGTERM ${leaving}: exit ${code}; ${s.acked()} walks acknowledged, failures ${JSON.stringify(s.failures())}; ` +
        `rooms usable (from the signal): ${showUsable(usable)}`,
    );
    expect(code).toBe(0);
    const survivors = running();
    expect(survivors.map((p) => p.name)).not.toContain(leaving);
    const dump = await convergedWithoutLoss(s, survivors);
    await whereIsAgrees(s, dump, survivors);
    await waitState(survivors, leaving, ["left"], { timeoutMs: DEADLINE });
    for (const p of survivors) expect(Object.keys((await p.client.lot()).vehicles).sort()).toEqual(CARS);
  }, TEST_TIMEOUT);
});
