/**
 * The mesh's sockets behave the same through Bun's own sockets (what the
 * mesh uses under Bun) as through node:net (what it uses under Deno, and
 * with TLS): writes of any size arrive whole and in order with backpressure
 * through drain, ends flush what was written and still read, a refused dial
 * is an ECONNREFUSED error then close, a reset an error then close, destroy
 * a close that comes once and never from inside destroy().
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { bunDial, bunListen } from "../../adapter/bun/sockets.ts";
import { nodeDial, nodeListen } from "../../adapter/sockets.ts";
import type { ByteStream } from "../../mesh/tcp/types.ts";
import { waitFor, within } from "../mesh/tcp/wait.ts";

interface Impl {
  listen(onSocket: (s: ByteStream) => void): Promise<{ port: number; close(): Promise<void> }>;
  dial(port: number): { stream: ByteStream; onReady(fn: () => void): void };
}

const impls: Record<string, Impl> = {
  "node:net": {
    listen: (onSocket) => nodeListen("127.0.0.1", 0, undefined, { onSocket, onTlsError: () => undefined }),
    dial: (port) => nodeDial("127.0.0.1", port, undefined),
  },
  "Bun sockets": {
    listen: async (onSocket) => bunListen("127.0.0.1", 0, onSocket),
    dial: (port) => bunDial("127.0.0.1", port),
  },
};

/** A stream with its events recorded: bytes read, and the other events in order. */
class Rec {
  readonly chunks: Uint8Array[] = [];
  readonly events: string[] = [];
  bytes = 0;
  constructor(readonly s: ByteStream) {
    s.listen({
      data: (c) => {
        this.chunks.push(c.slice());
        this.bytes += c.length;
      },
      end: () => this.events.push("end"),
      error: (code) => this.events.push(`error ${code}`),
      drain: () => this.events.push("drain"),
      close: () => this.events.push("close"),
    });
  }
  all(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
  get closed(): boolean {
    return this.events.includes("close");
  }
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A listener and one connection to it, both recorded, once connected. */
async function pair(impl: Impl): Promise<{ client: Rec; server: Rec }> {
  let server: Rec | null = null;
  const l = await impl.listen((s) => (server = new Rec(s)));
  const d = impl.dial(l.port);
  const client = new Rec(d.stream);
  cleanup.push(async () => {
    client.s.destroy();
    (server as Rec | null)?.s.destroy();
    await within("listener close", l.close(), 5000);
  });
  await within("connect", new Promise<void>((r) => d.onReady(r)), 5000);
  const s = await waitFor("accepted", () => server, 5000);
  return { client, server: s };
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

for (const [name, impl] of Object.entries(impls)) {
  describe(`mesh sockets through ${name}`, () => {
    test("MiBs written while the reader is paused arrive whole and in order, with false from write and one drain", async () => {
      const { client, server } = await pair(impl);
      server.s.pause!();
      const parts = [pattern(3 << 20, 1), pattern(10, 2), pattern(8 << 20, 3), pattern(1, 4), pattern(5 << 20, 5)];
      const answers = parts.map((p) => client.s.write(p));
      expect(answers).toContain(false);
      await new Promise((r) => setTimeout(r, 50));
      expect(client.events).not.toContain("drain");
      server.s.resume!();
      const total = parts.reduce((n, p) => n + p.length, 0);
      await waitFor("all bytes", () => server.bytes === total);
      expect(Buffer.compare(server.all(), Buffer.concat(parts))).toBe(0);
      await waitFor("drain", () => client.events.includes("drain"));
      expect(client.events).toEqual(["drain"]);
      // Writes go on after the drain.
      expect(client.s.write(pattern(100, 6))).toBe(true);
      await waitFor("more bytes", () => server.bytes === total + 100);
    });

    test("end() sends what waits, then FIN; the peer sees end then close, and so does the ender", async () => {
      const { client, server } = await pair(impl);
      server.s.pause!();
      const big = pattern(6 << 20, 7);
      client.s.write(big);
      client.s.end();
      expect(client.s.destroyed).toBe(false);
      await new Promise((r) => setTimeout(r, 30));
      server.s.resume!();
      await waitFor("peer closed", () => server.closed);
      expect(server.bytes).toBe(big.length);
      expect(server.events).toEqual(["end", "close"]);
      await waitFor("ender closed", () => client.closed);
      expect(client.events.filter((e) => e.startsWith("error"))).toEqual([]);
      expect(client.s.destroyed).toBe(true);
    });

    test("after end() the ender still reads, so its last bytes reach a peer that was still sending (no reset)", async () => {
      const { client, server } = await pair(impl);
      // The server sends and the client never handles it (as a refusing node ignores what comes after its refusal).
      client.s.pause!();
      server.s.write(pattern(64 << 10, 8));
      await new Promise((r) => setTimeout(r, 20));
      client.s.write(pattern(1000, 9));
      client.s.end();
      await waitFor("peer saw the end", () => server.events.includes("end") || server.closed);
      expect(server.bytes).toBe(1000);
      expect(server.events.filter((e) => e.startsWith("error"))).toEqual([]);
    });

    test("destroy(): close once, later, never from inside destroy(); no error; the peer sees the connection go", async () => {
      const { client, server } = await pair(impl);
      client.s.destroy();
      expect(client.events).toEqual([]);
      expect(client.s.destroyed).toBe(true);
      client.s.destroy();
      await waitFor("close", () => client.closed);
      await new Promise((r) => setTimeout(r, 20));
      // Bun's node:net also emits "end" after destroy() (the mesh's connection, closed by then, ignores it).
      expect(client.events.filter((e) => e !== "end")).toEqual(["close"]);
      await waitFor("peer closed", () => server.closed);
      expect(server.events.at(-1)).toBe("close");
    });

    test("a peer that resets the connection gives error ECONNRESET, then close", async () => {
      // The peer: a bare Bun socket that aborts (SO_LINGER 0) once the dialer has written.
      const peer = Bun.listen({
        hostname: "127.0.0.1",
        port: 0,
        socket: { data: (sock) => sock.terminate() },
      });
      cleanup.push(() => peer.stop(true));
      const d = impl.dial(peer.port);
      const client = new Rec(d.stream);
      d.onReady(() => client.s.write(pattern(10, 10)));
      await waitFor("client closed", () => client.closed);
      expect(client.events).toEqual(["error ECONNRESET", "close"]);
    });

    test("a refused dial is error ECONNREFUSED, then close; never ready", async () => {
      const port = await freePort();
      const d = impl.dial(port);
      const rec = new Rec(d.stream);
      let ready = false;
      d.onReady(() => (ready = true));
      await waitFor("close", () => rec.closed);
      expect(rec.events).toEqual(["error ECONNREFUSED", "close"]);
      expect(ready).toBe(false);
    });

    test("destroy() while connecting closes at once and the dial never becomes ready", async () => {
      let accepted: Rec | null = null;
      const l = await impl.listen((s) => (accepted = new Rec(s)));
      cleanup.push(() => within("listener close", l.close(), 5000));
      const d = impl.dial(l.port);
      const rec = new Rec(d.stream);
      let ready = false;
      d.onReady(() => (ready = true));
      d.stream.destroy();
      await waitFor("close", () => rec.closed);
      await new Promise((r) => setTimeout(r, 50));
      expect(ready).toBe(false);
      expect(rec.events).toEqual(["close"]);
      // The listener may have accepted the connection; if so it went away again.
      if (accepted !== null) await waitFor("accepted one closed", () => (accepted as Rec).closed);
    });

    test("no data while paused; resume hands it over", async () => {
      const { client, server } = await pair(impl);
      client.s.pause!();
      server.s.write(pattern(500, 11));
      await new Promise((r) => setTimeout(r, 40));
      expect(client.bytes).toBe(0);
      client.s.resume!();
      await waitFor("data", () => client.bytes === 500);
    });

    test("a listener's close settles once its connections are closed", async () => {
      let server: Rec | null = null;
      const l = await impl.listen((s) => (server = new Rec(s)));
      const d = impl.dial(l.port);
      const client = new Rec(d.stream);
      cleanup.push(() => client.s.destroy());
      const s = await waitFor("accepted", () => server);
      let settled = false;
      const closing = l.close().then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 30));
      expect(settled).toBe(false);
      s.s.destroy();
      await within("listener close", closing, 5000);
      // New dials are refused.
      const again = new Rec(impl.dial(l.port).stream);
      await waitFor("refused", () => again.closed);
      expect(again.events[0]).toBe("error ECONNREFUSED");
    });
  });
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
