/**
 * When a generation has ended (every voter of its committed configuration
 * back under a new id), and when it has not: a learner replaying a long log
 * holds an early configuration as committed, whose voters all restarted
 * long ago, while a live leader of the generation feeds it
 * (tests/cluster/hostile-restart-generation.test.ts saw such a node leave
 * the generation it was being added to, never ready again).
 */
import { expect, test } from "bun:test";
import { GenerationKeeper } from "../../../mesh/consensus/generation.ts";
import type { Configuration, Server } from "../../../mesh/consensus/types.ts";
import type { Member, MembershipView } from "../../../mesh/membership/types.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import { silentLogger } from "../../../mesh/types.ts";

const server = (name: string, id: string): Server => ({ name, id, address: `${name}:1` });
const member = (name: string, id: string): Member => ({ name, id, address: `${name}:1`, state: "alive", incarnation: 0 });

function keeper(live: Member[]) {
  const clock = new SimClock(1_000_000);
  const self = live.find((m) => m.name === "n3")!;
  const membership = { self: () => self, members: () => live, live: () => live, get: (n: string) => live.find((m) => m.name === n), subscribe: () => () => {} } as unknown as MembershipView;
  const k = new GenerationKeeper({ self: server(self.name, self.id), membership, clock, logger: silentLogger, mayBootstrapAlone: () => false, send: () => {} });
  k.adopt(7);
  clock.advance(2_000); // past the grace after joining (no leader's append yet)
  return { k, clock };
}

// n1, n2, n3 all restarted once: their first ids (a, b, c) are gone; the live ones are a2, b2, c2.
const live = [member("n1", "a2"), member("n2", "b2"), member("n3", "c2")];
const early: Configuration = { epoch: 1, voters: [server("n1", "a"), server("n2", "b"), server("n3", "c")], learners: [] };

test("every voter of the committed configuration back under a new id, no live leader: the generation has ended", () => {
  const { k } = keeper(live);
  expect(k.tick({ committedConfig: () => early, leader: () => null })).toBe("ended");
  expect(k.info()).toBe(null);
});

test("the same early configuration, replayed while a live leader of this generation feeds this node: it stays", () => {
  const { k } = keeper(live);
  k.onHello("n2:1", { t: "hello", f: "b2", n: "n2", g: 7, r: 0 });
  expect(k.tick({ committedConfig: () => early, leader: () => "b2" })).toBe(null);
  expect(k.info()?.generation).toBe(7);
});

test("a leader believed in that has itself left this generation (it says another one) does not keep it alive", () => {
  const { k } = keeper(live);
  k.onHello("n2:1", { t: "hello", f: "b2", n: "n2", g: 0, r: 0 });
  expect(k.tick({ committedConfig: () => early, leader: () => "b2" })).toBe("ended");
});

test("a leader believed in that restarted (its id is no longer live) does not keep it alive", () => {
  const { k } = keeper(live);
  k.onHello("n2:1", { t: "hello", f: "b", n: "n2", g: 7, r: 0 });
  expect(k.tick({ committedConfig: () => early, leader: () => "b" })).toBe("ended");
});

test("just after joining the generation, before any leader's append, an early configuration is not judged", () => {
  const { k, clock } = keeper(live);
  const fresh = new GenerationKeeper({ self: server("n3", "c2"), membership: { self: () => live[2], members: () => live, live: () => live, get: () => undefined, subscribe: () => () => {} } as unknown as MembershipView, clock, logger: silentLogger, mayBootstrapAlone: () => false, send: () => {} });
  fresh.adopt(7);
  expect(fresh.tick({ committedConfig: () => early, leader: () => null })).toBe(null);
  clock.advance(2_000);
  expect(fresh.tick({ committedConfig: () => early, leader: () => null })).toBe("ended");
  expect(k.info()?.generation).toBe(7);
});

/** A node given no seeds (it may act alone), with `live` as its membership (mutable: peers appear later). */
function firstNode(live: Member[], aloneAfterMs: number) {
  const clock = new SimClock(1_000_000);
  const self = member("n1", "a2");
  const membership = { self: () => self, members: () => live, live: () => live, get: (n: string) => live.find((m) => m.name === n), subscribe: () => () => {} } as unknown as MembershipView;
  const k = new GenerationKeeper({ self: server("n1", "a2"), membership, clock, logger: silentLogger, mayBootstrapAlone: () => true, send: () => {}, aloneAfterMs });
  return { k, clock };
}

test("a node that may act alone starts a generation only once its wait for a cluster it was in is over", () => {
  const live = [member("n1", "a2")];
  const { k, clock } = firstNode(live, 10_000);
  expect(k.tick(null)).toBe(null);
  expect(k.waitingReason()).toContain("may have been in");
  clock.advance(9_999);
  expect(k.tick(null)).toBe(null);
  clock.advance(1);
  expect(k.tick(null)).toBe("bootstrap");
});

test("a restarted first node found within its wait by the cluster it was in waits to be added to their generation, never starts its own", () => {
  const live = [member("n1", "a2")];
  const { k, clock } = firstNode(live, 10_000);
  expect(k.tick(null)).toBe(null);
  clock.advance(6_000); // the others' rejoin round redials it
  live.push(member("n2", "b"), member("n3", "c"));
  k.onHello("n2:1", { t: "hello", f: "b", n: "n2", g: 7, r: 0 });
  k.onHello("n3:1", { t: "hello", f: "c", n: "n3", g: 7, r: 0 });
  for (let t = 0; t < 20; t++) {
    clock.advance(1_000);
    k.onHello("n2:1", { t: "hello", f: "b", n: "n2", g: 7, r: 0 });
    k.onHello("n3:1", { t: "hello", f: "c", n: "n3", g: 7, r: 0 });
    expect(k.tick(null)).toBe(null);
  }
  expect(k.waitingReason()).toBe("waiting to be added to generation 7");
});

/** A node that has no generation, `seeds` seeds given, seeing `peers` (each saying it has none). */
function noGeneration(selfName: string, peers: Member[], seeds: number, seedsWaitMs?: number) {
  const clock = new SimClock(1_000_000);
  const self = member(selfName, `${selfName}-new`);
  const all = [self, ...peers];
  const membership = { self: () => self, members: () => all, live: () => all, get: (n: string) => all.find((m) => m.name === n), subscribe: () => () => {} } as unknown as MembershipView;
  const k = new GenerationKeeper({ self: server(self.name, self.id), membership, clock, logger: silentLogger, mayBootstrapAlone: () => false, send: () => {}, seedCount: () => seeds, seedsWaitMs });
  for (const p of peers) k.onHello(p.address, { t: "hello", f: p.id, n: p.name, g: 0, r: 0 });
  return Object.assign(k, { clock });
}

test("with peers and no generation anywhere, a new one starts only once a majority of the seeds and this node are here", () => {
  // Soak (five nodes, two killed and restarted at once): n2, restarted with
  // the 4 others as seeds, knew only n3 (restarted too) for a moment, its
  // join's answers lost; the two started a generation beside the cluster's.
  const n3 = member("n3", "n3-new");
  expect(noGeneration("n2", [n3], 4).tick(null)).toBe(null);
  expect(noGeneration("n2", [n3], 4).waitingReason()).toMatch(/majority of this node's 4 seeds/);
  // Three of the five: the smallest name starts one.
  expect(noGeneration("n2", [n3, member("n4", "n4-new")], 4).tick(null)).toBe("bootstrap");
  // A cold start of three, each given the other two: any two are a majority.
  expect(noGeneration("n1", [member("n2", "x")], 2).tick(null)).toBe("bootstrap");
  // No seeds counted (a node told nothing of them): as before.
  expect(noGeneration("n1", [member("n2", "x")], 0).tick(null)).toBe("bootstrap");
});

test("a cold start waits to hear every seed before a majority may start a generation: two partial views never both start one", () => {
  // Seen on real processes (two-clusters.test.ts, 1 run in 25 under load): a1 saw {a1, a3}, a2 saw {a2, a3}; each
  // was the smallest name it saw and a majority of its seeds, and both started a generation: one cluster in two.
  const a3 = member("a3", "a3");
  const a2 = noGeneration("a2", [a3], 2, 2_400);
  expect(a2.tick(null)).toBe(null);
  expect(a2.waitingReason()).toMatch(/hear from every one of this node's 2 seeds .* \(1 of 2\)/);
  // Every seed heard: all see the same names, and only the smallest starts one.
  expect(noGeneration("a1", [member("a2", "a2"), a3], 2, 2_400).tick(null)).toBe("bootstrap");
  expect(noGeneration("a2", [member("a1", "a1"), a3], 2, 2_400).tick(null)).toBe(null);
  // A seed that stays unheard (down): after the wait, a majority starts one as before.
  a2.clock.advance(2_400);
  a2.onHello(a3.address, { t: "hello", f: a3.id, n: a3.name, g: 0, r: 0 });
  expect(a2.tick(null)).toBe("bootstrap");
});

/**
 * An operator rolled kill -9 over five nodes 0.3 s apart, each restarted at
 * once: every process of generation 7 was back under a new one before any
 * was added to it. The new processes, waiting to be added to 7, found it
 * gone and started another: the lot empty, and nothing said so.
 */
function joiner(live: Member[], seeds: number) {
  const clock = new SimClock(1_000_000);
  const self = live.find((m) => m.name === "n3")!;
  const warned: string[] = [];
  const lost: number[] = [];
  const logger = { ...silentLogger, warn: (msg: string) => void warned.push(msg) };
  const membership = { self: () => self, members: () => live, live: () => live, get: (n: string) => live.find((m) => m.name === n), subscribe: () => () => {} } as unknown as MembershipView;
  const k = new GenerationKeeper({ self: server(self.name, self.id), membership, clock, logger, mayBootstrapAlone: () => false, send: () => {}, seedCount: () => seeds, onLost: (g) => void lost.push(g) });
  return { k, clock, warned, lost };
}

/** n1 (a) and n2 (b) say twice, half a second apart, that they are in generation 7; what each tick then decided. */
function hearGeneration7(k: GenerationKeeper, clock: SimClock): ReturnType<GenerationKeeper["tick"]>[] {
  const ticks: ReturnType<GenerationKeeper["tick"]>[] = [];
  for (let i = 0; i < 2; i++) {
    k.onHello("n1:1", { t: "hello", f: "a", n: "n1", g: 7, r: 0 });
    k.onHello("n2:1", { t: "hello", f: "b", n: "n2", g: 7, r: 0 });
    ticks.push(k.tick(null));
    clock.advance(500);
  }
  return ticks;
}

test("every process of the generation this node waits to join restarted before it was added: said once (WARN, onLost), and a new one may start", () => {
  const live = [member("n1", "a"), member("n2", "b"), member("n3", "c2")];
  const { k, clock, warned, lost } = joiner(live, 2);
  for (const what of hearGeneration7(k, clock)) expect(what).toBe(null); // waiting to be added to 7
  expect(k.waitingReason()).toContain("generation 7");
  // n1 and n2 restart (new ids) before adding n3: none is in 7 any more.
  live[0] = member("n1", "a2");
  live[1] = member("n2", "b2");
  k.onHello("n1:1", { t: "hello", f: "a2", n: "n1", g: 0, r: 0 });
  k.onHello("n2:1", { t: "hello", f: "b2", n: "n2", g: 0, r: 0 });
  k.tick(null);
  k.tick(null);
  expect(lost).toEqual([7]);
  expect(warned.filter((w) => w.includes("every voter of this generation restarted"))).toHaveLength(1);
});

test("the generation's members merely out of reach (not live, not restarted): nothing is said", () => {
  const live = [member("n1", "a"), member("n2", "b"), member("n3", "c2")];
  const { k, clock, warned, lost } = joiner(live, 2);
  hearGeneration7(k, clock);
  live.splice(0, 2); // cut off: only n3 left in its view
  k.tick(null);
  expect(lost).toEqual([]);
  expect(warned.filter((w) => w.includes("restarted"))).toEqual([]);
});
