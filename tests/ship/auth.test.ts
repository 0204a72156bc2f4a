/**
 * Admin security: the API listens on loopback unless given a token; with a
 * token every /v1 route needs it (401 `unauthorized` otherwise) while probes,
 * /metrics and the dashboard page stay open; the CLI sends it; the token is
 * never written to the logs.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { resolveNodeFlags } from "../../cli/node-command.ts";
import { scanArgv } from "../../cli/argv.ts";
import { NODE_OPTIONS } from "../../cli/node-command.ts";
import { createApp } from "../../http/app.ts";
import { adminExposureProblem, bearerToken, isLoopbackHost, tokensEqual } from "../../http/auth.ts";
import { type Node, startNode as startInProcess } from "../../mesh/node/node.ts";
import { BINARY, ensureBinary } from "./support/binary.ts";
import { killAll, run, startNode } from "./support/procs.ts";

const TOKEN = "tok-3f9c1a7e5b2d4c6e8a0b1c2d3e4f5a6b";

describe("token checks", () => {
  test("tokens compare equal only when identical, whatever their lengths", () => {
    expect(tokensEqual(TOKEN, TOKEN)).toBe(true);
    expect(tokensEqual(TOKEN, TOKEN + "x")).toBe(false);
    expect(tokensEqual(TOKEN.slice(0, -1) + "X", TOKEN)).toBe(false);
    expect(tokensEqual("", TOKEN)).toBe(false);
  });

  test("the bearer token is read from an Authorization header, case-insensitively", () => {
    expect(bearerToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`Basic ${TOKEN}`)).toBeNull();
    expect(bearerToken("Bearer")).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });

  test("loopback hosts are told apart from the rest", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.5", "192.168.1.2", "example.com", "127.0.0.1.example.com"]) expect(isLoopbackHost(h)).toBe(false);
  });

  test("an API beyond loopback without a token is a problem, with a token or on loopback it is not", () => {
    expect(adminExposureProblem("0.0.0.0", undefined)).toContain("ROOMY_ADMIN_TOKEN");
    expect(adminExposureProblem("0.0.0.0", "")).toContain("ROOMY_ADMIN_TOKEN");
    expect(adminExposureProblem("0.0.0.0", TOKEN)).toBeNull();
    expect(adminExposureProblem("127.0.0.1", undefined)).toBeNull();
  });

  test("roomy node refuses flags that expose the API without a token, and accepts them with one", () => {
    const raw = scanArgv(["node", "--http", "0.0.0.0:4380"], NODE_OPTIONS);
    expect(() => resolveNodeFlags(raw, {})).toThrow(/ROOMY_ADMIN_TOKEN/);
    expect(() => resolveNodeFlags(raw, { ROOMY_HTTP: "0.0.0.0:1" })).toThrow(/ROOMY_ADMIN_TOKEN/);
    expect(resolveNodeFlags(raw, { ROOMY_ADMIN_TOKEN: TOKEN + "\n" }).adminToken).toBe(TOKEN);
    expect(() => resolveNodeFlags(raw, { ROOMY_ADMIN_TOKEN: "has space" })).toThrow(/printable/);
  });
});

describe("the admin API with a token", () => {
  let node: Node;
  let app: Hono;
  const req = (path: string, init: RequestInit = {}) => app.request(path, init);
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });

  beforeAll(async () => {
    node = await startInProcess({ name: "auth-1" });
    app = createApp(node, { adminToken: TOKEN });
  });
  afterAll(() => node.stop());

  test("every /v1 route answers 401 unauthorized without the token", async () => {
    const routes: [string, string][] = [
      ["GET", "/v1/node"],
      ["GET", "/v1/rooms"],
      ["POST", "/v1/rooms"],
      ["POST", "/v1/walk-into"],
      ["GET", "/v1/dump"],
      ["GET", "/v1/cluster/members"],
      ["GET", "/v1/lot"],
      ["POST", "/v1/gates/1/park"],
      ["GET", "/v1/crdt"],
      ["GET", "/v1/overview"],
      ["GET", "/v1/no-such-route"],
    ];
    for (const [method, path] of routes) {
      const res = await req(path, { method, body: method === "POST" ? "{}" : undefined });
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="roomy"');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
  });

  test("a wrong token is refused the same way", async () => {
    for (const t of [TOKEN + "x", TOKEN.slice(1), "x"]) {
      const res = await req("/v1/rooms", { headers: auth(t) });
      expect(res.status).toBe(401);
    }
  });

  test("the right token opens every /v1 route", async () => {
    const post = await req("/v1/rooms", { method: "POST", headers: { ...auth(TOKEN), "content-type": "application/json" }, body: '{"rooms":["den"]}' });
    expect(post.status).toBe(200);
    expect(await (await req("/v1/rooms", { headers: auth(TOKEN) })).json()).toEqual(["den"]);
    expect((await req("/v1/overview", { headers: auth(TOKEN) })).status).toBe(200);
  });

  test("probes, metrics and the dashboard page stay open", async () => {
    expect((await req("/healthz")).status).toBe(200);
    expect((await req("/readyz")).status).toBe(200);
    expect((await req("/metrics")).status).toBe(200);
    const page = await req("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
  });

  test("without a token configured the /v1 routes are open", async () => {
    const open = createApp(node);
    expect((await open.request("/v1/rooms")).status).toBe(200);
  });
});

describe("roomy node and the CLI with a token", () => {
  let bin = BINARY;
  beforeAll(async () => {
    bin = await ensureBinary();
  }, 200_000);
  afterAll(killAll);

  test("a node asked to serve beyond loopback without a token refuses to start with exit 2", async () => {
    const r = await run([bin, "node", "--http", "0.0.0.0:0", "--bind", "127.0.0.1:0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ROOMY_ADMIN_TOKEN");
    expect(r.stdout).not.toContain("ready");
  });

  test("with a token it serves beyond loopback, and requires the token there", async () => {
    const node = await startNode([bin, "node", "--http", "0.0.0.0:0", "--bind", "127.0.0.1:0"], { ROOMY_ADMIN_TOKEN: TOKEN });
    const url = node.url.replace("0.0.0.0", "127.0.0.1");
    expect((await fetch(`${url}/v1/rooms`)).status).toBe(401);
    expect((await fetch(`${url}/v1/rooms`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect(await node.stop()).toBe(0);
  }, 60_000);

  test("the CLI sends the token from ROOMY_ADMIN_TOKEN or --token; without it the node's 401 is exit 1 unauthorized; the token is never logged", async () => {
    const wrong = "wrong-7c1d9e2f4a6b8c0d";
    const node = await startNode([bin, "node", "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--log-level", "debug", "--log-format", "json"], {
      ROOMY_ADMIN_TOKEN: TOKEN,
    });
    const cli = (args: string[], env: Record<string, string> = {}) => run([bin, "--node", node.url, ...args], env);

    const none = await cli(["add-rooms", "den"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("unauthorized");
    expect((await cli(["rooms", "--json"], { ROOMY_ADMIN_TOKEN: wrong })).stderr).toContain('"code":"unauthorized"');
    expect((await cli(["add-rooms", "den"], { ROOMY_ADMIN_TOKEN: TOKEN })).code).toBe(0);
    expect(await cli(["walk-into", "den", "alan", "--token", TOKEN])).toMatchObject({ code: 0, stdout: "ok\n" });
    expect((await cli(["who-is-in", "den"], { ROOMY_ADMIN_TOKEN: TOKEN })).stdout).toBe("alan\n");
    // Even a stray Authorization header in a request the node logs does not reach the log.
    await fetch(`${node.url}/nowhere`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await node.stop()).toBe(0);

    const logs = node.logs();
    expect(logs).toContain('"route":"/v1/rooms"'); // debug access lines were written...
    expect(logs).toContain('"status":401');
    expect(logs).not.toContain(TOKEN); // ...without the token
    expect(logs).not.toContain(wrong);
    expect(logs).not.toContain(TOKEN.slice(4, 20));
  }, 60_000);
});
