/**
 * The control lane (mesh/tcp/lanes.ts): messages of the control channels go
 * on a connection of their own, so they never wait behind the data lane's
 * backlog; a peer that does not say it takes one (an older node) gets them on
 * its one connection.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { closeAll, rawPeer, received, startNode, type TestNode } from "./helpers.ts";
import { waitFor } from "./wait.ts";
import { controlRule } from "../../../mesh/tcp/lanes.ts";
import { CONTROL_CHANNELS, REGISTRY_CHANNEL } from "../../../mesh/node/wiring.ts";
import type { LeasePingMsg, LeasePongMsg } from "../../../mesh/registry/messages.ts";

afterEach(closeAll);

const BULK = 800;
/** Each bulk message holds the receiver this long: 800 of them ~0.8 s, a backlog to overtake. */
const BULK_MS = 1;

/** `b` records every message; a bulk one busies it BULK_MS first (a receiver behind on heavy data). */
function slowOnBulk(b: TestNode): void {
  b.t.onMessage((from, msg) => {
    if (msg.t === "bulk") {
      const until = performance.now() + BULK_MS;
      while (performance.now() < until) {
        // busy: the backlog is work, not waiting
      }
    }
    b.got.push({ from, msg });
  });
}

/** Sends a warm-up, BULK data messages, then one control message; the control message's place among what `b` handled. */
async function placeOfControl(a: TestNode, b: TestNode): Promise<number> {
  a.t.send(b.t.local, { t: "warm", ch: "data" });
  await waitFor("the data connection", () => received(b, "warm").length === 1);
  const filler = "x".repeat(2048);
  for (let i = 0; i < BULK; i++) expect(a.t.send(b.t.local, { t: "bulk", ch: "data", i, filler })).toBe(true);
  expect(a.t.send(b.t.local, { t: "probe", ch: "ctl" })).toBe(true);
  await waitFor("the probe and every bulk message", () => received(b, "probe").length === 1 && received(b, "bulk").length === BULK, 30_000);
  return b.got.filter((g) => g.msg.t !== "warm").findIndex((g) => g.msg.t === "probe");
}

describe("tcp transport: the control lane", () => {
  test("a control message overtakes a data backlog the receiver is still working through", async () => {
    const a = await startNode("a", { controlChannels: ["ctl"] });
    const b = await startNode("b", { controlChannels: ["ctl"] });
    slowOnBulk(b);
    const place = await placeOfControl(a, b);
    expect(place).toBeLessThan(BULK / 2);
    // Bulk stays in order on its lane.
    expect(received(b, "bulk").map((m) => m["i"])).toEqual([...Array(BULK).keys()]);
    // Two connections now, one peer.
    expect(a.t.stats().connectionsOpen).toBe(2);
    expect(a.t.peers().map((p) => p.name)).toEqual(["b"]);
  });

  test("one message type of a data channel (\"data:lp\", as the registry's lease pings) takes the control lane; the channel's other types keep their place behind the backlog", async () => {
    const a = await startNode("a", { controlChannels: ["data:lp"] });
    const b = await startNode("b", { controlChannels: ["data:lp"] });
    slowOnBulk(b);
    a.t.send(b.t.local, { t: "warm", ch: "data" });
    await waitFor("the data connection", () => received(b, "warm").length === 1);
    const filler = "x".repeat(2048);
    for (let i = 0; i < BULK; i++) a.t.send(b.t.local, { t: "bulk", ch: "data", i, filler });
    a.t.send(b.t.local, { t: "other", ch: "data" });
    a.t.send(b.t.local, { t: "lp", ch: "data" });
    await waitFor("all of it", () => received(b, "lp").length === 1 && received(b, "other").length === 1 && received(b, "bulk").length === BULK, 30_000);
    const order = b.got.filter((g) => g.msg.t !== "warm").map((g) => g.msg.t);
    expect(order.indexOf("lp")).toBeLessThan(BULK / 2);
    expect(order.indexOf("other")).toBe(BULK + 1);
  });

  test("the control rule: whole channels, or one type of a channel; nothing else", () => {
    const rule = controlRule(["swim", "reg:lp", "reg:lk"]);
    expect(rule({ t: "ping", ch: "swim" })).toBe(true);
    expect(rule({ t: "lp", ch: "reg" })).toBe(true);
    expect(rule({ t: "lk", ch: "reg" })).toBe(true);
    expect(rule({ t: "c", ch: "reg" })).toBe(false);
    expect(rule({ t: "lp", ch: "repl" })).toBe(false);
    expect(rule({ t: "lp" })).toBe(false);
    expect(controlRule([])({ t: "ping", ch: "swim" })).toBe(false);
  });

  test("with one lane (the negative control) the same message waits behind the whole backlog", async () => {
    const a = await startNode("a", { controlChannels: ["ctl"], lanes: false });
    const b = await startNode("b", { controlChannels: ["ctl"], lanes: false });
    slowOnBulk(b);
    expect(await placeOfControl(a, b)).toBe(BULK);
  });

  test("a peer that takes no control lane (an older node) gets control messages on its one connection, both ways", async () => {
    const a = await startNode("a", { controlChannels: ["ctl"] });
    const old = await startNode("old", { controlChannels: ["ctl"], lanes: false });
    a.t.send(old.t.local, { t: "warm", ch: "data" });
    await waitFor("the data connection", () => received(old, "warm").length === 1);
    for (let i = 0; i < 20; i++) {
      expect(a.t.send(old.t.local, { t: "probe", ch: "ctl", i })).toBe(true);
      expect(old.t.send(a.t.local, { t: "ack", ch: "ctl", i })).toBe(true);
    }
    await waitFor("20 probes and 20 acks", () => received(old, "probe").length === 20 && received(a, "ack").length === 20);
    expect(received(old, "probe").map((m) => m["i"])).toEqual([...Array(20).keys()]);
    expect(a.t.stats().connectionsOpen).toBe(1);
    expect(old.t.stats().connectionsOpen).toBe(1);
    expect(a.t.stats().dials + old.t.stats().dials).toBe(1);
    expect([...a.logs, ...old.logs].filter((l) => l.level === "warn" || l.level === "error")).toEqual([]);
  });

  test("a peer whose control lane cannot be dialed gets control messages on its data connection", async () => {
    const a = await startNode("a", { controlChannels: ["ctl"] });
    // A peer that says it takes lanes but dialed in from an address where nothing listens: every control dial is refused.
    const raw = await rawPeer(a);
    expect((await raw.verdict())["t"]).toBe("commit");
    let i = 0;
    await waitFor("a control message over the data connection", () => {
      a.t.send("127.0.0.1:1", { t: "probe", ch: "ctl", i: i++ });
      return raw.frames.some((f) => f["t"] === "probe");
    }, 5_000);
    raw.socket.destroy();
  });

  test("both sides send on the control lane at once: one control connection is kept, nothing lost", async () => {
    const a = await startNode("a", { controlChannels: ["ctl"] });
    const b = await startNode("b", { controlChannels: ["ctl"] });
    a.t.send(b.t.local, { t: "warm", ch: "data" });
    await waitFor("the data connection", () => received(b, "warm").length === 1 && a.t.peers().length === 1);
    for (let i = 0; i < 50; i++) {
      a.t.send(b.t.local, { t: "probe", ch: "ctl", i });
      b.t.send(a.t.local, { t: "probe", ch: "ctl", i });
    }
    await waitFor("50 probes each way", () => received(a, "probe").length === 50 && received(b, "probe").length === 50);
    await waitFor("one control connection each", () => a.t.stats().connectionsOpen === 2 && b.t.stats().connectionsOpen === 2);
    expect(a.t.stats().drops + b.t.stats().drops).toBe(0);
  });
});

describe("a node's control lane", () => {
  test("carries membership, consensus and the registry's lease pings and pongs, not its calls or replication", () => {
    const rule = controlRule(CONTROL_CHANNELS);
    const ping: LeasePingMsg = { t: "lp", s: 1, n: "a", g: 1, e: 1 };
    const pong: LeasePongMsg = { t: "lk", s: 1, n: "a", g: 1, e: 1 };
    expect(rule({ ...ping, ch: REGISTRY_CHANNEL })).toBe(true);
    expect(rule({ ...pong, ch: REGISTRY_CHANNEL })).toBe(true);
    expect(rule({ t: "c", ch: REGISTRY_CHANNEL })).toBe(false);
    expect(rule({ t: "d", ch: "repl" })).toBe(false);
    expect(rule({ t: "ping", ch: "swim" })).toBe(true);
    expect(rule({ t: "ae", ch: "raft" })).toBe(true);
  });
});
