/** The seeds' own examples, typed at the CLI against a real node. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cli, killAll, spawnNode, type SpawnedNode, spawnReadyNode } from "./helpers.ts";

let n: SpawnedNode;
const roomy = (...args: string[]) => cli([...args, "--node", n.url]);

beforeAll(async () => {
  n = await spawnReadyNode(["--name", "seed1"]);
});
afterAll(() => killAll());

describe("Roomy README", () => {
  test("rooms, walks and the dump of two rooms", async () => {
    expect(await roomy("add-rooms", "kitchen", "living_room", "bedroom_king")).toEqual({ code: 0, stdout: "ok\n", stderr: "" });
    expect((await roomy("walk-into", "living_room", "alan", "james", "lucy")).stdout).toBe("ok\n");
    expect((await roomy("walk-into", "bedroom_king", "james", "lucy", "jess")).stdout).toBe("ok\n");
    const dump = await roomy("dump", "living_room", "bedroom_king");
    expect(dump).toEqual({ code: 0, stdout: '{"bedroom_king":["james","jess","lucy"],"living_room":["alan"]}\n', stderr: "" });
    expect((await roomy("rooms")).stdout).toBe("bedroom_king\nkitchen\nliving_room\n");
    expect((await roomy("rooms", "--json")).stdout).toBe('["bedroom_king","kitchen","living_room"]\n');
    expect((await roomy("who-is-in", "bedroom_king")).stdout).toBe("james\njess\nlucy\n");
    expect((await roomy("who-is-in", "kitchen", "--json")).stdout).toBe("[]\n");
    expect((await roomy("where-is", "alan")).stdout).toBe("living_room\n");
    expect((await roomy("where-is", "alan", "--json")).stdout).toBe('{"room":"living_room"}\n');
    expect(await roomy("where-is", "nobody")).toEqual({ code: 0, stdout: "", stderr: "" });
    expect((await roomy("where-is", "nobody", "--json")).stdout).toBe('{"room":null}\n');
    expect((await roomy("dump")).stdout).toBe('{"bedroom_king":["james","jess","lucy"],"kitchen":[],"living_room":["alan"]}\n');
  });

  test("leave takes people out of whatever room they are in", async () => {
    await roomy("add-rooms", "porch");
    await roomy("walk-into", "porch", "zoe", "yan");
    expect((await roomy("leave", "zoe", "never-here", "--json")).stdout).toBe('{"ok":true}\n');
    expect((await roomy("who-is-in", "porch")).stdout).toBe("yan\n");
  });
});

describe("HouseParty capacity", () => {
  test("a full room answers room_full, exit 1, and everyone stays where they were", async () => {
    expect((await roomy("add-rooms", "bathroom", "--capacity", "1")).code).toBe(0);
    await roomy("add-rooms", "lounge");
    await roomy("walk-into", "lounge", "ann", "ben");
    expect((await roomy("walk-into", "bathroom", "ann")).code).toBe(0);
    const full = await roomy("walk-into", "bathroom", "ben");
    expect(full.code).toBe(1);
    expect(full.stdout).toBe("");
    expect(full.stderr).toContain("room_full");
    const jsonErr = await roomy("walk-into", "bathroom", "ben", "--json");
    expect(JSON.parse(jsonErr.stderr)).toEqual({ error: { code: "room_full", message: expect.any(String) } });
    expect(JSON.parse((await roomy("dump", "bathroom", "lounge")).stdout)).toEqual({ bathroom: ["ann"], lounge: ["ben"] });
    // add-rooms leaves an existing room's capacity as it is.
    await roomy("add-rooms", "bathroom", "--capacity", "5");
    expect((await roomy("walk-into", "bathroom", "ben")).code).toBe(1);
  });

  test("walking into an unknown room answers unknown_room and moves nobody", async () => {
    const r = await roomy("walk-into", "attic", "ann");
    expect([r.code, r.stderr.includes("unknown_room")]).toEqual([1, true]);
    expect((await roomy("where-is", "ann")).stdout).toBe("bathroom\n");
  });
});

describe("Parking README", () => {
  test("ABC 123 enters at gate 1 and leaves; 2FAST4U enters at gate 3 and is all that remains", async () => {
    expect((await roomy("park", "1", "ABC 123")).stdout).toBe("ok\n");
    expect((await roomy("unpark", "1", "ABC 123")).stdout).toBe("ok\n");
    expect((await roomy("park", "3", "2FAST4U")).stdout).toBe("ok\n");
    const lot = await roomy("lot", "--json");
    expect(lot.code).toBe(0);
    const parsed = JSON.parse(lot.stdout) as { spaces: number; occupied: number; available: number; vehicles: Record<string, { gate: number; at: string; node: string }> };
    expect(Object.keys(parsed)).toEqual(["spaces", "occupied", "available", "vehicles"]);
    expect([parsed.spaces, parsed.occupied, parsed.available]).toEqual([100, 1, 99]);
    expect(parsed.vehicles).toEqual({ "2FAST4U": { gate: 3, at: expect.any(String), node: "seed1" } });
    const human = (await roomy("lot")).stdout;
    expect(human).toStartWith("spaces: 100, occupied: 1, available: 99\n");
    expect(human).toContain("2FAST4U");
    expect(human).not.toContain("ABC 123");
    // The default lot is raft: the cars live in the log's state machine, not in the replicated map.
    const consensus = JSON.parse((await roomy("consensus", "--json")).stdout) as { lot: string; commit: number };
    expect(consensus.lot).toBe("raft");
    expect(consensus.commit).toBeGreaterThanOrEqual(3);
    const crdt = JSON.parse((await roomy("crdt")).stdout) as { entries: Record<string, unknown> };
    expect(Object.keys(crdt.entries).filter((k) => k.startsWith("vehicle/"))).toEqual([]);
  });

  test("with --lot crdt the same cars are in the replicated map too (roomy crdt)", async () => {
    const c = await spawnNode(["--name", "seed2", "--lot", "crdt"]);
    const r = (...args: string[]) => cli([...args, "--node", c.url]);
    expect((await r("park", "3", "2FAST4U")).stdout).toBe("ok\n");
    expect(JSON.parse((await r("lot", "--json")).stdout).vehicles).toEqual({ "2FAST4U": { gate: 3, at: expect.any(String), node: "seed2" } });
    const crdt = JSON.parse((await r("crdt")).stdout) as { entries: Record<string, unknown> };
    expect(Object.keys(crdt.entries)).toContain("vehicle/2FAST4U");
    c.proc.kill("SIGKILL");
  });

  test("parking a car already parked is a no-op; an unknown gate is unknown_gate", async () => {
    expect((await roomy("park", "2", "2FAST4U")).code).toBe(0);
    const gate = await roomy("park", "9", "NEW");
    expect([gate.code, gate.stderr.includes("unknown_gate")]).toEqual([1, true]);
    const notParked = await roomy("unpark", "1", "GHOST");
    expect([notParked.code, notParked.stderr.includes("not_parked")]).toEqual([1, true]);
    expect(JSON.parse((await roomy("lot", "--json")).stdout).occupied).toBe(1);
  });

  test("gates and members print tables", async () => {
    const gates = (await roomy("gates")).stdout.split("\n");
    expect(gates[0]).toMatch(/^GATE\s+OWNER\s+ENTRIES\s+EXITS\s+PARKED$/);
    expect(gates).toHaveLength(6);
    const members = (await roomy("members")).stdout.split("\n");
    expect(members[0]).toMatch(/^NAME\s+ADDRESS\s+STATE\s+INCARNATION$/);
    // Bound to port 0, the mesh reports the port it got.
    expect(members[1]).toMatch(/^seed1\s+127\.0\.0\.1:[1-9]\d*\s+alive\s+0$/);
    const json: unknown = JSON.parse((await roomy("members", "--json")).stdout);
    expect(json).toEqual([{ name: "seed1", address: expect.stringMatching(/^127\.0\.0\.1:[1-9]\d*$/), state: "alive", incarnation: 0 }]);
  });
});

describe("a small lot", () => {
  let small: SpawnedNode;
  beforeAll(async () => {
    small = await spawnNode(["--spaces", "2", "--name", "small"]);
  });

  test("refuses a car beyond its spaces with lot_full", async () => {
    const at = ["--node", small.url];
    expect((await cli(["park", "1", "A", ...at])).code).toBe(0);
    expect((await cli(["park", "2", "B", ...at])).code).toBe(0);
    const third = await cli(["park", "3", "C", ...at]);
    expect([third.code, third.stderr.includes("lot_full")]).toEqual([1, true]);
    expect(JSON.parse((await cli(["lot", "--json", ...at])).stdout)).toMatchObject({ spaces: 2, occupied: 2, available: 0 });
    expect((await cli(["unpark", "1", "A", ...at])).code).toBe(0);
    expect((await cli(["park", "3", "C", ...at])).code).toBe(0);
  });
});
