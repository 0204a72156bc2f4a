/**
 * The lingering close after a refusal (adapter/bun/linger.ts): a client that
 * writes its whole body before it reads (Python's urllib and requests) got
 * "connection reset" or "broken pipe" for a body past the cap, never the 413
 * waiting in its receive buffer, because the server closed at once and the
 * kernel answered its next bytes with a reset. Now the server sends its FIN,
 * drops what still comes, and closes once the client closes its side or the
 * linger runs out.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { type Served, serve } from "../../../adapter/serve.ts";
import { serverRefusal } from "../../../http/app.ts";
import { LINGER_S } from "../../../adapter/bun/linger.ts";

const CAP = 64 * 1024;
let s: Served;
beforeAll(() => {
  s = serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok"), maxRequestBodySize: CAP, refusal: serverRefusal() });
});
afterAll(async () => {
  await s?.stop();
});

/** A client that keeps its side open when the server's FIN comes (as a client still writing does). */
function open(): Promise<{ sock: Socket; got: () => string; errors: string[]; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port: s.port, host: "127.0.0.1", allowHalfOpen: true }, () => resolve({ sock, got: () => Buffer.concat(chunks).toString(), errors, closed: () => closed }));
    const chunks: Buffer[] = [];
    const errors: string[] = [];
    let closed = false;
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    sock.on("close", () => (closed = true));
    sock.once("error", reject);
  });
}

const write = (sock: Socket, data: string | Uint8Array): Promise<string | null> =>
  new Promise((resolve) => sock.write(data, (err) => resolve(err ? ((err as NodeJS.ErrnoException).code ?? err.message) : null)));

async function until(what: string, f: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("a client that writes a whole body past the cap before reading gets the 413, not a reset", async () => {
  const c = await open();
  const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
  expect(await write(c.sock, `POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`)).toBe(null);
  const failed: string[] = [];
  for (let off = 0; off < body.length; off += 64 * 1024) {
    const err = await write(c.sock, body.subarray(off, off + 64 * 1024));
    if (err !== null) failed.push(err);
  }
  expect(failed).toEqual([]);
  await until("the answer", () => c.got().includes("\r\n\r\n{"), 5_000);
  expect(c.got()).toStartWith("HTTP/1.1 413 ");
  expect(c.got()).toContain('"code":"payload_too_large"');
  // Once this client closes its side, so does the server.
  c.sock.end();
  await until("the close", c.closed, 5_000);
  expect(c.errors).toEqual([]);
}, 20_000);

test("a refused client still sending is read and dropped for the linger, then cut off", async () => {
  const c = await open();
  await write(c.sock, `POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: ${CAP + 1}\r\n\r\n`);
  await until("the 413", () => c.got().startsWith("HTTP/1.1 413 "), 5_000);
  await until("the server's FIN", () => c.sock.readableEnded, 5_000);
  const t0 = Date.now();
  // A byte every 100 ms: taken while the server lingers; once it closes, a write fails (its reset).
  let failedAt = -1;
  while (failedAt < 0 && Date.now() - t0 < LINGER_S * 1000 + 8_000) {
    if ((await write(c.sock, "z")) !== null || c.errors.length > 0) failedAt = Date.now() - t0;
    else await new Promise((r) => setTimeout(r, 100));
  }
  expect(failedAt).toBeGreaterThan(500); // lingered: not cut at once
  expect(failedAt).toBeLessThan(LINGER_S * 1000 + 8_000); // Bun's socket timer ticks every 4 s; a loaded machine gets a few more
  c.sock.destroy();
}, 20_000);
