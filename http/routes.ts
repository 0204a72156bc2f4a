/**
 * The /v1 admin API: every operation of CONTRACT.md. Names travel in the
 * path (RESTful, for people with curl) or, for the operations that take one,
 * also in the query or body: "." and ".." cannot survive a URL path (clients
 * normalise them away), so the typed client always uses the latter forms.
 */
import type { Context } from "hono";
import type { Node } from "../mesh/node.ts";
import { listField, readJson, requiredField } from "./body.ts";
import type { Routes } from "./instrument.ts";
import { orderedJson } from "./json.ts";

export interface RouteOptions {
  maxBodyBytes: number;
  /** The server refuses bodies past a hard cap itself (see readJson). */
  serverCapped: boolean;
}

/** A path parameter of the matched route (always present there). */
const param = (c: Context, name: string): string => c.req.param(name) ?? "";

const JSON_TYPE = "application/json; charset=utf-8";

/** JSON text with sorted name-keyed objects (see json.ts). */
export function sendJson(_c: Context | null, value: unknown, status = 200): Response {
  // A plain Response: cheaper than c.body() on the hot path, and no header from the context is wanted.
  return new Response(orderedJson(value), { status, headers: { "content-type": JSON_TYPE } });
}

const OK_TEXT = orderedJson({ ok: true });
const OK_INIT: ResponseInit = { status: 200, headers: { "content-type": JSON_TYPE } };

/** `{"ok":true}`, the answer of every write: its text made once. */
function ok(): Response {
  return new Response(OK_TEXT, OK_INIT);
}

// Names from bodies are `unknown`: the app checks every one (invalid_name),
// so the casts below only satisfy the type checker.
type Names = string[];

export function registerV1(app: Routes, node: Node, opts: RouteOptions): void {
  const a = node.app;
  const body = (c: Context) => readJson(c.req.raw, opts.maxBodyBytes, opts.serverCapped);

  app.get("/v1/node", (c) =>
    sendJson(c, {
      name: node.name,
      id: node.id,
      ready: node.isReady(),
      mesh: node.meshAddress(),
      gates: node.config.gates,
      spaces: node.config.spaces,
    }),
  );

  // Rooms.
  app.post("/v1/rooms", async (c) => {
    const b = await body(c);
    await a.addRooms(listField(b, "rooms") as Names, b["capacity"] as number | null | undefined);
    return ok();
  });
  app.get("/v1/rooms", (c) => sendJson(c, a.rooms()));
  app.post("/v1/rooms/:room/walk-into", async (c) => {
    const b = await body(c);
    await a.walkInto(param(c, "room"), listField(b, "people") as Names);
    return ok();
  });
  app.post("/v1/walk-into", async (c) => {
    const b = await body(c);
    await a.walkInto(requiredField(b, "room") as string, listField(b, "people") as Names);
    return ok();
  });
  app.post("/v1/leave", async (c) => {
    const b = await body(c);
    await a.leave(listField(b, "people") as Names);
    return ok();
  });
  app.get("/v1/rooms/:room/people", async (c) => sendJson(c, await a.whoIsIn(param(c, "room"))));
  app.get("/v1/who-is-in", async (c) => sendJson(c, await a.whoIsIn(c.req.query("room") ?? "")));
  app.get("/v1/people/:person/room", (c) => sendJson(c, { room: a.whereIs(param(c, "person")) }));
  app.get("/v1/where-is", (c) => sendJson(c, { room: a.whereIs(c.req.query("person") ?? "") }));
  app.get("/v1/dump", async (c) => sendJson(c, await a.dump(c.req.queries("room") ?? [])));

  // Cluster.
  app.get("/v1/cluster/members", (c) =>
    sendJson(
      c,
      node.membership.members().map((m) => ({ name: m.name, address: m.address, state: m.state, incarnation: m.incarnation })),
    ),
  );
  app.get("/v1/crdt", (c) => sendJson(c, crdtDump(node)));

  // Parking.
  app.post("/v1/gates/:gate/park", async (c) => {
    const b = await body(c);
    await a.park(param(c, "gate"), requiredField(b, "plate") as string);
    return ok();
  });
  app.post("/v1/gates/:gate/unpark", async (c) => {
    const b = await body(c);
    await a.unpark(param(c, "gate"), requiredField(b, "plate") as string);
    return ok();
  });
  app.get("/v1/gates", async (c) => sendJson(c, await a.gates()));
  app.get("/v1/lot", (c) => sendJson(c, a.lot()));
}

/** The raw replica: every key (tombstones too) with its timestamp, sorted by key. */
export interface CrdtDump {
  node: string;
  keys: number;
  tombstones: number;
  entries: Record<string, { v?: unknown; d?: true; ts: { w: number; c: number; n: string } }>;
}

function crdtDump(node: Node): CrdtDump {
  const raw = [...node.map.raw()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const entries: CrdtDump["entries"] = {};
  for (const [k, e] of raw) entries[k] = e.d ? { d: true, ts: e.ts } : { v: e.v, ts: e.ts };
  return { node: node.name, keys: node.map.size, tombstones: node.map.tombstones, entries };
}
