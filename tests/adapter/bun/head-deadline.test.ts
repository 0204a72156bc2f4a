/**
 * The head deadline of the HTTP/1.1 server under Bun (adapter/bun/deadline.ts):
 * a request head must arrive whole within headTimeout of its first byte, else
 * 408 (the refusal's JSON) and a close. Every byte re-arms the idle timeout,
 * so without it a client dripping a head (slowloris) held its connection for
 * ever. Quick heads, heads in a few quick chunks, slow bodies and the silence
 * between keep-alive requests are not its business.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { type Served, serve } from "../../../adapter/serve.ts";
import { serverRefusal } from "../../../http/app.ts";
import { drip as dripEvery, pace, RawConn, refusedLate as late408 } from "./serve-raw.ts";

const HEAD_S = 2;
/** Far past HEAD_S (its timer runs out 8 to 12 s after a byte), so a close before it is the head deadline's. */
const IDLE_S = 10;
const DRIP_MS = 300;
/** The head deadline, then Bun's 4 s timer tick and a re-arm, with room for a loaded machine. */
const LATE_MS = HEAD_S * 1000 + 6_000;
/** A head that takes DRIP_MS * its length (about 40 s) to drip: it never gets to its end. */
const LONG_HEAD = `GET /echo HTTP/1.1\r\nHost: t\r\nX-Pad: ${"a".repeat(100)}\r\n\r\n`;

async function app(req: Request): Promise<Response> {
  return new Response(req.method === "POST" ? await req.text() : "ok");
}

let s: Served;
beforeAll(() => {
  s = serve({ hostname: "127.0.0.1", port: 0, fetch: app, idleTimeout: IDLE_S, headTimeout: HEAD_S, refusal: serverRefusal() });
});
afterAll(async () => {
  await s?.stop();
});

const sleep = pace;
const drip = (c: RawConn, text: string): Promise<number> => dripEvery(c, text, DRIP_MS);
const refusedLate = (c: RawConn) => late408(c, "head", LATE_MS);
const GET = "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n";

test("a head dripped a byte at a time gets 408 at the deadline and the connection closes", async () => {
  const c = await RawConn.open(s.port);
  const start = performance.now();
  const sent = drip(c, LONG_HEAD);
  await refusedLate(c);
  // Not before the deadline (the clock started at the first byte), and long before the head could end.
  expect(performance.now() - start).toBeGreaterThanOrEqual(HEAD_S * 1000 - 50);
  expect(await sent).toBeLessThan(LONG_HEAD.length / 2);
}, 20_000);

test("a head stalled half-way gets 408 at the deadline's timer, before the idle timeout", async () => {
  const c = await RawConn.open(s.port);
  await c.write("GET /echo HTTP/1.1\r\nHost: t\r\n");
  await refusedLate(c); // the idle timeout would close it unanswered, 8 s at the earliest
}, 20_000);

test("a complete head is answered, in one write or a few quick chunks, and the connection stays", async () => {
  const c = await RawConn.open(s.port);
  await c.write(GET);
  expect((await c.next()).body.toString()).toBe("ok");
  // A head split in 6 chunks over 1.2 s (less than HEAD_S): still in time.
  const head = `POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n`;
  for (let i = 0; i < 6; i++) {
    await c.write(head.slice((i * head.length) / 6, ((i + 1) * head.length) / 6));
    await sleep(200);
  }
  await c.write("hello");
  const a = await c.next();
  expect([a.status, a.body.toString()]).toEqual([200, "hello"]);
  expect(c.closed).toBe(false);
  c.destroy();
});

test("each head has its own clock: requests cut mid-head at every write, for longer than the deadline, are all answered", async () => {
  const c = await RawConn.open(s.port);
  // Every write ends half-way into the next head, so some head is always under way on this connection.
  const n = Math.ceil((HEAD_S * 1500) / 250);
  const half = Math.floor(GET.length / 2);
  await c.write(GET.slice(0, half));
  for (let i = 0; i < n; i++) {
    await sleep(250);
    await c.write(GET.slice(half) + GET.slice(0, half));
  }
  await c.write(GET.slice(half));
  const answers = await c.answers(n + 1);
  expect(answers.map((a) => a.status)).toEqual(Array<number>(n + 1).fill(200));
  expect(c.closed).toBe(false);
  c.destroy();
}, 15_000);

test("a slow body is not the head deadline's business", async () => {
  const c = await RawConn.open(s.port);
  await c.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n");
  for (let i = 0; i < 10; i++) {
    await sleep(DRIP_MS); // 3 s in all, past HEAD_S
    await c.write("x");
  }
  const a = await c.next();
  expect([a.status, a.body.toString()]).toEqual([200, "x".repeat(10)]);
  c.destroy();
}, 15_000);

test("between keep-alive requests the idle timeout governs; the next head's clock starts at its first byte", async () => {
  const c = await RawConn.open(s.port);
  await c.write(GET);
  expect((await c.next()).status).toBe(200);
  await sleep(HEAD_S * 1000 * 2); // silent past the head deadline, well within the idle timeout
  expect(c.closed).toBe(false);
  await c.write(GET);
  expect((await c.next("the answer after a silence")).status).toBe(200);
  await sleep(HEAD_S * 1000 * 2);
  // Then a dripped head: refused HEAD_S after its own first byte, not at once for the silence before it.
  const start = performance.now();
  const sent = drip(c, LONG_HEAD);
  await refusedLate(c);
  expect(performance.now() - start).toBeGreaterThanOrEqual(HEAD_S * 1000 - 50);
  expect(await sent).toBeGreaterThan(1);
}, 30_000);

test("an empty line between requests split across two writes does not start the head's clock", async () => {
  const c = await RawConn.open(s.port);
  await c.write(GET);
  expect((await c.next()).status).toBe(200);
  // RFC 9112 2.2: an extra CRLF after a request is allowed; its CR and LF in two writes.
  await c.write("\r");
  await sleep(200);
  await c.write("\n");
  await sleep(HEAD_S * 1000 + 4_000); // past the deadline and a timer tick: no 408 is due
  expect(c.closed).toBe(false);
  await c.write(GET);
  expect((await c.next("the answer after the split empty line")).status).toBe(200);
}, 30_000);

test("a drip of empty lines is refused as a dripped head is: past two, they start the head's clock", async () => {
  const c = await RawConn.open(s.port);
  const sent = (async () => {
    for (let i = 0; i < 100 && !c.closed; i++) {
      await c.write("\r\n");
      await sleep(DRIP_MS);
    }
  })();
  await refusedLate(c);
  await sent;
}, 30_000);

test("a client that stops reading with a head half-sent behind an unsent answer is cut off once the answer's write stalls, after the 408", async () => {
  const big = new Uint8Array(32 * 1024 * 1024);
  // The write-stall timeout (60 s by default, bun/deadline.ts) governs an answer going out: 2 s here.
  const srv = serve({ hostname: "127.0.0.1", port: 0, fetch: async () => new Response(big), idleTimeout: 2, headTimeout: 1, writeStallTimeout: 2, refusal: serverRefusal() });
  try {
    const sock = connect(srv.port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    let closed = false;
    sock.on("close", () => void (closed = true));
    sock.on("error", () => {});
    sock.pause(); // never reads: the answer stays half-written
    sock.write(`${GET}GET /echo HTTP/1.1\r\n`);
    const deadline = performance.now() + 20_000;
    while (!closed && performance.now() < deadline) await sleep(100);
    expect(closed).toBe(true);
    sock.destroy();
  } finally {
    await srv.stop();
  }
}, 30_000);
