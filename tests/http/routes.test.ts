/** Every route's answer, and the typed client over them. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RoomyError } from "../../core/errors.ts";
import { createClient, NoNodeError } from "../../http/client.ts";
import { call, servedNode, type Served_ } from "./harness.ts";

let s: Served_;
let notReady = false;

beforeAll(async () => {
  s = await servedNode({ name: "h1", gates: 3, spaces: 10 }, { ready: () => !notReady });
});
afterAll(async () => {
  await s?.stop();
});

const j = (v: unknown) => JSON.stringify(v);

describe("routes", () => {
  test("health and readiness, with the readiness hook", async () => {
    expect(await call(s.url, "GET", "/healthz")).toMatchObject({ status: 200, json: { ok: true, node: "h1" } });
    expect(await call(s.url, "GET", "/readyz")).toMatchObject({ status: 200, json: { ready: true } });
    notReady = true;
    expect(await call(s.url, "GET", "/readyz")).toMatchObject({ status: 503, json: { ready: false } });
    notReady = false;
  });

  test("rooms: add, list, walk into, who is in, where is, leave, dump", async () => {
    expect((await call(s.url, "POST", "/v1/rooms", j({ rooms: ["den", "hall"], capacity: 3 }))).json).toEqual({ ok: true });
    expect((await call(s.url, "GET", "/v1/rooms")).json).toEqual(["den", "hall"]);
    expect((await call(s.url, "POST", "/v1/rooms/den/walk-into", j({ people: ["bo", "al"] }))).json).toEqual({ ok: true });
    expect((await call(s.url, "POST", "/v1/walk-into", j({ room: "hall", people: ["cy"] }))).json).toEqual({ ok: true });
    expect((await call(s.url, "GET", "/v1/rooms/den/people")).json).toEqual(["al", "bo"]);
    expect((await call(s.url, "GET", "/v1/who-is-in?room=hall")).json).toEqual(["cy"]);
    expect((await call(s.url, "GET", "/v1/people/al/room")).json).toEqual({ room: "den" });
    expect((await call(s.url, "GET", "/v1/where-is?person=zed")).json).toEqual({ room: null });
    expect((await call(s.url, "POST", "/v1/leave", j({ people: ["bo"] }))).json).toEqual({ ok: true });
    expect((await call(s.url, "GET", "/v1/dump?room=den")).text).toBe('{"den":["al"]}');
    expect((await call(s.url, "GET", "/v1/dump")).text).toBe('{"den":["al"],"hall":["cy"]}');
  });

  test("dump prints rooms sorted even when names look like numbers", async () => {
    await call(s.url, "POST", "/v1/rooms", j({ rooms: ["9", "10", "a"] }));
    const text = (await call(s.url, "GET", "/v1/dump?room=a&room=9&room=10")).text;
    expect(text).toBe('{"10":[],"9":[],"a":[]}');
  });

  test("names with slashes, spaces and dots travel intact", async () => {
    const c = createClient(s.url);
    const odd = ["a/b", "with space", ".", "..", "%41", "ünï €"];
    await c.addRooms(odd);
    for (const r of odd) {
      await c.walkInto(r, [`${r}-p`]);
      expect(await c.whoIsIn(r)).toEqual([`${r}-p`]);
      expect(await c.whereIs(`${r}-p`)).toBe(r);
    }
    expect((await call(s.url, "GET", `/v1/rooms/${encodeURIComponent("a/b")}/people`)).json).toEqual(["a/b-p"]);
  });

  test("parking: park, unpark, lot, gates", async () => {
    expect((await call(s.url, "POST", "/v1/gates/1/park", j({ plate: "ABC 123" }))).json).toEqual({ ok: true });
    expect((await call(s.url, "POST", "/v1/gates/3/park", j({ plate: "2FAST4U" }))).json).toEqual({ ok: true });
    expect((await call(s.url, "POST", "/v1/gates/2/unpark", j({ plate: "ABC 123" }))).json).toEqual({ ok: true });
    const lot = (await call(s.url, "GET", "/v1/lot")).json as { spaces: number; occupied: number; available: number; vehicles: Record<string, unknown> };
    expect([lot.spaces, lot.occupied, lot.available]).toEqual([10, 1, 9]);
    expect(lot.vehicles).toEqual({ "2FAST4U": { gate: 3, at: expect.any(String), node: "h1" } });
    const gates = (await call(s.url, "GET", "/v1/gates")).json;
    expect(gates).toEqual([
      { gate: 1, owner: "h1", entries: 1, exits: 0, parked: 0 },
      { gate: 2, owner: "h1", entries: 0, exits: 1, parked: 0 },
      { gate: 3, owner: "h1", entries: 1, exits: 0, parked: 1 },
    ]);
  });

  test("members, node and the raw map", async () => {
    expect((await call(s.url, "GET", "/v1/cluster/members")).json).toEqual([{ name: "h1", address: "127.0.0.1:4370", state: "alive", incarnation: 0 }]);
    expect((await call(s.url, "GET", "/v1/node")).json).toMatchObject({ name: "h1", ready: true, mesh: null, gates: 3, spaces: 10 });
    const crdt = (await call(s.url, "GET", "/v1/crdt")).json as { node: string; entries: Record<string, { v?: unknown; d?: boolean; ts: { n: string } }> };
    expect(crdt.node).toBe("h1");
    expect(crdt.entries["person/al"]?.v).toBe("den");
    expect(crdt.entries["person/bo"]?.d).toBe(true);
    expect(crdt.entries["person/al"]?.ts.n).toBe(s.node.id);
    const keys = Object.keys(crdt.entries);
    expect(keys).toEqual([...keys].sort());
  });
});

describe("client", () => {
  test("an error answer becomes a RoomyError with the node's code", async () => {
    const c = createClient(s.url);
    const err = await c.walkInto("nowhere", ["x"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoomyError);
    expect((err as RoomyError).code).toBe("unknown_room");
  });

  test("no answer at all becomes a NoNodeError", async () => {
    const c = createClient("http://127.0.0.1:1", { timeoutMs: 2000 });
    expect(await c.rooms().catch((e: unknown) => e)).toBeInstanceOf(NoNodeError);
  });

  test("a server that answers in something other than HTTP (a mesh port given as --node) is a NoNodeError that says where the admin API is", async () => {
    const { createServer } = await import("node:net");
    const srv = createServer((sock) => sock.end(Buffer.from([0, 0, 0, 12, 0xa2, 0x61, 0x74, 0x65, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x61, 0x76, 0x01])));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const port = (srv.address() as { port: number }).port;
      const err = await createClient(`http://127.0.0.1:${port}`, { timeoutMs: 2000 }).rooms().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NoNodeError);
      expect((err as Error).message).toContain("the answer was not HTTP: is that a mesh address (--bind");
      expect((err as Error).message).not.toContain("verbose"); // the runtime's own advice is left out
    } finally {
      srv.close();
    }
  });

  test("unavailable is retried until the deadline, then surfaces", async () => {
    let calls = 0;
    const fakeFetch = (async () => {
      calls++;
      return new Response(j({ error: { code: "unavailable", message: "later" } }), { status: 503 });
    }) as unknown as typeof fetch;
    const c = createClient("http://x", { retryForMs: 300, fetch: fakeFetch });
    const err = await c.rooms().catch((e: unknown) => e);
    expect((err as RoomyError).code).toBe("unavailable");
    expect(calls).toBeGreaterThan(1);
  });
});
