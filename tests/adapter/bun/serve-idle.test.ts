/**
 * The idle timeout of the HTTP/1.1 server under Bun (adapter/bun/serve.ts)
 * counts silence, not age: a connection with traffic either way is never
 * closed by it, only one silent for the timeout with no handler at work.
 * Bun's socket timer is one-shot and ticks every 4 s (a timeout of 5 runs out
 * 4 to 8 s after it is armed); armed once, it closed busy keep-alive
 * connections every few seconds between two requests, and the client's next
 * request met the reset (ECONNRESET in the scale bench's cluster rounds).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { type Served, serve } from "../../../adapter/serve.ts";
import { RawConn } from "./serve-raw.ts";

const IDLE = 5;
/** Past the first tick at which a timer armed at the start (4-8 s) runs out. */
const BUSY_MS = 9_000;
const EVERY_MS = 250;
/** Read per resume by the slow reader: enough that the server's writes drain well within the timeout. */
const SLICE = 256 * 1024;
const BIG = new Uint8Array(32 * 1024 * 1024);

async function app(req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname === "/echo") return new Response(await req.text());
  if (url.pathname === "/big") return new Response(BIG);
  return new Response("nope", { status: 404 });
}

let s: Served;
beforeAll(() => {
  s = serve({ hostname: "127.0.0.1", port: 0, fetch: app, idleTimeout: IDLE });
});
afterAll(async () => {
  await s?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Keep-alive requests one after another, each answered before the next, for `ms`; how many were answered. */
async function steadyRequests(c: RawConn, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) {
    await c.write(`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n${String(n % 100).padStart(2, "0")}`);
    const a = await c.next(`answer ${n}`, 5_000);
    expect([a.status, a.body.toString()]).toEqual([200, String(n % 100).padStart(2, "0")]);
    n++;
    await sleep(EVERY_MS);
  }
  return n;
}

/** One request whose body arrives a byte every EVERY_MS for `ms`; its answer. */
async function tricklingBody(c: RawConn, ms: number): Promise<string> {
  const n = Math.ceil(ms / EVERY_MS);
  await c.write(`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ${n}\r\n\r\n`);
  for (let i = 0; i < n; i++) {
    await sleep(EVERY_MS);
    await c.write("x");
  }
  return (await c.next("the trickled body's answer", 5_000)).body.toString();
}

/** A big answer read a little at a time for `ms`: bytes read, and whether the server closed the connection meanwhile. */
async function slowReader(port: number, ms: number): Promise<{ bytes: number; closed: boolean }> {
  const sock = connect(port, "127.0.0.1");
  let bytes = 0;
  let closed = false;
  let slice = 0;
  sock.on("data", (d: Buffer) => {
    bytes += d.length;
    slice += d.length;
    if (slice >= SLICE) sock.pause(); // about SLICE per resume below
  });
  sock.on("close", () => (closed = true));
  sock.on("error", () => {});
  await new Promise<void>((r) => sock.once("connect", () => r()));
  sock.write("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
  const end = Date.now() + ms;
  while (Date.now() < end && !closed) {
    await sleep(EVERY_MS);
    slice = 0;
    sock.resume();
  }
  sock.destroy();
  return { bytes, closed };
}

test("connections with traffic outlive the idle timeout; a silent one does not", async () => {
  const silent = await RawConn.open(s.port);
  await silent.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
  expect((await silent.next()).status).toBe(200);
  const requests = await RawConn.open(s.port);
  const trickle = await RawConn.open(s.port);
  const [answered, body, reader] = await Promise.all([steadyRequests(requests, BUSY_MS), tricklingBody(trickle, BUSY_MS), slowReader(s.port, BUSY_MS)]);
  expect(answered).toBeGreaterThan(BUSY_MS / (EVERY_MS * 4));
  expect(body).toBe("x".repeat(Math.ceil(BUSY_MS / EVERY_MS)));
  // Still reading (the answer is larger than what a slow reader takes in BUSY_MS), never cut off.
  expect(reader.closed).toBe(false);
  expect(reader.bytes).toBeGreaterThan(0);
  expect(reader.bytes).toBeLessThan(BIG.byteLength);
  expect([requests.closed, trickle.closed]).toEqual([false, false]);
  // The silent one goes at its timer (4-8 s after its answer: by now, but for a late tick on a loaded machine).
  await silent.closedSoon(5_000);
  // And once silent, the busy one goes too: the timer still runs.
  await requests.closedSoon(12_000);
  trickle.destroy();
}, 40_000);
