/**
 * The TCP transport's liveness pings on real sockets (mesh/tcp/liveness.ts):
 * a connection that stops carrying bytes is dropped and the next send dials
 * a fresh one; a healthy one, even one-way, is kept; pings never reach the
 * protocols; a peer of an older version (no `pings` in its hello) is never
 * pinged. A proxy in front of b black-holes the connection open at the
 * moment (as a link dropping every packet does, or one whose TCP timer
 * backed off for tens of seconds) while new connections pass.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { LivenessPolicy } from "../../../mesh/tcp/liveness.ts";
import { closeAll, freePort, rawPeer, received, startNode, startProxy } from "./helpers.ts";
import { waitFor } from "./wait.ts";

afterEach(closeAll);

const FAST: LivenessPolicy = { idleMs: 100, timeoutMs: 200 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("tcp transport: liveness", () => {
  for (const chooser of ["the dialer", "the peer"] as const) test(`a connection that stops carrying bytes is dropped within idleMs + timeoutMs of silence, and the next send reaches the peer over a fresh one (${chooser} keeps connections)`, async () => {
    const bPort = await freePort();
    const proxy = await startProxy(bPort);
    try {
      // Of two nodes the smaller id chooses which connection is kept; "zz..." sorts after b's id.
      const a = await startNode("a", { liveness: FAST, ...(chooser === "the peer" ? { id: `zz-a-${process.pid}` } : {}) });
      const b = await startNode("b", { bind: `127.0.0.1:${bPort}`, advertise: proxy.address, liveness: FAST });
      a.t.send(b.t.local, { t: "m", n: 1 });
      await waitFor("first", () => received(b, "m").length === 1);
      proxy.hold();
      const heldAt = Date.now();
      a.t.send(b.t.local, { t: "m", n: 2 }); // into the black hole
      await waitFor("a drops the stalled connection", () => a.t.peers().length === 0, 5_000);
      const droppedAfter = Date.now() - heldAt;
      const why = a.logs.find((l) => l.msg === "mesh: peer disconnected")?.fields["reason"];
      expect(String(why)).toMatch(/^stalled: nothing from the peer in \d+ ms, a ping unanswered for 200 ms$/);
      // idleMs + timeoutMs + a check interval or two, on a loaded machine some more.
      expect(droppedAfter).toBeLessThan(2_000);
      a.t.send(b.t.local, { t: "m", n: 3 });
      await waitFor("third, over a new connection", () => received(b, "m").some((m) => m["n"] === 3), 5_000);
      expect(a.t.stats().dials).toBe(2);
      expect(a.t.stats().stalls).toBe(1);
      // b takes the new connection in place of the held one (a reports it lost): one connection each.
      await waitFor("one connection each", () => a.t.peers().length === 1 && b.t.peers().length === 1, 5_000);
    } finally {
      await closeAll();
      await proxy.close();
    }
  });

  test("a one-way stream (the peer never answers at the protocol level) keeps its connection: the peer answers the pings, which never reach its protocols", async () => {
    const a = await startNode("a", { liveness: FAST });
    const b = await startNode("b", { liveness: FAST });
    for (let n = 0; n < 25; n++) {
      a.t.send(b.t.local, { t: "m", n });
      await sleep(40);
    }
    await waitFor("all", () => received(b, "m").length === 25);
    expect(a.t.stats().dials + b.t.stats().dials).toBe(1);
    expect(a.t.peers().length).toBe(1);
    expect(b.got.map((g) => g.msg.t)).toEqual(Array(25).fill("m"));
    expect(a.got).toEqual([]);
    expect(a.logs.filter((l) => l.msg === "mesh: peer disconnected")).toEqual([]);
  });

  test("a busy receiver (20 ms a message, one-way stream) keeps its connection: behind on its peer's bytes, it says it is alive unasked", async () => {
    const a = await startNode("a", { liveness: FAST });
    const b = await startNode("b", { liveness: FAST });
    let handled = 0;
    b.t.onMessage(() => {
      const until = performance.now() + 20;
      while (performance.now() < until) {
        // a handler that takes its time (a big merge)
      }
      handled++;
    });
    for (let n = 0; n < 60; n++) a.t.send(b.t.local, { t: "m", n, pad: "x".repeat(200) });
    await waitFor("all handled", () => handled === 60, 10_000);
    expect(a.logs.filter((l) => l.msg === "mesh: peer disconnected").map((l) => l.fields["reason"])).toEqual([]);
    expect(a.t.stats().dials + b.t.stats().dials).toBe(1);
  });

  test("a connection goes quiet after traffic: one ping at most, then no bytes at all (pings and their answers do not count as writes)", async () => {
    const bPort = await freePort();
    const proxy = await startProxy(bPort);
    try {
      const a = await startNode("a", { liveness: FAST });
      const b = await startNode("b", { bind: `127.0.0.1:${bPort}`, advertise: proxy.address, liveness: FAST });
      b.t.onMessage((from, msg) => {
        b.got.push({ from, msg });
        b.t.send(from, { t: "r" });
      });
      a.t.send(b.t.local, { t: "m" });
      await waitFor("reply", () => received(a, "r").length === 1);
      await sleep(600); // room for one ping and its answer
      const quietFrom = proxy.bytes();
      await sleep(1_000);
      expect(proxy.bytes() - quietFrom).toBe(0);
      expect(a.t.peers().length).toBe(1);
    } finally {
      await closeAll();
      await proxy.close();
    }
  });

  test("a connection on which nothing is written is kept however long it is quiet", async () => {
    const a = await startNode("a", { liveness: FAST });
    const b = await startNode("b", { liveness: FAST });
    a.t.send(b.t.local, { t: "m" });
    await waitFor("first", () => received(b, "m").length === 1);
    await sleep(1_000);
    expect({ a: a.t.peers().length, b: b.t.peers().length, dials: a.t.stats().dials + b.t.stats().dials }).toEqual({ a: 1, b: 1, dials: 1 });
  });

  test("a peer whose hello does not say it answers pings (an older version) is never pinged nor dropped for silence", async () => {
    const node = await startNode("n", { liveness: FAST });
    const raw = await rawPeer(node, { pings: false });
    expect((await raw.verdict())["t"]).toBe("commit");
    const peer = await waitFor("the raw peer's connection", () => node.t.peers().find((p) => p.name === "raw"));
    for (let i = 0; i < 10; i++) {
      node.t.send(peer.address, { t: "m", ch: "x", i });
      await sleep(60);
    }
    expect(raw.frames.filter((f) => f["t"] === "sp")).toEqual([]);
    expect(node.t.peers().some((p) => p.name === "raw")).toBe(true);
    raw.socket.destroy();
  });

  test("liveness: null turns the pings off", async () => {
    const bPort = await freePort();
    const proxy = await startProxy(bPort);
    try {
      const a = await startNode("a", { liveness: null });
      const b = await startNode("b", { bind: `127.0.0.1:${bPort}`, advertise: proxy.address, liveness: null });
      a.t.send(b.t.local, { t: "m", n: 1 });
      await waitFor("first", () => received(b, "m").length === 1);
      proxy.hold();
      a.t.send(b.t.local, { t: "m", n: 2 });
      await sleep(800);
      expect(a.t.peers().length).toBe(1);
    } finally {
      await closeAll();
      await proxy.close();
    }
  });
});
