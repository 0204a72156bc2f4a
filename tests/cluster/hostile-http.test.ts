/**
 * A hostile user's inputs against a real `roomy node` and the real CLI: names
 * are taken exactly as sent, or refused, never turned into another name; and
 * the CLI never reports "ok" for something that was not a node's answer.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { Cluster, MAIN, freePorts, type RoomyProcess } from "../support/cluster.ts";
import { runToEnd } from "../support/procs.ts";

let cluster: Cluster;
let node: RoomyProcess;

beforeAll(async () => {
  cluster = await Cluster.start({ size: 1, profile: "local", deadlineMs: 30_000 });
  node = cluster.nodes[0]!;
  await node.client.addRooms(["%FF", "%", "%ED%A0%80"]);
}, 40_000);

afterAll(async () => {
  await cluster?.close();
}, 20_000);

async function get(path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(node.url + path, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.json() };
}

describe("percent-encoding that spells no name", () => {
  test("a path or query escape that is not UTF-8 (%FF, a lone %, an encoded surrogate) is bad_request, not the room named as typed", async () => {
    // The rooms "%FF", "%" and "%ED%A0%80" exist: a node that kept an
    // undecodable escape as typed answered for them (200 []), a name the client never sent.
    for (const path of [
      "/v1/rooms/%FF/people",
      "/v1/rooms/%/people",
      "/v1/rooms/%ED%A0%80/people",
      "/v1/who-is-in?room=%FF",
      "/v1/who-is-in?room=%ED%A0%80",
      "/v1/dump?room=%FF",
      "/v1/people/%FF/room",
    ]) {
      const r = await get(path);
      expect({ path, status: r.status, code: (r.body as { error?: { code?: string } }).error?.code }).toEqual({ path, status: 400, code: "bad_request" });
    }
    const walk = await fetch(`${node.url}/v1/rooms/%FF/walk-into`, { method: "POST", body: JSON.stringify({ people: ["eve"] }) });
    expect(walk.status).toBe(400);
    expect(await node.client.whoIsIn("%FF")).toEqual([]);
  });

  test("the same names properly encoded still reach their rooms", async () => {
    expect(await get("/v1/rooms/%25FF/people")).toEqual({ status: 200, body: [] });
    expect(await get("/v1/who-is-in?room=%25ED%25A0%2580")).toEqual({ status: 200, body: [] });
    expect(await get(`/v1/rooms/${encodeURIComponent("%")}/people`)).toEqual({ status: 200, body: [] });
  });
});

describe("the CLI against something that is not a roomy node", () => {
  let server: Server;
  let url = "";

  beforeAll(async () => {
    const [port] = await freePorts(1);
    // Answers every request 200 with a body that is not JSON (a proxy's page, say).
    server = createServer((sock) => {
      sock.once("data", () => sock.end("HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"));
      sock.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(() => {
    server?.close();
  });

  test("a 200 that is not JSON is exit 1 with one `roomy: internal: ...` line: never `ok`, never a stack trace", async () => {
    for (const args of [["walk-into", "den", "alan"], ["rooms"], ["who-is-in", "den"], ["members"]]) {
      const r = await runToEnd([process.execPath, MAIN, "--node", url, ...args], { deadlineMs: 15_000 });
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 1, stdout: "" });
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toStartWith("roomy: internal: ");
    }
  }, 60_000);
});
