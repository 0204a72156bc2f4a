/**
 * `roomy node`'s admin API at its edges, as the binary serves it: what the
 * HTTP server refuses before the app sees a request (a body past its hard
 * cap, bytes that are not HTTP) still answers the contract's JSON error, and
 * a HEAD answers as its GET without the body.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { HARD_BODY_CAP_BYTES } from "../../http/body.ts";
import { killAll, type SpawnedNode, spawnReadyNode } from "./helpers.ts";

let node: SpawnedNode;
beforeAll(async () => {
  node = await spawnReadyNode();
  // Ready, so that a GET and its HEAD answer alike (a node catching up answers unavailable).
  const deadline = Date.now() + 20_000;
  while ((await fetch(node.url + "/readyz", { signal: AbortSignal.timeout(5_000) })).status !== 200) {
    if (Date.now() > deadline) throw new Error(`not ready within 20 s: ${node.logs()}`);
    await Bun.sleep(50);
  }
});
afterAll(() => killAll());

/** Sends `bytes` on a fresh connection and returns all it gets back before the server closes it (or the deadline). */
function raw(url: string, bytes: string | Uint8Array, deadlineMs = 10_000): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(Number(u.port), u.hostname, () => s.write(bytes));
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(Buffer.concat(chunks).toString("utf8"));
    };
    const timer = setTimeout(done, deadlineMs);
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("end", done);
    s.on("close", done);
    s.on("error", (e) => (chunks.length > 0 ? done() : reject(e)));
  });
}

/** Status, lower-cased headers and body of the first answer in `text`. */
function first(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
  const len = Number(headers["content-length"] ?? 0);
  return { status: Number(lines[0]!.split(" ")[1]), headers, body: text.slice(end + 4, end + 4 + len) };
}

describe("roomy node: refusals of the HTTP server are the contract's JSON errors", () => {
  test("a declared body past the hard cap: 413 payload_too_large as JSON, and a close", async () => {
    const head = `POST /v1/leave HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${HARD_BODY_CAP_BYTES + 1}\r\n\r\n`;
    const a = first(await raw(node.url, head));
    expect([a.status, a.headers["content-type"], a.headers["connection"]]).toEqual([413, "application/json; charset=utf-8", "close"]);
    expect(JSON.parse(a.body)).toEqual({ error: { code: "payload_too_large", message: "request body is larger than 65536 bytes" } });
  });

  test("the hard cap is a little over 64 KiB: a 200 KiB body is refused at its head, before a byte of it is buffered", async () => {
    expect(HARD_BODY_CAP_BYTES).toBe(128 * 1024);
    const head = `POST /v1/leave HTTP/1.1\r\nHost: t\r\nContent-Length: ${200 * 1024}\r\n\r\n`;
    const t0 = Date.now();
    const a = first(await raw(node.url, head, 5_000));
    expect([a.status, (JSON.parse(a.body) as { error: { code: string } }).error.code]).toEqual([413, "payload_too_large"]);
    expect(Date.now() - t0).toBeLessThan(4_000); // answered, not waiting for a body that never comes
  });

  test("a body over 64 KiB but under the hard cap: the same answer, from the app", async () => {
    const body = JSON.stringify({ people: ["x".repeat(70_000)] });
    const res = await fetch(node.url + "/v1/leave", { method: "POST", body, signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { code: "payload_too_large", message: "request body is larger than 65536 bytes" } });
  });

  test("bytes that are not an HTTP request: 400 bad_request as JSON, and a close", async () => {
    const a = first(await raw(node.url, "GET /v1/rooms HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n"));
    expect([a.status, a.headers["content-type"], a.headers["connection"]]).toEqual([400, "application/json; charset=utf-8", "close"]);
    expect((JSON.parse(a.body) as { error: { code: string } }).error.code).toBe("bad_request");
  });

  test("a request head over 64 KiB (a URL naming thousands of rooms): 400 bad_request as JSON", async () => {
    const url = "/v1/dump?" + Array.from({ length: 5_000 }, (_, i) => `room=room-${String(i).padStart(6, "0")}`).join("&");
    const a = first(await raw(node.url, `GET ${url} HTTP/1.1\r\nHost: t\r\n\r\n`));
    expect([a.status, a.headers["content-type"]]).toEqual([400, "application/json; charset=utf-8"]);
    expect((JSON.parse(a.body) as { error: { code: string; message: string } }).error.code).toBe("bad_request");
  });

  test("the node still serves afterwards", async () => {
    const res = await fetch(node.url + "/healthz", { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
  });
});

describe("roomy node: HEAD answers as GET, without the body", () => {
  for (const path of ["/healthz", "/v1/rooms", "/v1/node", "/v1/dump", "/v1/rooms/nope/people", "/v1/who-is-in", "/v1/nothing-here", "/v1/leave"]) {
    test(`HEAD ${path}: the GET's status, type and length, no body`, async () => {
      const get = first(await raw(node.url, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`));
      const text = await raw(node.url, `HEAD ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
      const head = first(text);
      expect([head.status, head.headers["content-type"], head.headers["content-length"]]).toEqual([
        get.status,
        get.headers["content-type"],
        String(Buffer.byteLength(get.body)),
      ]);
      expect(text.slice(text.indexOf("\r\n\r\n") + 4)).toBe("");
    });
  }
});
