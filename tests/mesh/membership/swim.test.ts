import { describe, expect, test } from "bun:test";
import { ALIVE, DEAD, LEFT, SUSPECT, type UpdateKind } from "../../../mesh/membership/messages.ts";
import { createMembership } from "../../../mesh/membership/swim.ts";
import type { MemberEvent } from "../../../mesh/membership/types.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import { SimCluster } from "../../../mesh/sim/harness.ts";
import { SimNetwork } from "../../../mesh/sim/network.ts";
import { SeededRandom } from "../../../mesh/sim/random.ts";
import type { Logger, Message } from "../../../mesh/types.ts";
import { SIM_TEST_TIMEOUT_MS } from "../sim/seeds.ts";

/** A converged cluster plus a rogue endpoint to talk to it directly. */
function cluster(size: number, seed = 1) {
  const c = SimCluster.create({ seed, size });
  c.runUntil(() => c.converged(true), 20_000, "convergence");
  const got: Array<[string, Message]> = [];
  const rogue = c.net.transport("10.9.9.9:1");
  rogue.onMessage((from, msg) => got.push([from, msg]));
  return { c, rogue, got };
}

describe("membership protocol", () => {
  test("join resolves with the number of seeds that answered; its own address is skipped", async () => {
    const c = SimCluster.create({ seed: 2, size: 3 });
    c.runUntil(() => c.converged(true), 10_000, "convergence");
    const n = c.add("joiner", "10.1.1.1:4370", []);
    const p = n.membership.join([c.node("n000").address, c.node("n001").address, "10.200.0.1:4370", "10.1.1.1:4370"]);
    expect(await c.runUntilSettled(p, 5_000, "join")).toBe(2);
    const lonely = c.add("lonely", "10.1.1.2:4370", []);
    expect(await c.runUntilSettled(lonely.membership.join(["10.200.0.2:4370"]), 5_000, "join")).toBe(0);
    expect(await c.runUntilSettled(lonely.membership.join([]), 10, "join")).toBe(0);
  }, SIM_TEST_TIMEOUT_MS);

  test("a ping for another identity (an older process at this address) gets no ack", () => {
    const { c, rogue, got } = cluster(3);
    const target = c.node("n001");
    rogue.send(target.address, { t: "p", s: 1, n: "n001", i: "0000000000000000dead", f: "x", fi: "y" });
    rogue.send(target.address, { t: "p", s: 2, n: "n001", i: target.id, f: "x", fi: "y" });
    c.runFor(50);
    const acks = got.filter(([, m]) => m.t === "a").map(([, m]) => m.s);
    expect(acks).toEqual([2]);
  }, SIM_TEST_TIMEOUT_MS);

  test("a node refutes suspect and dead messages about its current identity with a higher incarnation", () => {
    const { c, rogue } = cluster(4);
    const v = c.node("n002");
    const inc = v.membership.self().incarnation;
    rogue.send(v.address, { t: "g", b: [{ k: DEAD, n: "n002", i: v.id, a: v.address, c: inc, f: "n000" }] });
    c.runFor(10);
    expect(v.membership.self().incarnation).toBe(inc + 1);
    rogue.send(v.address, { t: "g", b: [{ k: SUSPECT, n: "n002", i: v.id, a: v.address, c: inc + 1, f: "n000" }] });
    rogue.send(v.address, { t: "g", b: [{ k: LEFT, n: "n002", i: v.id, a: v.address, c: inc + 5 }] });
    c.runFor(10);
    expect(v.membership.self().incarnation).toBe(inc + 6);
    expect(v.membership.self().state).toBe("alive");
    c.runFor(3_000);
    for (const n of c.running()) expect(n.membership.get("n002")?.state).toBe("alive");
  }, SIM_TEST_TIMEOUT_MS);

  test("malformed messages and updates are dropped; the node keeps working", () => {
    const { c, rogue } = cluster(3);
    const v = c.node("n001");
    const before = v.membership.members();
    for (const bad of [
      { t: "p" },
      { t: "pp", s: 1, r: 0, f: "x", m: [["a"], 5, null] },
      { t: "g", b: [{ k: 9, n: "z" }, null, 3, { k: 0, n: "", i: "x", a: "y", c: 0 }] },
      { t: "zz" },
      { t: "a", s: -1 },
    ]) {
      rogue.send(v.address, bad as Message);
    }
    c.runFor(2_000);
    expect(v.membership.members()).toEqual(before);
    expect(c.converged(true)).toBe(true);
  }, SIM_TEST_TIMEOUT_MS);

  test("subscribers get up/suspect/alive/down; one that throws does not stop the others", () => {
    const { c } = cluster(4);
    const seen: string[] = [];
    const watcher = c.node("n000");
    // A throwing subscriber first.
    watcher.membership.subscribe(() => {
      throw new Error("boom");
    });
    const off = watcher.membership.subscribe((ev: MemberEvent) => seen.push(`${ev.type}:${ev.member.name}`));
    c.net.partition([[c.node("n003").address]]);
    c.runUntil(() => seen.includes("down:n003"), 20_000, "down delivered");
    expect(seen.filter((s) => s.endsWith("n003"))).toEqual(["suspect:n003", "down:n003"]);
    c.net.heal();
    c.runUntil(() => seen.includes("up:n003"), 30_000, "back up");
    off();
    const count = seen.length;
    c.crash("n001");
    c.runFor(10_000);
    expect(seen.length).toBe(count);
  }, SIM_TEST_TIMEOUT_MS);

  test("leaving alone resolves at once; self() then reports left and live() excludes it", async () => {
    const c = SimCluster.create({ seed: 3, size: 1 });
    const m = c.node("n000").membership;
    await c.runUntilSettled(m.leave(), 10, "leave");
    expect(m.self().state).toBe("left");
    expect(m.live()).toEqual([]);
  }, SIM_TEST_TIMEOUT_MS);

  test("stats count probes, gossip and round trips", () => {
    const { c } = cluster(5);
    c.runFor(5_000);
    const s = c.node("n000").membership.stats();
    expect(s.probes).toBeGreaterThan(5);
    expect(s.probeFailures).toBe(0);
    expect(s.messagesSent).toBeGreaterThan(s.probes);
    expect(s.messagesReceived).toBeGreaterThan(0);
    expect(s.rttMs.length).toBeGreaterThan(0);
    expect(s.members).toEqual({ alive: 5, suspect: 0, dead: 0, left: 0 });
    expect(s.awareness).toBe(0);
  }, SIM_TEST_TIMEOUT_MS);

  test("views: members() and live() sorted by name, self always alive to itself", () => {
    const { c } = cluster(4);
    const m = c.node("n002").membership;
    expect(m.members().map((x) => x.name)).toEqual(["n000", "n001", "n002", "n003"]);
    c.crash("n001");
    c.runUntil(() => m.get("n001")?.state === "dead", 10_000, "n001 dead");
    expect(m.live().map((x) => x.name)).toEqual(["n000", "n002", "n003"]);
    expect(m.members().map((x) => `${x.name}:${x.state}`)).toEqual(["n000:alive", "n001:dead", "n002:alive", "n003:alive"]);
    expect(m.self()).toMatchObject({ name: "n002", state: "alive" });
  }, SIM_TEST_TIMEOUT_MS);

  test("a node warns when another process claims its name with a newer identity", () => {
    const clock = new SimClock();
    const net = new SimNetwork(clock, new SeededRandom(1));
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, error() {}, warn: (msg) => warnings.push(msg) };
    const m = createMembership({
      name: "a",
      id: "018bcfe56800aaaaaaaa",
      address: "a:1",
      clock,
      random: new SeededRandom(2),
      transport: net.transport("a:1"),
      logger,
    });
    const rogue = net.transport("r:1");
    rogue.send("a:1", { t: "g", b: [{ k: DEAD, n: "a", i: "018bcfe5f000bbbbbbbb", a: "b:1", c: 0 }] });
    clock.advance(10);
    expect(warnings.some((w) => w.includes("newer identity"))).toBe(true);
    expect(m.self()).toMatchObject({ id: "018bcfe56800aaaaaaaa", state: "alive", incarnation: 0 });
    m.stop();
  }, SIM_TEST_TIMEOUT_MS);

  test("a node knows it is out while a newer process under its name is heard of alive (the members count that one), not for older or dead ones, and no more once that one dies", () => {
    const clock = new SimClock();
    const net = new SimNetwork(clock, new SeededRandom(1));
    const m = createMembership({ name: "a", id: "018bcfe56800aaaaaaaa", address: "a:1", clock, random: new SeededRandom(2), transport: net.transport("a:1") });
    const rogue = net.transport("r:1");
    const tell = (k: UpdateKind, id: string): void => {
      rogue.send("a:1", { t: "g", b: [{ k, n: "a", i: id, a: "b:1", c: 0 }] });
      clock.advance(10);
    };
    tell(ALIVE, "018bcfe50000cccccccc"); // an older process: stale news
    tell(DEAD, "018bcfe5f000bbbbbbbb"); // a newer one, but dead
    expect(m.supersededBy!()).toBeNull();
    tell(ALIVE, "018bcfe5f000bbbbbbbb");
    // news of that id dead came first: late news of it alive changes nothing
    expect(m.supersededBy!()).toBeNull();
    tell(ALIVE, "018bcfe5f100dddddddd");
    expect(m.supersededBy!()).toEqual({ id: "018bcfe5f100dddddddd", address: "b:1" });
    // it dies (a killed predecessor whose id sorts after ours, a twin stopped): the members take us back once its record goes
    tell(DEAD, "018bcfe5f100dddddddd");
    expect(m.supersededBy!()).toBeNull();
    m.stop();
  }, SIM_TEST_TIMEOUT_MS);
});
