/**
 * Routes without path parameters are also served by the runtime's own router
 * (Bun.serve `routes`, fed by staticRoutes()). They must answer exactly as
 * through Hono: the same token check, errors, body limits, query decoding and
 * metrics; other methods and near-miss paths still reach Hono.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../../http/app.ts";
import { HARD_BODY_CAP_BYTES } from "../../http/body.ts";
import { staticRoutes } from "../../http/instrument.ts";
import { bodyCap } from "../../adapter/serve.ts";
import { type Node, startNode } from "../../mesh/node/node.ts";
import { call, servedNode, type Served_ } from "./harness.ts";

const TOKEN = "static-route-token";
const j = (v: unknown) => JSON.stringify(v);

interface Answer {
  status: number;
  type: string | null;
  text: string;
}

async function answer(res: Response): Promise<Answer> {
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

/** The same requests, in order, through a static route's handler on one node and through Hono on a twin. */
async function twins(): Promise<{ viaStatic: (req: Request) => Promise<Answer>; viaHono: (req: Request) => Promise<Answer>; nodes: Node[] }> {
  const nodes: Node[] = [];
  const make = async () => {
    const node = await startNode({ name: "twin", gates: 2, spaces: 3 });
    nodes.push(node);
    await node.app.addRooms(["den", "hall"], 2);
    return createApp(node, { adminToken: TOKEN, maxBodyBytes: 256, serverBodyCap: bodyCap(HARD_BODY_CAP_BYTES) });
  };
  const a = await make();
  const b = await make();
  const routes = staticRoutes(a);
  return {
    nodes,
    viaStatic: async (req) => {
      const path = new URL(req.url).pathname;
      const r = routes.find((x) => x.path === path && x.method === req.method);
      if (r === undefined) throw new Error(`no static route for ${req.method} ${path}`);
      return answer(await r.handler(req));
    },
    viaHono: async (req) => answer(await b.fetch(req)),
  };
}

describe("static routes", () => {
  test("are exactly the routes without path parameters, each once", async () => {
    const node = await startNode({ name: "list" });
    try {
      const routes = staticRoutes(createApp(node));
      const keys = routes.map((r) => `${r.method} ${r.path}`);
      expect(new Set(keys).size).toBe(keys.length);
      for (const k of ["POST /v1/walk-into", "POST /v1/leave", "POST /v1/rooms", "GET /healthz", "GET /readyz", "GET /metrics", "GET /v1/dump", "GET /"]) {
        expect(keys).toContain(k);
      }
      expect(keys.some((k) => k.includes(":") || k.includes("*"))).toBe(false);
    } finally {
      await node.stop();
    }
  });

  test("answer every request as Hono does: token, body checks, rule errors, state and queries", async () => {
    const { viaStatic, viaHono, nodes } = await twins();
    const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    const requests: [string, string, Record<string, string>, string | undefined][] = [
      ["POST", "/v1/walk-into", { "content-type": "application/json" }, j({ room: "den", people: ["ada"] })], // no token
      ["POST", "/v1/walk-into", { authorization: "Bearer wrong" }, j({ room: "den", people: ["ada"] })],
      ["POST", "/v1/walk-into", { "content-type": "application/json" }, "{not json"], // the token is checked before the body is read
      ["POST", "/v1/walk-into", auth, j({ room: "den", people: ["ada"] })],
      ["POST", "/v1/walk-into", auth, j({ room: "den", people: ["bo", "cy"] })], // full
      ["POST", "/v1/walk-into", auth, j({ room: "attic", people: ["bo"] })],
      ["POST", "/v1/walk-into", auth, j({ room: "den", people: [""] })],
      ["POST", "/v1/walk-into", auth, "{not json"],
      ["POST", "/v1/walk-into", auth, ""],
      ["POST", "/v1/walk-into", auth, j({ room: "den", people: ["x".repeat(300)] })], // over maxBodyBytes
      ["POST", "/v1/walk-into", auth, j({ people: ["bo"] })],
      ["POST", "/v1/walk-into", auth, "[1,2]"],
      ["POST", "/v1/leave", auth, j({ people: ["ada"] })],
      ["POST", "/v1/rooms", auth, j({ rooms: ["attic"], capacity: -1 })],
      ["GET", "/v1/who-is-in?room=den", auth, undefined],
      ["GET", "/v1/who-is-in?room=d%65n&room=hall", auth, undefined],
      ["GET", "/v1/who-is-in?room=%ZZ", auth, undefined],
      ["GET", "/v1/where-is?person=a+da", auth, undefined],
      ["GET", "/v1/dump?room=den&room=hall", auth, undefined],
      ["GET", "/v1/dump", { authorization: "Bearer wrong" }, undefined],
      ["GET", "/healthz", {}, undefined],
    ];
    try {
      const statuses: number[] = [];
      for (const [method, path, headers, body] of requests) {
        const mk = () => new Request(`http://127.0.0.1${path}`, { method, headers, body });
        const [s, h] = [await viaStatic(mk()), await viaHono(mk())];
        expect({ request: `${method} ${path}`, ...s }).toEqual({ request: `${method} ${path}`, ...h });
        statuses.push(s.status);
      }
      // The list above exercises each answer it means to: refusals, errors and successes.
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 200, 409]);
      // The twins went through the same states.
      expect(await nodes[0]!.app.dump()).toEqual(await nodes[1]!.app.dump());
      expect(await nodes[0]!.app.dump()).toEqual({ den: [], hall: [] });
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});

describe("served by the runtime's router", () => {
  let s: Served_;
  beforeAll(async () => {
    s = await servedNode({ name: "native" }, {}, HARD_BODY_CAP_BYTES);
    await s.node.app.addRooms(["den"]);
  });
  afterAll(async () => {
    await s?.stop();
  });

  test("a walk-into is answered and counted under its route pattern", async () => {
    expect(await call(s.url, "POST", "/v1/walk-into", j({ room: "den", people: ["ada"] }))).toMatchObject({ status: 200, json: { ok: true } });
    expect(await call(s.url, "POST", "/v1/walk-into", j({ room: "nope", people: ["ada"] }))).toMatchObject({ status: 404, json: { error: { code: "unknown_room" } } });
    expect(await s.node.app.dump()).toEqual({ den: ["ada"] });
    const metrics = (await call(s.url, "GET", "/metrics")).text;
    expect(metrics).toContain('roomy_http_requests_total{method="POST",route="/v1/walk-into",status="200"} 1');
    expect(metrics).toContain('roomy_http_requests_total{method="POST",route="/v1/walk-into",status="404"} 1');
  });

  test("other methods and near-miss paths still reach Hono and its not_found", async () => {
    const get = await call(s.url, "GET", "/v1/walk-into");
    expect(get).toMatchObject({ status: 404, json: { error: { code: "not_found" } } });
    const slash = await call(s.url, "POST", "/v1/walk-into/", j({ room: "den", people: ["bo"] }));
    expect(slash).toMatchObject({ status: 404, json: { error: { code: "not_found" } } });
    expect(await s.node.app.dump()).toEqual({ den: ["ada"] });
  });
});
