/**
 * A client that goes away in the middle of its request body is not the
 * server's error: nothing is logged at ERROR (DEBUG says what happened), it
 * is counted under status 499 in roomy_http_requests_total, and the node
 * keeps answering.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "../support/cluster.ts";
import type { Logger } from "../../mesh/types.ts";
import { call, servedNode, type Served_ } from "./harness.ts";
import { cutBody } from "./raw-http.ts";

const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
const capture: Logger = {
  debug: (msg, fields) => lines.push({ level: "debug", msg, fields }),
  info: (msg, fields) => lines.push({ level: "info", msg, fields }),
  warn: (msg, fields) => lines.push({ level: "warn", msg, fields }),
  error: (msg, fields) => lines.push({ level: "error", msg, fields }),
};


const gone = (metrics: string, route: string): number =>
  Number(new RegExp(`roomy_http_requests_total\\{method="POST",route="${route.replace(/[/:]/g, (c) => "\\" + c)}",status="499"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);

// Served as `roomy node` serves (the server caps bodies: read whole), and without a cap (bodies counted as they come).
describe.each([["server-capped", 1024 * 1024], ["uncapped", undefined]] as const)("a client that leaves half-way through its body (%s)", (_, cap) => {
  let s: Served_;
  beforeAll(async () => {
    lines.length = 0;
    s = await servedNode({ name: "gone", logger: capture }, {}, cap);
    await s.node.app.addRooms(["den"]);
  });
  afterAll(async () => {
    await s?.stop();
  });

  test("is logged at DEBUG, not ERROR, counted as 499, and the node keeps answering", async () => {
    // /v1/recover reads its own body (not a write): the same rule.
    for (const path of ["/v1/walk-into", "/v1/rooms/den/walk-into", "/v1/recover"]) {
      await cutBody(s.url, path, 1000, 10);
    }
    const metrics = await waitFor("the cut bodies counted", async () => {
      const m = (await call(s.url, "GET", "/metrics")).text;
      return gone(m, "/v1/walk-into") === 1 && gone(m, "/v1/rooms/:room/walk-into") === 1 && gone(m, "/v1/recover") === 1 ? m : undefined;
    });
    expect(metrics).toContain('status="499"');
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
    expect(lines.filter((l) => l.level === "debug" && l.msg.includes("client left")).length).toBe(3);
    expect(await call(s.url, "POST", "/v1/walk-into", JSON.stringify({ room: "den", people: ["ada"] }))).toMatchObject({ status: 200 });
    expect(await s.node.app.dump()).toEqual({ den: ["ada"] });
  });
});
