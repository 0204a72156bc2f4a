/** Rooms and parking through a single node's processes (the App API). */
import { afterEach, describe, expect, test } from "bun:test";
import { codeOf } from "../../support/outcomes.ts";
import { RoomyError } from "../../../core/errors.ts";
import { type Node, startNode } from "../../../mesh/node/node.ts";
import { localCluster } from "../../../mesh/node/parts.ts";

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function node(opts: { gates?: number; spaces?: number; lot?: "raft" | "crdt" } = {}): Promise<Node> {
  const n = await startNode({ name: "t", ...opts });
  nodes.push(n);
  return n;
}

describe("rooms through processes", () => {
  test("the Roomy README sequence dumps as the seed shows", async () => {
    const { app } = await node();
    await app.addRooms(["kitchen", "living_room", "bedroom_king"]);
    await app.walkInto("living_room", ["alan", "james", "lucy"]);
    await app.walkInto("bedroom_king", ["james", "lucy", "jess"]);
    expect(await app.dump(["living_room", "bedroom_king"])).toEqual({ bedroom_king: ["james", "jess", "lucy"], living_room: ["alan"] });
    expect(await app.dump()).toEqual({ bedroom_king: ["james", "jess", "lucy"], kitchen: [], living_room: ["alan"] });
    expect(await app.rooms()).toEqual(["bedroom_king", "kitchen", "living_room"]);
    expect(await app.whoIsIn("living_room")).toEqual(["alan"]);
    expect(await app.whereIs("jess")).toBe("bedroom_king");
    expect(await app.whereIs("nobody")).toBeNull();
  });

  test("every room is a registered process; rooms keep no group keys in the map (the room index is the list)", async () => {
    const n = await node();
    await n.app.addRooms(["b", "a"]);
    expect(n.registry.localNames()).toEqual(expect.arrayContaining(["room:a", "room:b"]));
    expect(n.registry.members("rooms")).toEqual([]);
    // One key per room, nothing per room beside it.
    expect(n.map.state().e.filter((e) => e.k.includes("room:")).length).toBe(0);
  });

  test("concurrent walk-intos never overfill a room", async () => {
    const { app } = await node();
    await app.addRooms(["den"], 5);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => app.walkInto("den", [`p${i}`, `q${i}`])));
    const ok = results.filter((r) => r.status === "fulfilled").length;
    expect(ok).toBe(2);
    for (const r of results) if (r.status === "rejected") expect((r.reason as RoomyError).code).toBe("room_full");
    expect(await app.whoIsIn("den")).toHaveLength(4);
  });

  test("people walking into different rooms at once each end in exactly one room", async () => {
    const { app } = await node();
    const rooms = ["r0", "r1", "r2", "r3"];
    await app.addRooms(rooms);
    const people = Array.from({ length: 30 }, (_, i) => `p${i}`);
    await Promise.all(people.flatMap((p, i) => [app.walkInto(rooms[i % 4]!, [p]), app.walkInto(rooms[(i + 1) % 4]!, [p])]));
    const dump = await app.dump();
    const seen = Object.values(dump).flat();
    expect(seen.sort()).toEqual([...people].sort());
    for (const [room, inside] of Object.entries(dump)) for (const p of inside) expect(await app.whereIs(p)).toBe(room);
  });

  test("unknown rooms are refused without starting a process", async () => {
    const n = await node();
    expect(await codeOf(n.app.walkInto("attic", ["alan"]))).toBe("unknown_room");
    expect(await codeOf(n.app.whoIsIn("attic"))).toBe("unknown_room");
    expect(await codeOf(n.app.dump(["attic"]))).toBe("unknown_room");
    expect(n.registry.localNames().filter((x) => x.startsWith("room:"))).toEqual([]);
  });

  test("a full room leaves everyone where they were", async () => {
    const { app } = await node();
    await app.addRooms(["small"], 1);
    await app.addRooms(["hall"]);
    await app.walkInto("hall", ["alan", "bea"]);
    expect(await codeOf(app.walkInto("small", ["alan", "bea"]))).toBe("room_full");
    expect(await app.dump()).toEqual({ hall: ["alan", "bea"], small: [] });
  });

  test("leave empties rooms and is a no-op for people in none", async () => {
    const { app } = await node();
    await app.addRooms(["a"]);
    await app.walkInto("a", ["x", "y"]);
    await app.leave(["x", "ghost"]);
    expect(await app.whoIsIn("a")).toEqual(["y"]);
  });
});

describe("parking through processes", () => {
  test("50 cars through every gate at once into 5 spaces leave exactly 5 parked", async () => {
    const { app } = await node({ gates: 4, spaces: 5 });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => app.park((i % 4) + 1, `CAR ${i}`)));
    const ok = results.filter((r) => r.status === "fulfilled").length;
    expect(ok).toBe(5);
    for (const r of results) if (r.status === "rejected") expect((r.reason as RoomyError).code).toBe("lot_full");
    const lot = app.lotLocal();
    expect([lot.occupied, lot.available, Object.keys(lot.vehicles).length]).toEqual([5, 0, 5]);
  });

  for (const mode of ["raft", "crdt"] as const) test(`the Parking README (${mode} lot): ABC 123 in at gate 1 and out; 2FAST4U in at gate 3`, async () => {
    const n = await node({ lot: mode });
    await n.app.park(1, "ABC 123");
    await n.app.unpark(1, "ABC 123");
    await n.app.park(3, "2FAST4U");
    const lot = n.app.lotLocal();
    expect(Object.keys(lot.vehicles)).toEqual(["2FAST4U"]);
    expect(lot.vehicles["2FAST4U"]).toMatchObject({ gate: 3, node: "t" });
    expect(Number.isNaN(Date.parse(lot.vehicles["2FAST4U"]!.at))).toBe(false);
    // the CRDT lot keeps cars in the replicated map; the Raft lot in the log's state machine
    if (mode === "crdt") expect(n.map.get("vehicle/2FAST4U")).toBeDefined();
    else expect(n.consensus.status().applied).toBeGreaterThan(3);
  });

  test("gates count their own entries and exits; a repeated park is not an entry", async () => {
    const { app } = await node({ gates: 2 });
    await app.park(1, "A");
    await app.park(2, "A");
    await app.park(2, "B");
    await app.unpark(1, "B");
    const gates = await app.gates();
    expect(gates.map((g) => [g.gate, g.owner, g.entries, g.exits, g.parked])).toEqual([
      [1, "t", 1, 1, 1],
      [2, "t", 1, 0, 0],
    ]);
  });

  test("every gate process runs from the start, as in the seed", async () => {
    const n = await node({ gates: 3 });
    expect(n.registry.localNames()).toEqual(expect.arrayContaining(["gate:1", "gate:2", "gate:3"]));
  });

  test("unknown gates, bad plates and cars not parked are refused", async () => {
    const { app } = await node({ gates: 4 });
    expect(await codeOf(app.park(5, "A"))).toBe("unknown_gate");
    expect(await codeOf(app.park(0, "A"))).toBe("unknown_gate");
    expect(await codeOf(app.park(1, ""))).toBe("invalid_name");
    expect(await codeOf(app.unpark(1, "A"))).toBe("not_parked");
    expect(app.lotLocal().occupied).toBe(0);
  });
});

describe("node lifecycle", () => {
  test("a stopped node is not ready and refuses calls", async () => {
    const n = await startNode({ name: "s" });
    expect(n.isReady()).toBe(true);
    await n.stop();
    expect(n.isReady()).toBe(false);
    expect(await codeOf(n.app.park(1, "A"))).toBe("unavailable");
    await n.stop();
  });

  test("cluster-only settings are carried in the config for the mesh", async () => {
    const n = await node();
    const m = await startNode({ name: "c", join: ["10.0.0.1:4370", "10.0.0.2:4370"], cookie: "s3cret", writeConcern: "majority" });
    nodes.push(m);
    expect(m.config.join).toEqual(["10.0.0.1:4370", "10.0.0.2:4370"]);
    expect([m.config.cookie, m.config.writeConcern]).toEqual(["s3cret", "majority"]);
    expect(n.membership.members().map((x) => [x.name, x.state])).toEqual([["t", "alive"]]);
    expect(await codeOf(startNode({ gates: 0 }))).toBe("bad_request");
    expect(await codeOf(startNode({ bind: "nope" }))).toBe("bad_request");
  });
});

describe("rooms missing from the replica", () => {
  // Chaos seed 1 (with the registry's same-turn answers): a restarted node
  // that reached only another restarted node caught up from its empty
  // replica, reported ready, and answered unknown_room for rooms that exist.
  test("a node the majority does not vouch for answers unavailable, not unknown_room", async () => {
    let vouched = false;
    const n = await startNode({
      name: "cut-off",
      cluster: async (ctx) => {
        const c = await localCluster(ctx);
        return { ...c, registry: { ...c.registry, authoritative: () => vouched } };
      },
    });
    nodes.push(n);
    await n.app.addRooms(["kitchen"]);
    await n.app.walkInto("kitchen", ["ada"]); // a room it holds is served as usual
    expect(await codeOf(n.app.walkInto("attic", ["bob"]))).toBe("unavailable");
    expect(await codeOf(n.app.whoIsIn("attic"))).toBe("unavailable");
    expect(await codeOf(n.app.dump(["attic"]))).toBe("unavailable");
    vouched = true;
    expect(await codeOf(n.app.walkInto("attic", ["bob"]))).toBe("unknown_room");
    expect(await codeOf(n.app.whoIsIn("attic"))).toBe("unknown_room");
    expect(await n.app.whereIs("bob")).toBeNull();
  });
});
