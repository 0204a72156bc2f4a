/**
 * The HTTP/1.1 server under Bun (adapter/bun/serve.ts), spoken to over raw
 * sockets: request framing (Content-Length, chunked, 100-continue), HTTP/1.0
 * and Connection: close, malformed input refused with 400 and a close,
 * bodies past the cap refused with 413 before they are read, pipelined
 * requests answered in order whatever order their handlers finish in, and
 * large answers written whole through a slow reader.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { type Served, serve } from "../../../adapter/serve.ts";
import { RawConn } from "./serve-raw.ts";

const CAP = 64 * 1024;
/** Handlers of /hold/* waiting to be let go, in arrival order. */
const held: { i: number; release: () => void }[] = [];
/** Bodies the /echo handler was called with. */
const calls: string[] = [];
const BIG_JSON = JSON.stringify({ text: "é€😀".repeat(300_000) }); // non-ASCII: bytes differ from characters
const BIG_BIN = Uint8Array.from({ length: 8 * 1024 * 1024 + 7 }, (_, i) => (i * 7919) & 0xff);

async function app(req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname === "/echo") {
    const body = await req.text();
    calls.push(body);
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => (headers[k] = v));
    return Response.json({ method: req.method, url: req.url, body, headers });
  }
  if (url.pathname === "/mutate") {
    const before = req.headers.get("x-tag");
    req.headers.set("x-tag", "changed by the handler");
    return Response.json({ before });
  }
  if (url.pathname.startsWith("/hold/")) {
    const i = Number(url.pathname.slice(6));
    await new Promise<void>((release) => held.push({ i, release }));
    return Response.json({ i });
  }
  if (url.pathname === "/latin1") return new Response("é", { headers: { "x-name": "caf\u00e9" } });
  if (url.pathname === "/big.json") return new Response(BIG_JSON, { headers: { "content-type": "application/json" } });
  if (url.pathname === "/big.bin") return new Response(BIG_BIN, { headers: { "content-type": "application/octet-stream" } });
  return new Response("nope", { status: 404 });
}

let s: Served;
beforeAll(() => {
  s = serve({ hostname: "127.0.0.1", port: 0, fetch: app, maxRequestBodySize: CAP });
});
afterAll(async () => {
  await s?.stop();
});

const post = (path: string, body: string, extra = "") =>
  `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
const json = (b: Buffer) => JSON.parse(b.toString("utf8")) as Record<string, unknown>;

describe("request bodies", () => {
  test("a chunked body (extensions, trailers, split at every byte) reaches the handler whole", async () => {
    const c = await RawConn.open(s.port);
    const req =
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n" +
      post("/echo", "after");
    for (const ch of req) await c.write(ch);
    const [a, b] = await c.answers(2);
    expect([a!.status, json(a!.body).body]).toEqual([200, "hello 0123456789"]);
    expect([b!.status, json(b!.body).body]).toEqual([200, "after"]);
    expect(c.closed).toBe(false);
    c.destroy();
  });

  test("Expect: 100-continue is answered 100 before the body is sent, then the answer", async () => {
    const c = await RawConn.open(s.port);
    const body = JSON.stringify({ x: "y".repeat(2000) });
    await c.write(`POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    expect((await c.next("100 Continue")).status).toBe(100);
    await c.write(body);
    const a = await c.next();
    expect([a.status, json(a.body).body]).toEqual([200, body]);
    c.destroy();
  });

  test("a 100-continue request behind an unfinished one gets its 100 only after the first answer", async () => {
    const c = await RawConn.open(s.port);
    await c.write(`GET /hold/1 HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n`);
    await c.until("the held handler", () => (held.some((h) => h.i === 1) ? true : undefined));
    expect(c.rest.length).toBe(0);
    held.splice(0).forEach((h) => h.release());
    const [first, cont] = await c.answers(2);
    expect([first!.status, json(first!.body)]).toEqual([200, { i: 1 }]);
    expect(cont!.status).toBe(100);
    await c.write("ok");
    expect(json((await c.next()).body).body).toBe("ok");
    c.destroy();
  });

  test("a declared body past the cap gets a bare 413 (no 100) and a close, and the handler is not called", async () => {
    const before = calls.length;
    const c = await RawConn.open(s.port);
    await c.write(`POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: ${CAP + 1}\r\n\r\n`);
    const a = await c.next();
    expect([a.status, a.body.length, a.headers["connection"]]).toEqual([413, 0, "close"]);
    await c.closedSoon();
    expect(calls.length).toBe(before);
  });

  test("a chunked body streaming past the cap is cut off with 413 and a close, unread", async () => {
    const before = calls.length;
    const c = await RawConn.open(s.port);
    await c.write("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    const chunk = `1000\r\n${"z".repeat(0x1000)}\r\n`;
    // Keep streaming until the server answers: it must not wait for the end of a body it refuses.
    let sent = 0;
    while (c.rest.length === 0 && !c.closed && sent < 4 * CAP) {
      await c.write(chunk);
      sent += 0x1000;
    }
    const a = await c.next();
    expect([a.status, a.body.length]).toEqual([413, 0]);
    expect(sent).toBeLessThanOrEqual(CAP + 0x1000 * 64); // what was in flight, not the whole stream
    await c.closedSoon();
    expect(calls.length).toBe(before);
  });
});

describe("connections", () => {
  test("HTTP/1.0 closes after its answer unless it asks to keep alive", async () => {
    const c = await RawConn.open(s.port);
    await c.write("GET /echo HTTP/1.0\r\nHost: t\r\n\r\n");
    const a = await c.next();
    expect([a.status, json(a.body).method]).toEqual([200, "GET"]);
    await c.closedSoon();

    const k = await RawConn.open(s.port);
    await k.write("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    expect((await k.next()).headers["connection"]).toBe("keep-alive");
    await k.write("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    expect((await k.next()).status).toBe(200);
    expect(k.closed).toBe(false);
    k.destroy();
  });

  test("Connection: close: answered, then closed; requests after it are not run", async () => {
    const before = calls.length;
    const c = await RawConn.open(s.port);
    await c.write(post("/echo", "last", "Connection: close\r\n") + post("/echo", "never"));
    const a = await c.next();
    expect([a.status, json(a.body).body, a.headers["connection"]]).toEqual([200, "last", "close"]);
    await c.closedSoon();
    expect(calls.slice(before)).toEqual(["last"]);
  });

  test("Connection: close with its body arriving in pieces: the body is still read, then answered and closed", async () => {
    const c = await RawConn.open(s.port);
    await c.write("POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 10\r\n\r\nhello");
    await new Promise((r) => setTimeout(r, 50));
    await c.write("world");
    const a = await c.next();
    expect([a.status, json(a.body).body]).toEqual([200, "helloworld"]);
    await c.closedSoon();
  });

  test("an idle connection is closed after idleTimeout; one whose handler is still at work is not", async () => {
    const quick = serve({ hostname: "127.0.0.1", port: 0, fetch: app, idleTimeout: 1 });
    try {
      // The busy one first: without traffic its timer runs out no later than the idle one's.
      const waiting = await RawConn.open(quick.port);
      await waiting.write("GET /hold/900 HTTP/1.1\r\n\r\n");
      const idle = await RawConn.open(quick.port);
      await idle.write("GET /echo HTTP/1.1\r\n\r\n");
      expect((await idle.next()).status).toBe(200);
      await idle.closedSoon(15_000);
      expect(waiting.closed).toBe(false);
      held.splice(held.findIndex((h) => h.i === 900), 1)[0]!.release();
      expect(json((await waiting.next("the held answer", 5000)).body)).toEqual({ i: 900 });
      waiting.destroy();
    } finally {
      await quick.stop();
    }
  }, 30_000);

  test("a client that half-closes after its requests (pipelined, one slow) gets every answer, then the close", async () => {
    const c = await RawConn.open(s.port);
    c.sock.end(`GET /hold/700 HTTP/1.1\r\n\r\n${post("/echo", "second")}`);
    await c.until("the held handler", () => (held.some((h) => h.i === 700) ? true : undefined));
    held.splice(held.findIndex((h) => h.i === 700), 1)[0]!.release();
    const [a, b] = await c.answers(2);
    expect([json(a!.body), json(b!.body).body]).toEqual([{ i: 700 }, "second"]);
    await c.closedSoon();
  });

  test("the Request has the method, the URL on the listening address, the headers (repeats joined) and the body", async () => {
    const c = await RawConn.open(s.port);
    await c.write(`POST /echo?a=1&b=%20 HTTP/1.1\r\nHost: elsewhere\r\nX-Two: a\r\nx-two: b\r\nContent-Length: 3\r\n\r\n\r\n\r\nabc`);
    const got = json((await c.next()).body);
    expect(got).toMatchObject({ method: "POST", url: `${s.url}/echo?a=1&b=%20`, body: "\r\n\r" });
    expect((got.headers as Record<string, string>)["x-two"]).toBe("a, b");
    c.destroy();
  });

  test("requests with the same header section each get their own headers: a handler changing its copy changes no other", async () => {
    const c = await RawConn.open(s.port);
    const same = "GET /mutate HTTP/1.1\r\nHost: t\r\nX-Tag: original\r\n\r\n";
    await c.write(same + same);
    const [a, b] = await c.answers(2);
    expect([json(a!.body), json(b!.body)]).toEqual([{ before: "original" }, { before: "original" }]);
    await c.write(same);
    expect(json((await c.next()).body)).toEqual({ before: "original" });
    c.destroy();
  });

  test("a port in use throws at once, with Bun.serve's message and code EADDRINUSE; port 0 picks one; stop() closes connections", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as { port: number }).port;
    try {
      expect(() => serve({ hostname: "127.0.0.1", port, fetch: app })).toThrow(`Failed to start server. Is port ${port} in use?`);
      let code: unknown;
      try {
        serve({ hostname: "127.0.0.1", port, fetch: app });
      } catch (err) {
        code = (err as { code?: unknown }).code;
      }
      expect(code).toBe("EADDRINUSE");
    } finally {
      taken.close();
    }
    const other = serve({ hostname: "127.0.0.1", port: 0, fetch: app });
    expect(other.port).toBeGreaterThan(0);
    expect(other.url).toBe(`http://127.0.0.1:${other.port}`);
    const c = await RawConn.open(other.port);
    await c.write("GET /echo HTTP/1.1\r\n\r\n");
    expect((await c.next()).status).toBe(200);
    await other.stop();
    await c.closedSoon();
  });
});

describe("malformed requests get a bare 400 and a close; the server keeps serving", () => {
  const cases: [string, string][] = [
    ["no version", "GET /echo\r\n\r\n"],
    ["an unknown version", "GET /echo HTTP/2.0\r\n\r\n"],
    ["a space in the target", "GET /ec ho HTTP/1.1\r\n\r\n"],
    ["a bad method", "G(T /echo HTTP/1.1\r\n\r\n"],
    ["a header without a colon", "GET /echo HTTP/1.1\r\nHost t\r\n\r\n"],
    ["a space before the colon", "GET /echo HTTP/1.1\r\nHost : t\r\n\r\n"],
    ["a folded header", "GET /echo HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n"],
    ["a control character in a value", "GET /echo HTTP/1.1\r\nX-A: b\x01c\r\n\r\n"],
    ["both Content-Length and Transfer-Encoding", "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"],
    ["two different Content-Lengths", "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"],
    ["a negative Content-Length", "POST /echo HTTP/1.1\r\nContent-Length: -3\r\n\r\nabc"],
    ["a transfer coding other than chunked", "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"],
    ["a bad chunk size", "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"],
    ["chunk data longer than its size", "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"],
    ["a header section past 64 KiB", `GET /echo HTTP/1.1\r\nX-Long: ${"a".repeat(65 * 1024)}\r\n\r\n`],
    ["a header section past 64 KiB, never ended", `GET /echo HTTP/1.1\r\nX-Long: ${"a".repeat(70 * 1024)}`],
    // Refused at once, not at the idle timeout: such a head can never end the way this parser takes.
    ["lines ended by a bare LF, the head not yet ended", "GET /echo HTTP/1.1\nHost: t\n"],
    ["a TLS ClientHello (a first byte that starts no method)", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"],
  ];
  for (const [what, bytes] of cases) {
    test(what, async () => {
      const before = calls.length;
      const c = await RawConn.open(s.port);
      // A good request first: its answer still comes, before the 400.
      await c.write(post("/echo", "fine") + bytes);
      const [ok, bad] = await c.answers(2);
      expect([ok!.status, json(ok!.body).body]).toEqual([200, "fine"]);
      expect([bad?.status, bad?.body.length]).toEqual([400, 0]);
      await c.closedSoon();
      expect(calls.slice(before)).toEqual(["fine"]);
    });
  }
});

describe("pipelined writes run in request order (RFC 9112 9.3.2); reads between them side by side", () => {
  const req = (method: string, path: string) => (method === "POST" ? post(path, "") : `${method} ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
  const started = () => held.map((h) => h.i);
  const release = async (i: number) => {
    const k = held.findIndex((h) => h.i === i);
    expect(k).toBeGreaterThanOrEqual(0);
    held.splice(k, 1)[0]!.release();
    await new Promise((r) => setTimeout(r, 20)); // any handler its end lets start has started by then
  };

  test("a write starts only after every request before it finished, and nothing after it starts before it finishes", async () => {
    held.length = 0;
    const c = await RawConn.open(s.port);
    await c.write([req("GET", "/hold/0"), req("GET", "/hold/1"), req("POST", "/hold/2"), req("GET", "/hold/3"), req("GET", "/hold/4"), req("POST", "/hold/5")].join(""));
    await c.until("the two reads started", () => (held.length === 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 50));
    expect(started()).toEqual([0, 1]); // the write waits for both reads before it
    await release(1);
    expect(started()).toEqual([0]);
    await release(0);
    expect(started()).toEqual([2]); // alone: the reads after it wait
    await release(2);
    expect(started()).toEqual([3, 4]); // both reads, side by side
    await release(4);
    await release(3);
    expect(started()).toEqual([5]);
    await release(5);
    const answers = await c.answers(6);
    expect(answers.map((a) => json(a.body).i)).toEqual([0, 1, 2, 3, 4, 5]);
    c.destroy();
  });

  test("writes pipelined back to back run one at a time, in order", async () => {
    held.length = 0;
    const c = await RawConn.open(s.port);
    await c.write(Array.from({ length: 5 }, (_, i) => req("POST", `/hold/${i}`)).join(""));
    for (let i = 0; i < 5; i++) {
      await c.until(`write ${i} started`, () => (held.length === 1 ? true : undefined));
      expect(started()).toEqual([i]);
      await release(i);
    }
    expect((await c.answers(5)).map((a) => json(a.body).i)).toEqual([0, 1, 2, 3, 4]);
    c.destroy();
  });
});

describe("methods are case-sensitive; raw bytes past ASCII in the target are UTF-8", () => {
  test("a method a Request would not keep as sent (lower case, unknown) gets a 404 without reaching the app; the connection goes on", async () => {
    const before = calls.length;
    const c = await RawConn.open(s.port);
    await c.write(["get /echo HTTP/1.1\r\nHost: t\r\n\r\n", post("/echo", "x").replace("POST", "Post"), "FOO /echo HTTP/1.1\r\nHost: t\r\n\r\n", post("/echo", "fine")].join(""));
    const answers = await c.answers(4);
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 200]);
    expect(calls.slice(before)).toEqual(["fine"]);
    expect(c.closed).toBe(false);
    c.destroy();
  });

  test("a target with raw UTF-8 (as curl sends a query) reaches the app as that text; bytes that are not UTF-8 get a 400", async () => {
    const c = await RawConn.open(s.port);
    const utf8 = Buffer.concat([Buffer.from("POST /echo?room="), Buffer.from("café ü", "utf8").subarray(0, 5), Buffer.from(" HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")]);
    await c.write(utf8);
    const [ok] = await c.answers(1);
    expect(new URL(String(json(ok!.body).url)).searchParams.get("room")).toBe("café");
    await c.write(Buffer.concat([Buffer.from("GET /echo?room=caf"), Buffer.from([0xe9]), Buffer.from(" HTTP/1.1\r\nHost: t\r\n\r\n")]));
    const [bad] = await c.answers(1);
    expect(bad!.status).toBe(400);
    await c.closedSoon();
  });
});

describe("pipelining and backpressure", () => {
  test("100 pipelined requests all start before any answer, finish in reverse, and are answered in order", async () => {
    held.length = 0;
    const c = await RawConn.open(s.port);
    await c.write(Array.from({ length: 100 }, (_, i) => `GET /hold/${i} HTTP/1.1\r\nHost: t\r\n\r\n`).join(""));
    await c.until("all 100 handlers started", () => (held.length === 100 ? true : undefined));
    expect(c.rest.length).toBe(0);
    for (const h of held.splice(0).reverse()) {
      h.release();
      await new Promise((r) => setTimeout(r, 0));
    }
    const answers = await c.answers(100);
    expect(answers.map((a) => json(a.body).i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(c.closed).toBe(false);
    c.destroy();
  });

  test("300 pipelined requests (more than are started at once: reading pauses and resumes) are all answered in order", async () => {
    const c = await RawConn.open(s.port);
    await c.write(Array.from({ length: 300 }, (_, i) => post(`/echo`, String(i))).join(""));
    const answers = await c.answers(300, 30_000);
    expect(answers.map((a) => json(a.body).body)).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
    c.destroy();
  });

  test("header values go out as the byte strings they are (Latin-1), bodies as UTF-8", async () => {
    const c = await RawConn.open(s.port);
    await c.write("GET /latin1 HTTP/1.1\r\n\r\n");
    await c.until("the answer", () => (c.rest.indexOf("\r\n\r\n") >= 0 && c.rest.length >= c.rest.indexOf("\r\n\r\n") + 6 ? true : undefined));
    const raw = c.rest;
    expect(raw.indexOf(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0d, 0x0a]))).toBeGreaterThan(0); // "café" in Latin-1
    expect(raw.toString("latin1")).toContain("content-length: 2\r\n");
    expect(raw.subarray(raw.indexOf("\r\n\r\n") + 4)).toEqual(Buffer.from("é"));
    c.destroy();
  });

  test("a HEAD answer has the length of its body but not the body; the connection goes on", async () => {
    const c = await RawConn.open(s.port);
    await c.write("HEAD /big.json HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
    await c.until("both heads", () => (c.rest.indexOf("\r\n\r\n") >= 0 && c.rest.lastIndexOf("HTTP/1.1 200") > 0 ? true : undefined));
    const text = c.rest.toString("latin1");
    expect(text.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
    expect(text).toContain(`content-length: ${Buffer.byteLength(BIG_JSON)}\r\n`);
    // The next answer starts right after the HEAD answer's head: no body in between.
    expect(text.indexOf("HTTP/1.1 200", 1)).toBe(text.indexOf("\r\n\r\n") + 4);
    c.destroy();
  });

  test("large answers through a reader that stops reading are written whole, in order, after the socket drains", async () => {
    const c = await RawConn.open(s.port);
    c.sock.pause(); // the client's buffers fill: the server's writes come back partial
    await c.write("GET /big.json HTTP/1.1\r\n\r\nGET /big.bin HTTP/1.1\r\n\r\n" + post("/echo", "small"));
    await new Promise((r) => setTimeout(r, 300));
    c.sock.resume();
    const [a, b, e] = await c.answers(3, 30_000);
    expect(a!.body.length).toBe(Buffer.byteLength(BIG_JSON));
    expect(a!.body.equals(Buffer.from(BIG_JSON))).toBe(true);
    expect(b!.body.equals(Buffer.from(BIG_BIN))).toBe(true);
    expect(json(e!.body).body).toBe("small");
    c.destroy();
  });
});
