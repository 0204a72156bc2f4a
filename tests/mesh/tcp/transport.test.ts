import { afterEach, describe, expect, test } from "bun:test";
import * as net from "node:net";
import type { PeerChange } from "../../../mesh/tcp/transport.ts";
import {
  closeAll,
  constantRandom,
  freePort,
  received,
  skewableClock,
  startNode,
  rawPeer,
  startProxy,
  type TestNode,
} from "./helpers.ts";
import { waitFor, within } from "./wait.ts";

afterEach(closeAll);

/** True once `a` and `b` each hold exactly one committed connection to the other and no extra sockets. */
function settledPair(a: TestNode, b: TestNode): boolean {
  const ap = a.t.peers().filter((p) => p.address === b.t.local);
  const bp = b.t.peers().filter((p) => p.address === a.t.local);
  return ap.length === 1 && bp.length === 1 && ap[0]!.id === b.id && bp[0]!.id === a.id;
}

describe("tcp transport: delivery", () => {
  test("delivers messages in order and the receiver replies via `from`", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    b.t.onMessage((from, msg) => {
      b.got.push({ from, msg });
      b.t.send(from, { t: "pong", n: msg["n"] });
    });
    for (let i = 0; i < 200; i++) expect(a.t.send(b.t.local, { t: "ping", n: i })).toBe(true);
    await waitFor("200 pongs", () => received(a, "pong").length === 200);
    expect(received(b, "ping").map((m) => m["n"])).toEqual([...Array(200).keys()]);
    expect(received(a, "pong").map((m) => m["n"])).toEqual([...Array(200).keys()]);
    expect(b.got.every((g) => g.from === a.t.local)).toBe(true);
    expect(a.got.every((g) => g.from === b.t.local)).toBe(true);
    expect(a.t.peers()).toEqual([{ name: "b", id: b.id, address: b.t.local, direction: "out" }]);
    expect(b.t.peers()).toEqual([{ name: "a", id: a.id, address: a.t.local, direction: "in" }]);
  });

  test("reports the real port when bound to port 0, and the advertised address when given", async () => {
    const a = await startNode("a");
    expect(a.t.local).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    const port = await freePort();
    const b = await startNode("b", { bind: `127.0.0.1:${port}`, advertise: `localhost:${port}` });
    expect(b.t.local).toBe(`localhost:${port}`);
    // a dials the bind address; replies and `from` use the advertised one.
    a.t.send(`127.0.0.1:${port}`, { t: "hi" });
    await waitFor("b gets hi", () => received(b, "hi").length === 1);
    expect(b.got[0]!.from).toBe(a.t.local);
    b.t.send(a.t.local, { t: "back" });
    await waitFor("a gets back", () => received(a, "back").length === 1);
    expect(a.got[0]!.from).toBe(`localhost:${port}`);
    expect(a.t.peers().map((p) => p.address)).toEqual([`localhost:${port}`]);
  });

  test("three nodes exchange messages all-to-all over one connection per pair", async () => {
    const nodes = [await startNode("a"), await startNode("b"), await startNode("c")];
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        for (let i = 0; i < 50; i++) from.t.send(to.t.local, { t: "m", src: from.name, i });
      }
    }
    await waitFor("100 messages at each node", () => nodes.every((n) => received(n, "m").length === 100));
    for (const n of nodes) {
      for (const other of nodes) {
        if (other === n) continue;
        const fromOther = n.got.filter((g) => g.from === other.t.local).map((g) => g.msg["i"]);
        expect(fromOther).toEqual([...Array(50).keys()]);
      }
    }
    await waitFor("each pair settled", () => settledPair(nodes[0]!, nodes[1]!) && settledPair(nodes[1]!, nodes[2]!) && settledPair(nodes[0]!, nodes[2]!));
    await waitFor("two sockets per node", () => nodes.every((n) => n.t.stats().socketsOpen === 2));
  });

  test("a message to its own address is delivered locally", async () => {
    const a = await startNode("a");
    expect(a.t.send(a.t.local, { t: "self", b: new Uint8Array([1]) })).toBe(true);
    await waitFor("self message", () => received(a, "self").length === 1);
    expect(a.got[0]!.from).toBe(a.t.local);
    expect(a.t.stats().dials).toBe(0);
  });

  test("a node dialing itself under another name refuses the connection as itself, not as an intruder", async () => {
    const a = await startNode("a");
    const port = a.t.local.split(":")[1];
    expect(a.t.send(`localhost:${port}`, { t: "m" })).toBe(true);
    await waitFor("self dial given up", () => a.t.stats().dialFailures === 1);
    expect(a.t.stats().authFailures).toBe(0);
    expect(a.t.peers()).toEqual([]);
    expect(received(a, "m")).toEqual([]);
  });

  test("a throwing message handler does not break the connection", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    b.t.onMessage((from, msg) => {
      b.got.push({ from, msg });
      if (msg["n"] === 0) throw new Error("boom");
    });
    a.t.send(b.t.local, { t: "m", n: 0 });
    a.t.send(b.t.local, { t: "m", n: 1 });
    await waitFor("both delivered", () => b.got.length === 2);
    expect(b.logs.some((l) => l.level === "error" && l.msg.includes("handler threw"))).toBe(true);
  });
});

describe("tcp transport: one connection per pair", () => {
  test("simultaneous dials end with exactly one connection on both sides and no message lost", async () => {
    for (let round = 0; round < 5; round++) {
      const a = await startNode("a");
      const b = await startNode("b");
      const changes: PeerChange[] = [];
      a.t.onPeerChange((c) => changes.push(c));
      // Both sides send before either has a connection: both dial at once.
      for (let i = 0; i < 100; i++) {
        a.t.send(b.t.local, { t: "m", i });
        b.t.send(a.t.local, { t: "m", i });
      }
      expect([a.t.stats().dials, b.t.stats().dials]).toEqual([1, 1]);
      await waitFor("all messages both ways", () => received(a, "m").length === 100 && received(b, "m").length === 100);
      expect(received(a, "m").map((m) => m["i"])).toEqual([...Array(100).keys()]);
      expect(received(b, "m").map((m) => m["i"])).toEqual([...Array(100).keys()]);
      await waitFor("one connection each side", () => settledPair(a, b));
      await waitFor("one socket each side", () => a.t.stats().socketsOpen === 1 && b.t.stats().socketsOpen === 1);
      // Both sides kept the same connection: one side dialed it, the other accepted it.
      expect([a.t.peers()[0]!.direction, b.t.peers()[0]!.direction].sort()).toEqual(["in", "out"]);
      expect(a.t.stats().drops + b.t.stats().drops).toBe(0);
      expect(changes.map((c) => c.type)).toEqual(["up"]);
      await closeAll();
    }
  });

  test("the chooser refuses a second connection unless the peer reports the first one lost", async () => {
    const a = await startNode("a");
    const first = await rawPeer(a);
    expect(await first.verdict()).toEqual({ t: "commit", epoch: 1 });
    // The peer has not lost the first connection: a second is a duplicate.
    const second = await rawPeer(a, { lost: 0 });
    expect(await second.verdict()).toEqual({ t: "refuse", reason: "duplicate" });
    await within("duplicate closed", second.closed);
    expect(a.t.stats().authFailures).toBe(0);
    // The peer says epoch 1 died on its side (a half-open connection here): the new one replaces it.
    const third = await rawPeer(a, { lost: 1 });
    expect(await third.verdict()).toEqual({ t: "commit", epoch: 2 });
    await within("stale connection closed", first.closed);
    third.send({ t: "via-third" });
    await waitFor("message on the new connection", () => received(a, "via-third").length === 1);
    expect(a.t.peers().length).toBe(1);
  });

  test("a commit the peer never confirms times out, so the peer's next dial is kept", async () => {
    const a = await startNode("a", { handshakeTimeoutMs: 300 });
    // The peer's side of this connection died before the commit reached it; ours looks open.
    const ghost = await rawPeer(a);
    expect(await ghost.verdict(false)).toEqual({ t: "commit", epoch: 1 });
    await within("unconfirmed connection closed", ghost.closed);
    const next = await rawPeer(a);
    expect(await next.verdict()).toEqual({ t: "commit", epoch: 2 });
    next.send({ t: "m" });
    await waitFor("delivered", () => received(a, "m").length === 1);
  });

  test("a peer restarted at the same address (new id) replaces the old connection", async () => {
    const a = await startNode("a");
    const port = await freePort();
    const b1 = await startNode("b", { bind: `127.0.0.1:${port}` });
    a.t.send(b1.t.local, { t: "m", n: 1 });
    await waitFor("b1 gets the first message", () => received(b1, "m").length === 1);
    await b1.t.close();
    const b2 = await startNode("b", { bind: `127.0.0.1:${port}` });
    expect(b2.id).not.toBe(b1.id);
    // Sends while a notices the restart may be dropped (datagram semantics); keep sending until one lands.
    await waitFor("b2 reached", () => {
      a.t.send(b2.t.local, { t: "m", n: 2 });
      return received(b2, "m").length > 0;
    });
    await waitFor("a's only peer is the new b", () => {
      const ps = a.t.peers();
      return ps.length === 1 && ps[0]!.id === b2.id;
    });
    b2.t.send(a.t.local, { t: "back" });
    await waitFor("reply from the new b", () => received(a, "back").length === 1);
    expect(a.t.peers().length).toBe(1);
  });

  test("after a connection drops, both sides see it go down and the next send reconnects", async () => {
    // b advertises a proxy in front of it, so the test can cut the connection from outside.
    const bPort = await freePort();
    const proxy = await startProxy(bPort);
    try {
      const a = await startNode("a");
      const b = await startNode("b", { bind: `127.0.0.1:${bPort}`, advertise: proxy.address });
      const changes: string[] = [];
      a.t.onPeerChange((c) => changes.push(`${c.type}:${c.peer.name}`));
      a.t.send(b.t.local, { t: "m", n: 1 });
      await waitFor("first", () => received(b, "m").length === 1);
      proxy.cut();
      await waitFor("a sees b down", () => a.t.peers().length === 0);
      await waitFor("b sees a down", () => b.t.peers().length === 0);
      expect(a.t.send(b.t.local, { t: "m", n: 2 })).toBe(true);
      await waitFor("second", () => received(b, "m").length === 2);
      expect(changes).toEqual(["up:b", "down:b", "up:b"]);
      expect(a.t.stats().dials).toBe(2);
      expect(a.t.stats().dialFailures).toBe(0);
    } finally {
      await closeAll();
      await proxy.close();
    }
  });
});

describe("tcp transport: backoff, bounds, batching", () => {
  test("sending to a dead address fails fast and retries back off exponentially", async () => {
    const clock = skewableClock();
    const a = await startNode("a", { clock, random: constantRandom(0), backoff: { baseMs: 1000, maxMs: 60_000 } });
    const dead = `127.0.0.1:${await freePort()}`;
    expect(a.t.send(dead, { t: "m" })).toBe(true); // queued while the dial is in flight
    await waitFor("first dial fails", () => a.t.stats().dialFailures === 1);
    expect(a.t.stats().drops).toBe(1); // the queued message went with it
    // Backoff after 1 failure: 500 ms (jitter 0). During it, send() refuses without dialing.
    expect(a.t.send(dead, { t: "m" })).toBe(false);
    clock.advance(490);
    expect(a.t.send(dead, { t: "m" })).toBe(false);
    expect(a.t.stats().dials).toBe(1);
    clock.advance(20);
    expect(a.t.send(dead, { t: "m" })).toBe(true);
    expect(a.t.stats().dials).toBe(2);
    await waitFor("second dial fails", () => a.t.stats().dialFailures === 2);
    // After 2 failures: 1000 ms.
    clock.advance(990);
    expect(a.t.send(dead, { t: "m" })).toBe(false);
    clock.advance(20);
    expect(a.t.send(dead, { t: "m" })).toBe(true);
    expect(a.t.stats().dials).toBe(3);
  });

  test("a peer that comes up after failed dials is reached once its backoff expires", async () => {
    const clock = skewableClock();
    const a = await startNode("a", { clock, random: constantRandom(0) });
    const port = await freePort();
    a.t.send(`127.0.0.1:${port}`, { t: "m" });
    await waitFor("dial fails", () => a.t.stats().dialFailures === 1);
    const b = await startNode("b", { bind: `127.0.0.1:${port}` });
    clock.advance(10_000);
    expect(a.t.send(b.t.local, { t: "m", n: 2 })).toBe(true);
    await waitFor("delivered", () => received(b, "m").length === 1);
    expect(received(b, "m")[0]!["n"]).toBe(2);
  });

  test("the per-peer queue is bounded: beyond it send() drops and counts", async () => {
    // A server that accepts and never answers keeps the dial in handshake, so everything queues.
    const accepted: net.Socket[] = [];
    const silent = net.createServer((sock) => accepted.push(sock));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const addr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const a = await startNode("a", { maxQueueBytes: 64 * 1024, handshakeTimeoutMs: 60_000 });
      const pad = "x".repeat(1000);
      let queued = 0;
      for (let i = 0; i < 200; i++) if (a.t.send(addr, { t: "m", pad })) queued++;
      expect(queued).toBeGreaterThan(50);
      expect(queued).toBeLessThan(70);
      expect(a.t.stats().drops).toBe(200 - queued);
    } finally {
      await closeAll();
      for (const sock of accepted) sock.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  test("a message over the frame limit is refused by send()", async () => {
    const a = await startNode("a", { maxFrameBytes: 8192 });
    const b = await startNode("b");
    expect(a.t.send(b.t.local, { t: "big", pad: "x".repeat(10_000) })).toBe(false);
    expect(a.t.stats().drops).toBe(1);
  });

  test("thousands of sends in one tick go out in a handful of socket writes", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    a.t.send(b.t.local, { t: "warm" });
    await waitFor("connected", () => received(b, "warm").length === 1);
    const writesBefore = a.t.stats().writes;
    for (let i = 0; i < 10_000; i++) a.t.send(b.t.local, { t: "m", i });
    await waitFor("10k delivered", () => received(b, "m").length === 10_000);
    const writes = a.t.stats().writes - writesBefore;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(20);
    expect(received(b, "m").every((m, i) => m["i"] === i)).toBe(true);
    expect(a.t.stats().framesSent).toBe(10_001);
    expect(b.t.stats().framesReceived).toBe(10_001);
  });

  test("close() ends every socket and is idempotent; send() after close returns false", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    a.t.send(b.t.local, { t: "m" });
    await waitFor("connected", () => received(b, "m").length === 1);
    const p1 = a.t.close();
    const p2 = a.t.close();
    expect(p1).toBe(p2);
    await p1;
    expect(a.t.stats().socketsOpen).toBe(0);
    expect(a.t.send(b.t.local, { t: "m" })).toBe(false);
    await waitFor("b sees a gone", () => b.t.peers().length === 0 && b.t.stats().socketsOpen === 0);
  });
});
