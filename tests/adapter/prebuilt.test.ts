/**
 * Answers with known bytes (adapter/prebuilt.ts): the `{"ok":true}` Response
 * holds exactly its prebuilt bytes, and the Bun server writes a marked
 * Response from those bytes without reading it back.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ok } from "../../http/instrument.ts";
import { prebuiltOf, withPrebuilt } from "../../adapter/prebuilt.ts";
import { type Served, serve } from "../../adapter/serve.ts";
import { RawConn } from "./bun/serve-raw.ts";

const servers: Served[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

describe("prebuilt answers", () => {
  test("the write answer read as a Response is exactly its prebuilt status, headers and bytes", async () => {
    const res = ok();
    const pre = prebuiltOf(res)!;
    expect(pre).toBeDefined();
    expect(res.status).toBe(pre.status);
    const lines: string[] = [];
    res.headers.forEach((v, k) => lines.push(`${k}: ${v}\r\n`));
    expect(lines.join("")).toBe(pre.headers);
    expect(Array.from(new Uint8Array(await res.arrayBuffer()))).toEqual(Array.from(pre.body));
  });

  test("the Bun server writes a marked Response from its prebuilt bytes (keep-alive and HTTP/1.0 both)", async () => {
    // Marked with bytes other than its body, so the wire shows which were written.
    const marked = (): Response =>
      withPrebuilt(new Response("body-of-the-response", { status: 200 }), { status: 201, headers: "x-pre: 1\r\n", body: new TextEncoder().encode("pre") });
    const s = serve({ hostname: "127.0.0.1", port: 0, fetch: () => marked() });
    servers.push(s);
    const c = await RawConn.open(s.port);
    await c.write("GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.0\r\nconnection: keep-alive\r\n\r\n");
    const a = await c.until("first answer", () => c.take());
    const b = await c.until("second answer", () => c.take());
    for (const x of [a, b]) {
      expect(x.status).toBe(201);
      expect(x.headers["x-pre"]).toBe("1");
      expect(x.body.toString()).toBe("pre");
    }
    expect(b.headers["connection"]).toBe("keep-alive");
    c.sock.destroy();
  });
});
