/**
 * Routes whose answers may be big (ExactRoute.alone: a dump, the CRDT, the
 * room list): on a connection with pipelined requests one starts only once
 * every answer before it was written. A client that pipelined 200 dumps on
 * each of 4 connections and read none took a node from 180 MB to 2.6 GB
 * (128 started at once per connection); now a connection holds one.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { type Served, serve } from "../../../adapter/serve.ts";
import { RawConn } from "./serve-raw.ts";

/** A big answer: 4 MiB, more than loopback's socket buffers take at once from a reader that reads nothing. */
const BIG = new Uint8Array(4 * 1024 * 1024).fill(0x61);
const servers: Served[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

/** A server whose GET /big answers BIG (counting its starts), `alone` or not; POST /bump counts, GET /count reads the count. */
function bigServer(alone: boolean): { port: number; starts: () => number } {
  let starts = 0;
  let bumps = 0;
  const big = (): Response => {
    starts++;
    return new Response(BIG.slice(), { headers: { "x-bumps": String(bumps) } });
  };
  const s = serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response("nope", { status: 404 }),
    routes: [
      { method: "GET", path: "/big", handler: big, alone },
      { method: "POST", path: "/bump", handler: () => Response.json({ bumps: ++bumps }) },
      { method: "GET", path: "/slow", handler: () => new Promise<Response>((r) => setTimeout(() => r(new Response("slow")), 100)) },
    ],
  });
  servers.push(s);
  return { port: s.port, starts: () => starts };
}

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`;
const BUMP = "POST /bump HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";

/** Polls `starts` until it has not moved for `quietMs` (bounded by `deadlineMs`); its value then. */
async function settledStarts(starts: () => number, quietMs: number, deadlineMs = 10_000): Promise<number> {
  const end = Date.now() + deadlineMs;
  let last = starts();
  let since = Date.now();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    const now = starts();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return now;
  }
  return starts();
}

describe("big answers one at a time per connection", () => {
  test("50 pipelined big GETs from a client that reads nothing: only those whose turn came start; all 50 come, in order, once it reads", async () => {
    const srv = bigServer(true);
    const c = await RawConn.open(srv.port);
    c.sock.pause(); // reads nothing: the kernel's buffers fill, then the server's write waits
    await c.write(Array.from({ length: 50 }, () => GET("/big")).join(""));
    const started = await settledStarts(srv.starts, 500);
    // Loopback buffers take a few MiB before the write waits: a handful, not 50.
    expect(started).toBeGreaterThanOrEqual(1);
    expect(started).toBeLessThanOrEqual(6);
    c.sock.resume();
    const answers = await c.answers(50, 60_000);
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(answers.every((a) => a.body.length === BIG.length)).toBe(true);
    expect(srv.starts()).toBe(50);
    c.destroy();
  });

  test("the negative control: the same route not alone starts all 50 at once", async () => {
    const srv = bigServer(false);
    const c = await RawConn.open(srv.port);
    c.sock.pause();
    await c.write(Array.from({ length: 50 }, () => GET("/big")).join(""));
    expect(await settledStarts(srv.starts, 500)).toBe(50);
    c.destroy();
  });

  test("a write pipelined behind a held big GET waits for it: the GET answers as before the write", async () => {
    const srv = bigServer(true);
    const c = await RawConn.open(srv.port);
    // /slow keeps /big from the head of the queue for 100 ms; the write after /big must not run first.
    await c.write(GET("/slow") + GET("/big") + BUMP + GET("/big"));
    const [slow, big1, bump, big2] = await c.answers(4, 30_000);
    expect(slow!.body.toString()).toBe("slow");
    expect(big1!.headers["x-bumps"]).toBe("0");
    expect(JSON.parse(bump!.body.toString())).toEqual({ bumps: 1 });
    expect(big2!.headers["x-bumps"]).toBe("1");
    c.destroy();
  });
});
