import { describe, expect, test } from "bun:test";
import { ownerOf } from "../../../core/placement.ts";
import { codeOf, RegSim } from "../../support/registry-sim.ts";

const NAMES = Array.from({ length: 40 }, (_, i) => `c:room-${i}`);
const LEASE = 1500;
const DEAD_AFTER = 4000; // the membership's time to declare a silent node dead (> LEASE)

/** At no instant may two nodes be ready to serve the same name. */
function exclusiveServing(sim: RegSim, names: string[], violations: string[]): () => void {
  return () => {
    for (const name of names) {
      const serving = [...sim.nodes.values()].filter((n) => n.up && n.registry.isServing(name)).map((n) => n.name);
      if (serving.length > 1) violations.push(`${sim.clock.now()} ${name}: ${serving.join(",")}`);
    }
  };
}

describe("cluster registry: quorum lease", () => {
  test("a node cut off from the majority stops serving within leaseMs; the majority takes over only once the configuration drops it; copies meet and resolve on heal", async () => {
    const sim = new RegSim(21, { leaseMs: LEASE });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    const violations: string[] = [];
    const check = exclusiveServing(sim, NAMES, violations);
    const r0 = await sim.settle(Promise.all(NAMES.map((n) => sim.reg("n1").call(n, { op: "inc" }))), 5000, check);
    expect(r0.ok).toBe(true);
    const minority = NAMES.filter((n) => sim.reg("n0").ownerOf(n) === "n0");
    expect(minority.length).toBeGreaterThan(5);

    const cut = sim.clock.now();
    sim.net.partition([[sim.node("n0").address], [sim.node("n1").address, sim.node("n2").address]]);
    const fromMinority: { at: number; r: ReturnType<RegSim["track"]> }[] = [];
    const tickCalls = (): void => {
      if (sim.clock.now() - cut > 12_000) return;
      const name = minority[Math.floor(sim.random.float() * minority.length)]!;
      fromMinority.push({ at: sim.clock.now(), r: sim.track(sim.reg("n0").call(name, { op: "inc" }, { timeoutMs: 1000 })) });
      void sim.reg("n1").call(name, { op: "inc" }, { timeoutMs: 1000 }).catch(() => {});
      sim.clock.setTimer(20, tickCalls);
    };
    tickCalls();

    // Within leaseMs of the cut, n0 serves nothing.
    await sim.run(LEASE, check, 5);
    expect(sim.reg("n0").authoritative()).toBe(false);
    const lastMinorityHandle = Math.max(...sim.handled.filter((h) => h.node === "n0").map((h) => h.at));
    expect(lastMinorityHandle).toBeLessThanOrEqual(cut + LEASE);

    // The majority declares n0 dead (and n0 them) only later, then takes over.
    await sim.run(DEAD_AFTER - LEASE, check, 5);
    const deadAt = sim.clock.now();
    sim.world.setEverywhere("n0", "dead");
    sim.world.set("n0", "n1", "dead");
    sim.world.set("n0", "n2", "dead");
    // The majority's leader drops n0; n0, cut off, does not learn it.
    expect(await sim.untilEpoch(2, ["n1", "n2"])).toBe(true);
    expect(sim.configs.knownBy("n0")?.epoch).toBe(1);
    const taken = await sim.settle(Promise.all(minority.map((n) => sim.reg("n2").call(n, { op: "get" }))), 5000, check);
    expect(taken.ok).toBe(true);
    const majorityHandles = sim.handled.filter((h) => h.node !== "n0" && minority.includes(h.name) && h.at > cut);
    expect(majorityHandles.length).toBeGreaterThan(0);
    expect(Math.min(...majorityHandles.map((h) => h.at))).toBeGreaterThanOrEqual(deadAt);
    expect(sim.handled.filter((h) => h.node === "n0" && h.at > cut + LEASE)).toEqual([]);
    // Calls made at n0 after its lease ran out were held (bounded) and answered unavailable, never run.
    const late = fromMinority.filter((x) => x.at > cut + LEASE + 10);
    expect(late.length).toBeGreaterThan(10);
    for (const x of late) {
      if (x.r.result.ok === "pending") continue;
      expect(x.r.result.ok === false && codeOf(x.r.result.error)).toBe("unavailable");
    }

    // Heal, with views catching up at different times: n0 first, then n1, then n2.
    await sim.run(2000, check, 5);
    sim.net.heal();
    sim.world.set("n0", "n1", "alive");
    sim.world.set("n0", "n2", "alive");
    await sim.run(200, check, 1);
    sim.world.set("n1", "n0", "alive");
    await sim.run(200, check, 1);
    sim.world.set("n2", "n0", "alive");
    await sim.run(3000, check, 5);

    expect(violations).toEqual([]);
    // n0 is back in the configuration; its stale copies met the majority's copies and resolved.
    expect(sim.configs.latest()?.holders.map((h) => h.name)).toEqual(["n0", "n1", "n2"]);
    const met = sim.conflicts.filter((c) => minority.includes(c.name));
    expect(met.length).toBeGreaterThan(0);
    // One copy per name again, and every name answers from every node.
    for (const name of NAMES) {
      const where = [...sim.nodes.values()].filter((n) => n.registry.localNames().includes(name)).map((n) => n.name);
      expect(where).toEqual([sim.reg("n0").ownerOf(name)]);
    }
    for (const from of ["n0", "n1", "n2"]) {
      const r = await sim.settle(Promise.all(NAMES.map((n) => sim.reg(from).call(n, { op: "get" }))), 5000, check);
      expect(r.ok).toBe(true);
    }
    expect(violations).toEqual([]);
  }, 60_000);

  test("a lease lapse makes no per-name round trip: calls are held and served on the next pong; one held past leaseMs is answered unavailable", async () => {
    const sim = new RegSim(22, { leaseMs: LEASE });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    const name = NAMES.find((n) => sim.reg("n0").ownerOf(n) === "n0")!;
    expect(await sim.settle(sim.reg("n0").call(name, { op: "inc" }))).toEqual({ ok: true, value: 1 });
    expect(sim.reg("n0").stats().serving).toBe("serving");
    let fenceQueries = 0;
    sim.net.tap = (from, _to, msg) => {
      if (from === sim.node("n0").address && msg.t === "fq") fenceQueries++;
    };
    const pullsBefore = sim.bus.pulls.filter((p) => p.node === "n0").length;
    const catchUpsBefore = sim.reg("n0").stats().catchUps;
    const cut = (): void => sim.net.partition([[sim.node("n0").address], [sim.node("n1").address, sim.node("n2").address]]);

    // A lapse shorter than the wait: the call is held, then served once pongs come back.
    cut();
    await sim.run(LEASE + 50, undefined, 5);
    expect(sim.reg("n0").authoritative()).toBe(false);
    const held = sim.track(sim.reg("n0").call<number>(name, { op: "inc" }));
    await sim.run(300);
    expect(held.result.ok).toBe("pending");
    expect(sim.handled.filter((h) => h.name === name)).toHaveLength(1);
    sim.net.heal();
    expect(await sim.until(() => held.result.ok !== "pending", LEASE)).toBe(true);
    expect(held.result).toEqual({ ok: true, value: 2 });
    // Nothing per name, nothing per epoch: no fence round, no pull, the same configuration.
    expect(fenceQueries).toBe(0);
    expect(sim.bus.pulls.filter((p) => p.node === "n0").length).toBe(pullsBefore);
    expect(sim.reg("n0").stats().catchUps).toBe(catchUpsBefore);
    expect(sim.reg("n0").stats().serving).toBe("serving");
    expect(sim.configs.latest()?.epoch).toBe(1);

    // Cut off for good: a held call gives up after leaseMs, unavailable, and never ran.
    cut();
    await sim.run(LEASE + 50, undefined, 5);
    const t0 = sim.clock.now();
    const r = await sim.settle(sim.reg("n0").call(name, { op: "inc" }), 3 * LEASE);
    expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
    expect(sim.clock.now() - t0).toBeGreaterThanOrEqual(LEASE - 5);
    expect(sim.clock.now() - t0).toBeLessThan(LEASE + 50);
    expect(sim.handled.filter((h) => h.name === name)).toHaveLength(2);
  });

  test("a node that lost its lease stays a caught-up holder but is not authoritative (so /readyz answers 503) until a majority vouches for it again, with no new epoch", async () => {
    const sim = new RegSim(30, { leaseMs: LEASE });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    expect(await sim.until(() => ["n0", "n1", "n2"].every((n) => sim.reg(n).authoritative()), 3000, undefined, 5)).toBe(true);
    sim.net.partition([[sim.node("n0").address], [sim.node("n1").address, sim.node("n2").address]]);
    await sim.run(LEASE + 50, undefined, 5);
    expect(sim.reg("n0").authoritative()).toBe(false);
    expect(sim.reg("n0").ready()).toBe(true);
    expect(sim.reg("n1").authoritative()).toBe(true);
    sim.net.heal();
    expect(await sim.until(() => sim.reg("n0").authoritative(), LEASE, undefined, 5)).toBe(true);
    expect(sim.configs.latest()?.epoch).toBe(1);
  });

  test("a node left at an older epoch gets no lease from peers at a newer one, and gets it back once it learns the epoch", async () => {
    const sim = new RegSim(23, { leaseMs: LEASE });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    // Older than a vouch window, so fence replies answer for no earlier life.
    await sim.run(LEASE + 300);
    expect(sim.reg("n0").authoritative()).toBe(true);
    sim.configs.hold("n0"); // its log lags: it stays at epoch 1, fully connected
    sim.add("n3");
    expect(await sim.untilEpoch(2, ["n1", "n2", "n3"])).toBe(true);
    const movedAt = sim.clock.now();
    expect(await sim.until(() => !sim.reg("n0").authoritative(), LEASE + 100)).toBe(true);
    expect(sim.clock.now() - movedAt).toBeLessThanOrEqual(LEASE + 10);
    await sim.run(2 * LEASE, undefined, 5);
    // Pings flow both ways all along, yet no pong at epoch 2 counts for a node at epoch 1.
    expect(sim.reg("n0").authoritative()).toBe(false);
    expect(NAMES.filter((n) => sim.reg("n0").isServing(n))).toEqual([]);
    sim.configs.release("n0");
    expect(await sim.untilEpoch(2, ["n0"])).toBe(true);
    expect(await sim.until(() => sim.reg("n0").authoritative(), LEASE)).toBe(true);
  });

  test("a stale lease reported by a fence reply delays the new owner's serving until it runs out; names kept through the change are served meanwhile", async () => {
    const sim = new RegSim(24, { leaseMs: LEASE });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    await sim.settle(Promise.all(NAMES.map((n) => sim.reg("n0").call(n, { op: "inc" }))));
    const violations: string[] = [];
    const check = exclusiveServing(sim, NAMES, violations);
    // n2 lags at epoch 1 and keeps pinging its peers there: they keep vouching for it at an older epoch.
    sim.configs.hold("n2");
    const replies: { at: number; w: number }[] = [];
    let states: string[] = [];
    sim.net.tap = (_from, to, msg) => {
      if (to === sim.node("n3")?.address && msg.t === "fr" && msg["e"] === 2) replies.push({ at: sim.clock.now(), w: msg["w"] as number });
    };
    sim.add("n3");
    const track = (): void => {
      check();
      const s = sim.reg("n3").stats();
      if (s.epoch === 2 && states[states.length - 1] !== s.serving) states.push(s.serving);
    };
    // A new epoch's first step: ask the holders how long old leases may count, and wait that out.
    expect(await sim.until(() => replies.length >= 2 && sim.reg("n3").stats().serving === "waiting", 1000, track)).toBe(true);
    const moved = NAMES.filter((n) => sim.reg("n3").ownerOf(n) === "n3" && ownerOf(n, ["n0", "n1", "n2"]) !== "n2");
    const kept = NAMES.filter((n) => sim.reg("n0").ownerOf(n) === "n0" && ownerOf(n, ["n0", "n1", "n2"]) === "n0");
    expect(moved.length).toBeGreaterThan(3);
    expect(kept.length).toBeGreaterThan(3);
    // The first majority of replies (2 of the 3 others) sets the wait: the longest vouch still counting.
    const counted = replies.slice(0, 2);
    const until = counted[1]!.at + Math.max(...counted.map((r) => r.w));
    expect(Math.max(...counted.map((r) => r.w))).toBeGreaterThan(LEASE / 2);
    // Meanwhile n0, itself still waiting out the same old vouches for epoch 2,
    // serves what it owned before and still owns (once its lease at epoch 2 is back: a ping round at most).
    expect(sim.reg("n0").stats().serving).not.toBe("serving");
    const k = await sim.settle(Promise.all(kept.map((n) => sim.reg("n0").call<number>(n, { op: "inc" }))), 1000, track);
    expect(k).toEqual({ ok: true, value: kept.map(() => 2) });
    expect(sim.reg("n0").stats().serving).toBe("waiting");
    expect(sim.clock.now()).toBeLessThan(until - LEASE / 4);
    // A call for a moved name waits for n3 to serve.
    const m = sim.track(Promise.all(moved.map((n) => sim.reg("n1").call<number>(n, { op: "inc" }))));
    expect(await sim.until(() => sim.reg("n3").stats().serving === "serving", 3 * LEASE, track)).toBe(true);
    const servingAt = sim.clock.now();
    expect(servingAt).toBeGreaterThanOrEqual(until - 1);
    expect(states).toEqual(["waiting", "fencing", "pulling", "serving"]);
    expect(await sim.until(() => m.result.ok !== "pending", 3000, track)).toBe(true);
    expect(m.result).toEqual({ ok: true, value: moved.map(() => 2) });
    const onN3 = sim.handled.filter((h) => h.node === "n3" && moved.includes(h.name));
    expect(onN3.length).toBe(moved.length);
    // (Each reply's w is computed when it is sent: its arrival + w is late by the transit, under a ms.)
    for (const h of onN3) expect(h.at).toBeGreaterThanOrEqual(until - 1);
    expect(violations).toEqual([]);
  });

  // Once a regression: the ping a node sent on learning an epoch said the old
  // one, its peers reported that vouch in their fence replies, and every new
  // owner waited out a whole lease on every change.
  test("the ping a node sends when it learns a configuration carries that configuration's epoch", async () => {
    const sim = new RegSim(25, { leaseMs: LEASE });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    const stale: string[] = [];
    sim.sent = (from, _to, msg) => {
      const known = sim.configs.knownBy(from)?.epoch;
      if (msg.t === "lp" && known !== undefined && (msg["e"] as number) < known) stale.push(`${from} e=${String(msg["e"])} knows ${known}`);
    };
    sim.add("n3");
    expect(await sim.untilEpoch(2)).toBe(true);
    await sim.run(100);
    expect(stale).toEqual([]);
  });

  test("a node joining a cluster of one is not held back by the vouch it was given before the join", async () => {
    const sim = new RegSim(26, { leaseMs: LEASE });
    sim.add("n0");
    await sim.run(50);
    await sim.run(LEASE / 2); // n1 will have pinged n0 (as a non-holder) just before
    sim.add("n1");
    expect(await sim.untilEpoch(2)).toBe(true);
    const learnedAt = sim.clock.now();
    expect(await sim.until(() => sim.reg("n1").stats().serving === "serving", 3 * LEASE)).toBe(true);
    // One fence round trip and one pull: a few ms on this network, not a lease.
    expect(sim.clock.now() - learnedAt).toBeLessThan(100);
  });

  // Was open: every retryMs the waiting state started a new round and
  // dropped replies to earlier ones, so with a round trip longer than
  // retryMs no round ever collected a majority. Late replies count now.
  test("serving rights are established when a round trip takes longer than retryMs", async () => {
    const sim = new RegSim(27, { retryMs: 100 }, { delayMinMs: 60, delayMaxMs: 70 });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    const ok = await sim.until(() => ["n0", "n1", "n2"].every((n) => sim.reg(n).ready()), 3000, undefined, 5);
    expect(["n0", "n1", "n2"].map((n) => sim.reg(n).stats().serving)).toEqual(["serving", "serving", "serving"]);
    expect(ok).toBe(true);
  });

  // Was open: setEpoch raised the replica's fence, so every holder that
  // learned E refused an old owner's write made inside its lease (an orphan
  // on its replica). The fence now rises only when a new owner asks for it,
  // after old leases are over (replication/fence.ts, registry/serving.ts).
  test("an old owner's write inside its lease is accepted while the new owner waits that lease out", async () => {
    const sim = new RegSim(28, { leaseMs: LEASE });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    sim.configs.hold("n2"); // left at epoch 1, its lease still running
    sim.add("n3");
    expect(await sim.untilEpoch(2, ["n0", "n1", "n3"])).toBe(true);
    expect(sim.reg("n2").authoritative()).toBe(true);
    expect(sim.reg("n3").stats().serving).toBe("waiting");
    const w = sim.track(sim.node("n2").replicator.write(sim.bus.mapOf("n2").set("k", 1, { w: sim.clock.now(), c: 0, n: "n2" })));
    await sim.run(20);
    expect(w.result).toEqual({ ok: true, value: undefined });
    expect(sim.bus.mapOf("n0").get("k")).toBe(1);
  });

  // Was open: vouches live in memory only, so restarted nodes starting a
  // new generation among themselves could serve at once while a survivor of
  // the old one still held a lease their earlier lives gave it. The first
  // node of a generation now waits out a vouch window since its own start,
  // and a young process's fence reply answers for its earlier life too.
  test("a new generation started by restarted nodes serves no name while a node of the old one may still hold a lease on it", async () => {
    const sim = new RegSim(29, { leaseMs: LEASE });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    expect((await sim.settle(Promise.all(NAMES.map((n) => sim.reg("n0").call(n, { op: "inc" }))))).ok).toBe(true);
    const violations: string[] = [];
    const check = exclusiveServing(sim, NAMES, violations);
    // n1 and n2 crash (n0's last pongs from them just before) and come back at once, cut off from n0.
    sim.crash("n1");
    sim.crash("n2");
    await sim.run(100, check);
    sim.restart("n1");
    sim.restart("n2");
    sim.net.partition([[sim.node("n0").address], [sim.node("n1").address, sim.node("n2").address]]);
    sim.world.announce("n1");
    sim.world.announce("n2");
    sim.configs.startGeneration(["n1", "n2"]);
    const calls = NAMES.map((n) => sim.track(sim.reg("n1").call(n, { op: "get" })));
    await sim.run(2 * LEASE, check);
    // The new generation does serve (a fresh start: its counters begin at 0)...
    expect(calls.every((c) => c.result.ok === true)).toBe(true);
    // ...but not while n0 may still serve the same names under its old lease.
    expect(violations).toEqual([]);
  });
});
