/**
 * The /v1 admin API: every operation of CONTRACT.md, "HTTP admin API". Names travel in the
 * path (RESTful, for people with curl) or, for the operations that take one,
 * also in the query or body: "." and ".." cannot survive a URL path (clients
 * normalise them away), so the typed client always uses the latter forms.
 */
import type { Node } from "../mesh/node/node.ts";
import type { ConsensusInfo } from "./client.ts";
import { RoomyError } from "../core/errors.ts";
import { DEFAULT_MAX_BODY_BYTES, listField, onlyFields, requiredField } from "./body.ts";
import { readRouteBody, type RouteRequest, type Routes } from "./instrument.ts";
import { dumpResponse } from "./dump-json.ts";
import { crdtResponse } from "./crdt-json.ts";
import { JSON_CONTENT_TYPE, orderedJson } from "./json.ts";
import { memberList, nodeInfo } from "./overview.ts";

/** A path parameter of the matched route (always present there). */
const param = (r: RouteRequest, name: string): string => r.param(name) ?? "";

/**
 * The query parameter naming the one thing a read is about: missing is
 * bad_request (a missing field; `?room=` is the empty name, invalid_name),
 * and so is giving it twice (which one was meant?).
 */
function oneQuery(r: RouteRequest, name: string): string {
  const v = r.query(name);
  if (v === undefined) throw new RoomyError("bad_request", `query parameter "${name}" is required`);
  // Only a URL with "&" can hold it twice: no second parse on the usual request.
  if (r.raw.url.includes("&") && (r.queries(name)?.length ?? 0) > 1) {
    throw new RoomyError("bad_request", `query parameter "${name}" is given more than once; give one`);
  }
  return v;
}

const ROOMS_FIELDS = ["rooms", "capacity"];
const PEOPLE_FIELDS = ["people"];
const WALK_FIELDS = ["room", "people"];
const PLATE_FIELDS = ["plate"];
const RECOVER_FIELDS = ["force"];

/** JSON text with sorted name-keyed objects (see json.ts). */
export function sendJson(value: unknown, status = 200): Response {
  // A plain Response: cheaper than Hono's c.body(), and static routes (instrument.ts) have no context.
  return new Response(orderedJson(value), { status, headers: { "content-type": JSON_CONTENT_TYPE } });
}

// Names from bodies are `unknown`: the app checks every one (invalid_name),
// so the casts below only satisfy the type checker.
type Names = string[];

/** `maxBodyBytes`: the app's body limit, recover's too (CONTRACT: 64 KiB for every body). */
export function registerV1(app: Routes, node: Node, maxBodyBytes = DEFAULT_MAX_BODY_BYTES): void {
  const a = node.app;

  app.get("/v1/node", () => sendJson(nodeInfo(node)));

  // Rooms.
  app.write("/v1/rooms", (b) => a.addRooms(listField(onlyFields(b, ROOMS_FIELDS), "rooms") as Names, b["capacity"] as number | null | undefined));
  app.get("/v1/rooms", async () => sendJson(await a.rooms()), true);
  // `left`: the client leaving is told to the room's owner, should it hold the call after a stall (registry stalled-calls.ts).
  app.write("/v1/rooms/:room/walk-into", (b, r, left) => a.walkInto(param(r, "room"), listField(onlyFields(b, PEOPLE_FIELDS), "people") as Names, left));
  app.write("/v1/walk-into", (b, _r, left) => a.walkInto(requiredField(onlyFields(b, WALK_FIELDS), "room") as string, listField(b, "people") as Names, left));
  app.write("/v1/leave", (b) => a.leave(listField(onlyFields(b, PEOPLE_FIELDS), "people") as Names));
  app.get("/v1/rooms/:room/people", async (r) => sendJson(await a.whoIsIn(param(r, "room"))));
  app.get("/v1/who-is-in", async (r) => sendJson(await a.whoIsIn(oneQuery(r, "room"))));
  app.get("/v1/people/:person/room", async (r) => sendJson({ room: await a.whereIs(param(r, "person")) }));
  app.get("/v1/where-is", async (r) => sendJson({ room: await a.whereIs(oneQuery(r, "person")) }));
  app.get("/v1/dump", async (r) => dumpResponse(await a.dumpText(r.queries("room") ?? [])), true);

  // Cluster.
  app.get("/v1/cluster/members", () => sendJson(memberList(node)));
  app.get("/v1/crdt", () => crdtResponse(node), true);
  app.get("/v1/consensus", () => sendJson(consensusStatus(node)));
  // Ends the generation knowingly (roomy recover --force): only with {"force":true}, since what other nodes hold beyond this one's state is lost.
  app.post("/v1/recover", async (r) => {
    const b = onlyFields(await readRouteBody(r.raw, maxBodyBytes), RECOVER_FIELDS);
    if (b["force"] !== true) {
      throw new RoomyError("bad_request", 'recover ends the consensus generation and starts a new one from this node\'s state (entries only others hold are lost): send {"force":true}');
    }
    node.consensus.recover();
    return sendJson(consensusStatus(node));
  });

  // Parking.
  app.write("/v1/gates/:gate/park", (b, r, left) => a.park(param(r, "gate"), requiredField(onlyFields(b, PLATE_FIELDS), "plate") as string, left));
  app.write("/v1/gates/:gate/unpark", (b, r, left) => a.unpark(param(r, "gate"), requiredField(onlyFields(b, PLATE_FIELDS), "plate") as string, left));
  app.get("/v1/gates", async () => sendJson(await a.gates()));
  app.get("/v1/lot", async () => sendJson(await a.lot()));
}

/** GET /v1/consensus (and POST /v1/recover's answer). */
export function consensusStatus(node: Node): ConsensusInfo {
  const st = node.consensus.status();
  return {
    leader: st.leader, term: st.term, epoch: st.epoch, generation: st.generation, commit: st.commit, applied: st.applied,
    voters: st.voters, learners: st.learners, role: st.role, lot: node.config.lot, unavailable: st.unavailable,
  };
}

/** The raw replica: every key (tombstones too) with its timestamp, sorted by key. */
export interface CrdtDump {
  node: string;
  keys: number;
  tombstones: number;
  entries: Record<string, { v?: unknown; d?: true; ts: { w: number; c: number; n: string } }>;
}

