/**
 * A slow reader of a big answer is not cut off at the idle timeout while
 * the socket still takes the answer now and then (WRITE_STALL_S): the kernel
 * says a socket is writable again only once much of its buffer drained, so a
 * client reading a dump at 100 KB/s heard nothing for 20 s at a time and was
 * reset half-way. One that reads nothing at all is still dropped.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { type Served, serve } from "../../../adapter/serve.ts";

const IDLE = 2;
const STALL = 5;
const BIG = new Uint8Array(24 * 1024 * 1024).fill(0x62);

let s: Served;
beforeAll(() => {
  s = serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(BIG), idleTimeout: IDLE, writeStallTimeout: STALL });
});
afterAll(async () => {
  await s?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connection that asked for the big answer, paused (reading nothing) until resumed; bytes read, and whether it closed. */
async function askPaused(): Promise<{ sock: Socket; bytes: () => number; closed: () => boolean }> {
  const sock = connect(s.port, "127.0.0.1");
  let bytes = 0;
  let closed = false;
  sock.on("data", (d: Buffer) => (bytes += d.length));
  sock.on("close", () => (closed = true));
  sock.on("error", () => {});
  await new Promise<void>((r) => sock.once("connect", () => r()));
  sock.write("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
  sock.pause();
  return { sock, bytes: () => bytes, closed: () => closed };
}

test("a reader silent past the idle timeout, but within the write-stall timeout, still gets the whole answer", async () => {
  const r = await askPaused();
  // Past the idle timeout's latest run-out (2 s armed, Bun's 4 s tick), inside the 5 s stall allowance.
  await sleep(4_500);
  expect(r.closed()).toBe(false);
  r.sock.resume();
  const deadline = Date.now() + 30_000;
  while (!r.closed() && r.bytes() < BIG.length && Date.now() < deadline) await sleep(20);
  expect(r.closed()).toBe(false);
  expect(r.bytes()).toBeGreaterThan(BIG.length);
  r.sock.destroy();
}, 40_000);

test("a reader that takes nothing is dropped once the write-stall timeout has passed", async () => {
  const r = await askPaused();
  const t0 = Date.now();
  // STALL, then an idle timeout's run-out (at most IDLE + a 4 s tick), and a margin for a loaded machine.
  const deadline = t0 + (STALL + IDLE + 4 + 6) * 1000;
  while (!r.closed() && Date.now() < deadline) await sleep(50);
  expect(r.closed()).toBe(true);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(STALL * 1000 - 500);
  r.sock.destroy();
}, 40_000);
