/**
 * The body deadline of the HTTP/1.1 server under Bun (adapter/bun/deadline.ts):
 * a request body must arrive whole within bodyTimeout of its head's end (or
 * of the 100 Continue its client asked for), else 408 (the refusal's JSON)
 * and a close, with the handler never run: nothing the body asked for
 * happens. Every byte re-arms the idle timeout, so before it a client
 * dripping a body (Content-Length or chunked) held its connection for ever.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Served, serve } from "../../../adapter/serve.ts";
import { serverRefusal } from "../../../http/app.ts";
import { drip as dripEvery, pace, RawConn, refusedLate as late408 } from "./serve-raw.ts";

const BODY_S = 3;
/** Far past BODY_S (its timer runs out 8 to 12 s after a byte), so a close before it is the body deadline's. */
const IDLE_S = 10;
const DRIP_MS = 300;
/** The body deadline, then Bun's 4 s timer tick and a re-arm, with room for a loaded machine. */
const LATE_MS = BODY_S * 1000 + 6_000;

/** Bodies the handler was run with (a refused body must never reach it). */
const handled: string[] = [];
async function app(req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname === "/slow") {
    await sleep(Number(url.searchParams.get("ms")));
    return new Response("slow");
  }
  const text = req.method === "POST" ? await req.text().catch(() => "(failed)") : "ok";
  handled.push(text);
  return new Response(text);
}

let s: Served;
beforeAll(() => {
  s = serve({ hostname: "127.0.0.1", port: 0, fetch: app, idleTimeout: IDLE_S, headTimeout: 2, bodyTimeout: BODY_S, refusal: serverRefusal() });
});
afterAll(async () => {
  await s?.stop();
});

const sleep = pace;
const drip = (c: RawConn, text: string): Promise<number> => dripEvery(c, text, DRIP_MS);
const refusedLate = (c: RawConn) => late408(c, "body", LATE_MS);

test("a body dripped a byte at a time gets 408 at the body deadline, its handler never runs, and the connection closes", async () => {
  handled.length = 0;
  const c = await RawConn.open(s.port);
  const body = "x".repeat(100); // 30 s to drip: it never gets to its end
  await c.write(`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`);
  const sent = drip(c, body);
  await refusedLate(c);
  expect(await sent).toBeLessThan(body.length);
  await sleep(200); // a handler started by the close would have pushed by now
  expect(handled).toEqual([]);
}, 30_000);

test("a chunked body dripped a chunk at a time gets 408 at the body deadline", async () => {
  handled.length = 0;
  const c = await RawConn.open(s.port);
  await c.write("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  let sent = 0;
  const dripping = (async () => {
    while (!c.closed && sent < 100) {
      await c.write("1\r\nx\r\n");
      sent++;
      await sleep(DRIP_MS);
    }
  })();
  await refusedLate(c);
  await dripping;
  expect(sent).toBeLessThan(100);
  expect(handled).toEqual([]);
}, 30_000);

test("a body stalled half-way gets 408 at the deadline's timer, before the idle timeout", async () => {
  handled.length = 0;
  const c = await RawConn.open(s.port);
  await c.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nxxx");
  const t0 = Date.now();
  await refusedLate(c);
  expect(Date.now() - t0).toBeLessThan(IDLE_S * 1000);
  expect(handled).toEqual([]);
}, 30_000);

test("a slow body that ends within its deadline is answered, and the connection stays", async () => {
  handled.length = 0;
  const c = await RawConn.open(s.port);
  await c.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");
  await drip(c, "abcde"); // 1.5 s, within BODY_S
  const a = await c.next();
  expect([a.status, a.body.toString()]).toEqual([200, "abcde"]);
  // Each body has its own clock: a second slow body on the same connection, past BODY_S after the first began.
  await c.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");
  await drip(c, "fghij");
  const b = await c.next();
  expect([b.status, b.body.toString(), c.closed]).toEqual([200, "fghij", false]);
  expect(handled).toEqual(["abcde", "fghij"]);
  c.destroy();
}, 30_000);

test("a body its client holds back until the 100 Continue has its clock start at the 100, not at the head", async () => {
  handled.length = 0;
  const c = await RawConn.open(s.port);
  // A slow answer first: the 100 Continue for the POST behind it comes only after it, past BODY_S after the POST's head.
  const wait = BODY_S * 1000 + 1_500;
  await c.write(`GET /slow?ms=${wait} HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n`);
  const first = await c.next("the slow answer", wait + 10_000);
  expect(first.status).toBe(200);
  const cont = await c.next("the 100 Continue");
  expect(cont.status).toBe(100);
  await c.write("body");
  const a = await c.next();
  expect([a.status, a.body.toString()]).toEqual([200, "body"]);
  c.destroy();
}, 30_000);

test("a body its client went silent on gets 408 at the idle timeout (before its own deadline), its handler never run", async () => {
  handled.length = 0;
  const quick = serve({ hostname: "127.0.0.1", port: 0, fetch: app, idleTimeout: 2, headTimeout: 2, bodyTimeout: 30, refusal: serverRefusal() });
  try {
    const c = await RawConn.open(quick.port);
    await c.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nx");
    const t0 = Date.now();
    await refusedLate(c);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(handled).toEqual([]);
  } finally {
    await quick.stop();
  }
}, 30_000);
