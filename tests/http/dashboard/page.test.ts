/**
 * GET / serves one self-contained page: inline style and script only, a
 * Content-Security-Policy that allows exactly those (by hash) and requests
 * to this origin, and no data of its own (that comes from /v1/overview).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApp } from "../../../http/app.ts";
import { type Node, startNode } from "../../../mesh/node/node.ts";
import { pageProblems } from "../../dashboard/csp.ts";

describe("the dashboard page", () => {
  let node: Node;
  let app: Hono;
  beforeAll(async () => {
    node = await startNode({ name: "page-1" });
    await node.app.addRooms(["secret-room"]);
    app = createApp(node, { adminToken: "page-token" });
  });
  afterAll(() => node.stop());

  test("is HTML with a CSP that allows only its own inline script and style", async () => {
    const res = await app.request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(pageProblems(await res.text(), res.headers.get("content-security-policy"))).toEqual([]);
  });

  test("holds no node data: names come only from the token-protected /v1/overview", async () => {
    const html = await (await app.request("/")).text();
    expect(html).not.toContain("secret-room");
    expect(html).toContain("/v1/overview");
    expect((await app.request("/v1/overview")).status).toBe(401);
  });

  test("/v1/overview carries members, rooms with people and owners, gates and the lot", async () => {
    await node.app.walkInto("secret-room", ["ada"]);
    await node.app.park(2, "XY 1");
    const res = await app.request("/v1/overview", { headers: { authorization: "Bearer page-token" } });
    const o = (await res.json()) as Record<string, unknown>;
    expect(o).toMatchObject({
      node: { name: "page-1", ready: true, gates: 4, spaces: 100 },
      members: [{ name: "page-1", state: "alive" }],
      rooms: [{ name: "secret-room", owner: "page-1", capacity: null, count: 1, people: ["ada"] }],
      roomCount: 1,
      lot: { spaces: 100, occupied: 1, available: 99 },
      recentCars: [{ plate: "XY 1", gate: 2, node: "page-1" }],
    });
    expect((o["gates"] as { gate: number; parked: number; entries: number }[])[1]).toMatchObject({ gate: 2, parked: 1, entries: 1 });
  });
});
