/**
 * The seeds' scenarios on a 3-node cluster of real processes, each step
 * through a different node, and the invariants under concurrency: a person
 * is in exactly one room, a room never holds more than its capacity, the lot
 * never holds more cars than spaces, whichever nodes and gates are used.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RoomyError } from "../../core/errors.ts";
import { Cluster, waitFor, type RoomyProcess } from "../support/cluster.ts";
import { cli } from "../cli/helpers.ts";

const SPACES = 5;
const GATES = 4;
const TEST_TIMEOUT = 120_000;

let cluster: Cluster;
let n1: RoomyProcess, n2: RoomyProcess, n3: RoomyProcess;
/** `roomy ARGS --node URL` through one node. */
const via = (p: RoomyProcess, ...args: string[]) => cli([...args, "--node", p.url]);

beforeAll(async () => {
  cluster = await Cluster.start({ size: 3, profile: "local", args: ["--spaces", String(SPACES), "--gates", String(GATES)], deadlineMs: 60_000 });
  [n1, n2, n3] = cluster.nodes as [RoomyProcess, RoomyProcess, RoomyProcess];
}, 90_000);

afterAll(async () => {
  await cluster?.close();
}, 30_000);

/** The error code a promise rejects with, or "ok". */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return err instanceof RoomyError ? err.code : `no answer: ${String(err)}`;
  }
}

/** Every person listed once at most; returns person -> room. */
function roomsOf(dump: Record<string, string[]>): Map<string, string> {
  const where = new Map<string, string>();
  for (const [room, people] of Object.entries(dump)) {
    for (const p of people) {
      if (where.has(p)) throw new Error(`${p} is in ${where.get(p)} and ${room}: ${JSON.stringify(dump)}`);
      where.set(p, room);
    }
  }
  return where;
}

/** Polls until every node answers the same dump; every read on the way must show each person once. */
async function agreedDump(): Promise<Record<string, string[]>> {
  const violations: string[] = [];
  const dump = await waitFor("the same dump from every node", async () => {
    const dumps = await Promise.all(cluster.nodes.map((p) => p.client.dump()));
    for (const d of dumps) {
      try {
        roomsOf(d);
      } catch (err) {
        violations.push((err as Error).message);
      }
    }
    const texts = dumps.map((d) => JSON.stringify(d));
    if (texts.some((t) => t !== texts[0])) throw new Error(`dumps differ: ${texts.join(" / ")}`);
    return dumps[0]!;
  }, { timeoutMs: 20_000 });
  expect(violations).toEqual([]);
  return dump;
}

describe("the seeds through different nodes", () => {
  test("Roomy README: rooms added on one node, people walked in on two others, the same dump everywhere", async () => {
    expect(await via(n1, "add-rooms", "kitchen", "living_room", "bedroom_king")).toEqual({ code: 0, stdout: "ok\n", stderr: "" });
    expect(await via(n2, "walk-into", "living_room", "alan", "james", "lucy")).toEqual({ code: 0, stdout: "ok\n", stderr: "" });
    expect(await via(n3, "walk-into", "bedroom_king", "james", "lucy", "jess")).toEqual({ code: 0, stdout: "ok\n", stderr: "" });
    for (const p of cluster.nodes) {
      expect(await via(p, "dump", "living_room", "bedroom_king")).toEqual({
        code: 0,
        stdout: '{"bedroom_king":["james","jess","lucy"],"living_room":["alan"]}\n',
        stderr: "",
      });
      expect((await via(p, "rooms")).stdout).toBe("bedroom_king\nkitchen\nliving_room\n");
      expect((await via(p, "who-is-in", "bedroom_king")).stdout).toBe("james\njess\nlucy\n");
      expect((await via(p, "where-is", "alan", "--json")).stdout).toBe('{"room":"living_room"}\n');
    }
    expect((await via(n2, "dump")).stdout).toBe('{"bedroom_king":["james","jess","lucy"],"kitchen":[],"living_room":["alan"]}\n');
  }, TEST_TIMEOUT);

  test("HouseParty: a full room answers room_full through another node, and the person stays where they were", async () => {
    expect((await via(n1, "add-rooms", "bathroom", "--capacity", "1")).code).toBe(0);
    expect((await via(n2, "walk-into", "bathroom", "alan")).code).toBe(0);
    const full = await via(n3, "walk-into", "bathroom", "jess");
    expect(full.code).toBe(1);
    expect(full.stdout).toBe("");
    expect(full.stderr).toStartWith("roomy: room_full:");
    const asJson = await via(n1, "walk-into", "bathroom", "jess", "--json");
    expect(asJson.code).toBe(1);
    expect((JSON.parse(asJson.stderr) as { error: { code: string } }).error.code).toBe("room_full");
    for (const p of cluster.nodes) {
      expect((await via(p, "who-is-in", "bathroom")).stdout).toBe("alan\n");
      expect((await via(p, "where-is", "jess")).stdout).toBe("bedroom_king\n");
    }
  }, TEST_TIMEOUT);

  test("Parking README: a car parked through one node is in the lot read through the others", async () => {
    expect(await via(n1, "park", "1", "ABC 123")).toEqual({ code: 0, stdout: "ok\n", stderr: "" });
    // The Raft lot (the default): a read through any node sees an acknowledged park at once.
    for (const p of [n2, n3]) {
      const lot = JSON.parse((await via(p, "lot", "--json")).stdout) as { vehicles: Record<string, unknown> };
      expect(Object.keys(lot.vehicles)).toEqual(["ABC 123"]);
    }
    expect((await via(n2, "unpark", "1", "ABC 123")).code).toBe(0);
    expect((await via(n3, "park", "3", "2FAST4U")).code).toBe(0);
    for (const p of cluster.nodes) {
      const lot = JSON.parse((await via(p, "lot", "--json")).stdout) as { spaces: number; occupied: number; available: number; vehicles: Record<string, { gate: number; node: string }> };
      expect(lot).toMatchObject({ spaces: SPACES, occupied: 1, available: SPACES - 1 });
      expect(Object.keys(lot.vehicles)).toEqual(["2FAST4U"]);
      expect(lot.vehicles["2FAST4U"]!.gate).toBe(3);
      expect(cluster.names()).toContain(lot.vehicles["2FAST4U"]!.node);
    }
    // Every gate runs on some member of the cluster.
    const gates = await n1.client.gates();
    expect(gates.map((g) => g.gate)).toEqual([1, 2, 3, 4]);
    for (const g of gates) expect(cluster.names()).toContain(g.owner);
    expect((await via(n1, "unpark", "3", "2FAST4U")).code).toBe(0);
  }, TEST_TIMEOUT);
});

describe("concurrency across nodes", () => {
  test("40 people sent concurrently into two rooms through two nodes end in exactly one room each, the same on every node", async () => {
    await n1.client.addRooms(["north", "south"]);
    const people = Array.from({ length: 40 }, (_, i) => `guest${String(i).padStart(2, "0")}`);
    // Each person is sent into both rooms at once: north through n1, south through n2.
    const results = await Promise.all(
      people.flatMap((p) => [outcome(n1.client.walkInto("north", [p])), outcome(n2.client.walkInto("south", [p]))]),
    );
    expect(results.filter((r) => r !== "ok")).toEqual([]);
    const dump = await agreedDump();
    const where = roomsOf(dump);
    for (const p of people) expect(["north", "south"]).toContain(where.get(p)!);
    expect(dump["north"]!.length + dump["south"]!.length).toBe(40);
    // where-is agrees with the dump on every node.
    for (const node of cluster.nodes) {
      await waitFor(`${node.name}'s where-is to agree with the dump`, async () => {
        const answers = await Promise.all(people.map((p) => node.client.whereIs(p)));
        const wrong = people.filter((p, i) => answers[i] !== where.get(p));
        if (wrong.length > 0) throw new Error(`${wrong.length} differ, e.g. ${wrong[0]}`);
        return true;
      });
    }
  }, TEST_TIMEOUT);

  test("a room of capacity 3 admits exactly 3 of 12 people sent concurrently through three nodes", async () => {
    await n2.client.addRooms(["attic"], 3);
    const people = Array.from({ length: 12 }, (_, i) => `climber${String(i).padStart(2, "0")}`);
    const nodes = cluster.nodes;
    const results = await Promise.all(people.map((p, i) => outcome(nodes[i % 3]!.client.walkInto("attic", [p]))));
    expect(results.filter((r) => r === "ok").length).toBe(3);
    expect(results.filter((r) => r === "room_full").length).toBe(9);
    const admitted = people.filter((_, i) => results[i] === "ok").sort();
    const dump = await agreedDump();
    expect(dump["attic"]).toEqual(admitted);
  }, TEST_TIMEOUT);

  test("20 cars through 4 gates on 3 nodes into 5 spaces: exactly 5 parked, 15 lot_full, the same lot on every node", async () => {
    const before = await n1.client.lot();
    expect(before.occupied).toBe(0);
    const cars = Array.from({ length: 20 }, (_, i) => `CAR ${String(i).padStart(2, "0")}`);
    const nodes = cluster.nodes;
    const results = await Promise.all(cars.map((c, i) => outcome(nodes[i % 3]!.client.park((i % GATES) + 1, c))));
    expect(results.filter((r) => r === "ok").length).toBe(SPACES);
    expect(results.filter((r) => r === "lot_full").length).toBe(20 - SPACES);
    const parked = cars.filter((_, i) => results[i] === "ok").sort();
    const lot = await waitFor("the same lot on every node", async () => {
      const lots = await Promise.all(cluster.nodes.map((p) => p.client.lot()));
      for (const l of lots) if (l.occupied > l.spaces) throw new Error(`over capacity: ${JSON.stringify(l)}`);
      const texts = lots.map((l) => JSON.stringify(l));
      if (texts.some((t) => t !== texts[0])) throw new Error(`lots differ: ${texts.join(" / ")}`);
      return lots[0]!;
    }, { timeoutMs: 20_000 });
    expect(lot).toMatchObject({ spaces: SPACES, occupied: SPACES, available: 0 });
    expect(Object.keys(lot.vehicles).sort()).toEqual(parked);
    for (const [plate, v] of Object.entries(lot.vehicles)) {
      const i = cars.indexOf(plate);
      expect(v.gate).toBe((i % GATES) + 1);
    }
    // The gates counted what they let in.
    const gates = await n3.client.gates();
    expect(gates.reduce((s, g) => s + g.parked, 0)).toBe(SPACES);
  }, TEST_TIMEOUT);
});
