import { describe, expect, test } from "bun:test";
import { ownerOf } from "../../../core/placement.ts";
import { codeOf, RegSim, type Settled } from "../../support/registry-sim.ts";

const NAMES = Array.from({ length: 60 }, (_, i) => `c:room-${i}`);

async function started(n: number, seed: number | string, config = {}): Promise<RegSim> {
  const sim = new RegSim(seed, config);
  for (let i = 0; i < n; i++) sim.add(`n${i}`);
  // Past a vouch window since every process started: a fence reply from a young
  // process answers for the vouches an earlier life of it may have given (lease.ts).
  await sim.run(1800);
  return sim;
}

/** Increment every name `times` times from rotating nodes; all must succeed. */
async function incAll(sim: RegSim, names: string[], times: number): Promise<void> {
  const from = [...sim.nodes.values()].filter((n) => n.up).map((n) => n.name);
  for (let t = 0; t < times; t++) {
    const ps = names.map((name, i) => sim.reg(from[(i + t) % from.length]!).call(name, { op: "inc" }));
    const r = await sim.settle(Promise.all(ps));
    expect(r.ok).toBe(true);
  }
}

interface Load {
  results: { name: string; r: { result: Settled<number> } }[];
  stop(): void;
}

/** Two increments per ms of virtual time, from random running nodes to random names. */
function load(sim: RegSim, names: string[], from: () => string[]): Load {
  const results: Load["results"] = [];
  let on = true;
  const fire = (): void => {
    if (!on) return;
    for (let k = 0; k < 2; k++) {
      const srcs = from();
      const src = srcs[Math.floor(sim.random.float() * srcs.length)]!;
      const name = names[Math.floor(sim.random.float() * names.length)]!;
      results.push({ name, r: sim.track(sim.reg(src).call<number>(name, { op: "inc" })) });
    }
    sim.clock.setTimer(1, fire);
  };
  fire();
  return { results, stop: () => (on = false) };
}

/** Every increment answered exactly once and none lost: per name, the ok replies are exactly base+1..final count. */
async function checkCounts(sim: RegSim, names: string[], results: Load["results"], base: number): Promise<void> {
  const replies = new Map<string, number[]>();
  for (const { name, r } of results) {
    expect(r.result.ok).toBe(true);
    if (r.result.ok === true) replies.set(name, [...(replies.get(name) ?? []), r.result.value]);
  }
  const any = [...sim.nodes.values()].find((n) => n.up)!.name;
  for (const name of names) {
    const got = await sim.settle(sim.reg(any).call<number>(name, { op: "get" }));
    const vals = (replies.get(name) ?? []).sort((a, b) => a - b);
    const expected = Array.from({ length: vals.length }, (_, i) => base + i + 1);
    expect(vals).toEqual(expected);
    expect(got).toEqual({ ok: true, value: base + vals.length });
  }
}

function placementIsExclusive(sim: RegSim, names: string[]): void {
  const running = new Map<string, string[]>();
  for (const n of sim.nodes.values()) {
    if (!n.up) continue;
    for (const name of n.registry.localNames()) running.set(name, [...(running.get(name) ?? []), n.name]);
  }
  for (const name of names) {
    const where = running.get(name) ?? [];
    expect(where.length).toBe(1);
    expect(sim.reg(where[0]!).ownerOf(name)).toBe(where[0]!);
  }
}

describe("cluster registry: mailbox and handoff", () => {
  test("concurrent calls to one name from every node never interleave and each runs once", async () => {
    const sim = await started(3, 10);
    const ps: Promise<number>[] = [];
    for (let i = 0; i < 30; i++) ps.push(sim.reg(`n${i % 3}`).call<number>("c:serial", { op: "slow", ms: 5 }));
    const r = await sim.settle(Promise.all(ps));
    expect(r.ok).toBe(true);
    if (r.ok === true) expect([...r.value].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(sim.interleavings).toBe(0);
  });

  test("a joining node takes the names it now owns WITH their state; calls during the move are neither lost nor answered twice", async () => {
    const sim = await started(3, 11);
    await incAll(sim, NAMES, 3);
    const l = load(sim, NAMES, () => [...sim.nodes.keys()]);
    await sim.run(100);
    sim.add("n3"); // every view sees it at once; it sees everyone
    await sim.run(400);
    l.stop();
    expect(await sim.until(() => l.results.every((x) => x.r.result.ok !== "pending"), 10_000)).toBe(true);
    const moved = NAMES.filter((n) => sim.reg("n0").ownerOf(n) === "n3");
    expect(moved.length).toBeGreaterThan(5);
    expect(sim.reg("n3").localNames()).toEqual(expect.arrayContaining(moved));
    expect(sim.reg("n3").stats().handoffsIn).toBeGreaterThanOrEqual(moved.length);
    await checkCounts(sim, NAMES, l.results, 3);
    placementIsExclusive(sim, NAMES);
    expect(sim.interleavings).toBe(0);
  });

  test("a join the views see at different times, over a network that reorders and duplicates, moves each name once with its state; every call is answered once", async () => {
    const sim = new RegSim(15, {}, { reorder: true, duplicate: 0.05, delayMinMs: 0.2, delayMaxMs: 3 });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    await incAll(sim, NAMES, 2);
    const violations: string[] = [];
    const check = (): void => {
      for (const name of NAMES) {
        const serving = [...sim.nodes.values()].filter((n) => n.registry.isServing(name));
        if (serving.length > 1) violations.push(`${sim.clock.now()} ${name}`);
      }
    };
    const l = load(sim, NAMES, () => [...sim.nodes.keys()]);
    await sim.run(50, check);
    sim.add("n3", { hidden: ["n0", "n1", "n2"] }); // n3 sees everyone; nobody sees n3 yet
    await sim.run(30, check);
    // The configuration's leader (n0) sees it first and adds it: n1 and n2 learn the epoch before their views show n3.
    sim.world.set("n0", "n3", "alive");
    await sim.run(60, check);
    sim.world.set("n1", "n3", "alive");
    await sim.run(60, check);
    sim.world.set("n2", "n3", "alive");
    await sim.run(300, check);
    l.stop();
    expect(await sim.until(() => l.results.every((x) => x.r.result.ok !== "pending"), 10_000, check)).toBe(true);
    expect(sim.configs.latest()?.holders.map((h) => h.name)).toEqual(["n0", "n1", "n2", "n3"]);
    expect(violations).toEqual([]);
    await checkCounts(sim, NAMES, l.results, 2);
    placementIsExclusive(sim, NAMES);
    expect(sim.interleavings).toBe(0);
    expect(sim.reg("n3").stats().handoffsIn).toBeGreaterThan(5);
  });

  test("a call for an owner the configuration holds but this node's view has not seen yet waits for the view instead of failing", async () => {
    const sim = new RegSim(17);
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    sim.add("n3", { hidden: ["n0", "n1", "n2"] });
    sim.world.set("n0", "n3", "alive"); // the leader sees it: the configuration adds it
    expect(await sim.untilEpoch(2, ["n0", "n1", "n3"])).toBe(true);
    const name = NAMES.find((n) => sim.reg("n1").ownerOf(n) === "n3")!;
    const r = sim.track(sim.reg("n1").call<number>(name, { op: "inc" }));
    await sim.run(100);
    sim.world.set("n1", "n3", "alive");
    expect(await sim.until(() => r.result.ok !== "pending", 3000)).toBe(true);
    expect(r.result).toEqual({ ok: true, value: 1 });
  });

  test("drain: the configuration drops the draining node; it hands every process to its next owner with its state, and calls keep working meanwhile", async () => {
    const sim = await started(3, 12);
    await incAll(sim, NAMES, 2);
    const had = sim.reg("n1").localNames().length;
    expect(had).toBeGreaterThan(5);
    const l = load(sim, NAMES, () => ["n0", "n1", "n2"]);
    await sim.run(50);
    const drained = await sim.settle(sim.reg("n1").drain(), 15_000);
    expect(drained.ok).toBe(true);
    expect(sim.configs.latest()?.holders.map((h) => h.name)).toEqual(["n0", "n2"]);
    expect(sim.reg("n1").localNames()).toEqual([]);
    expect(sim.reg("n1").stats().handoffsOut).toBe(had);
    await sim.run(50);
    l.stop();
    sim.world.setEverywhere("n1", "left");
    expect(await sim.until(() => l.results.every((x) => x.r.result.ok !== "pending"), 10_000)).toBe(true);
    await checkCounts(sim, NAMES, l.results, 2);
    sim.crash("n1");
    placementIsExclusive(sim, NAMES);
  });

  test("a cluster of one drains by ending its processes here, at once (nobody is left to take them)", async () => {
    const sim = await started(1, 16);
    expect(await sim.settle(sim.reg("n0").call("c:solo", { op: "inc" }))).toEqual({ ok: true, value: 1 });
    const t0 = sim.clock.now();
    const d = await sim.settle(sim.reg("n0").drain(), 5000);
    expect(d.ok).toBe(true);
    expect(sim.clock.now() - t0).toBeLessThan(100);
    expect(sim.reg("n0").localNames()).toEqual([]);
  });

  test("a cluster of one that drained answers later calls unavailable instead of serving them from a fresh process", async () => {
    const sim = await started(1, 16);
    expect(await sim.settle(sim.reg("n0").call("c:solo", { op: "inc" }))).toEqual({ ok: true, value: 1 });
    expect((await sim.settle(sim.reg("n0").drain(), 5000)).ok).toBe(true);
    const r = await sim.settle(sim.reg("n0").call("c:solo", { op: "inc" }));
    expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
  });

  test("when an owner dies, its names move once the configuration drops it, and the new owner serves only after a majority adopted the new fence and it pulled from them", async () => {
    const sim = await started(3, 13);
    // "k:<x>" reads what the replicated map holds for it when it starts.
    const startedWith: { node: string; name: string; at: number; seen: unknown }[] = [];
    for (const node of ["n0", "n1", "n2"]) {
      sim.reg(node).define("k:", (name) => {
        startedWith.push({ node, name, at: sim.clock.now(), seen: sim.bus.mapOf(node).get(`k/${name}`) });
        return { handle: () => sim.bus.mapOf(node).get(`k/${name}`) };
      });
    }
    const names = Array.from({ length: 400 }, (_, i) => `k:room-${i}`).filter(
      (n) => ownerOf(n, ["n0", "n1", "n2"]) === "n2" && ownerOf(n, ["n0", "n1"]) === "n1",
    ).slice(0, 10);
    expect(names.length).toBe(10);
    // n2 writes while n1 is cut off: only n0 and n2 hold the values (a majority acknowledged them).
    sim.net.partition([[sim.node("n1").address], [sim.node("n0").address, sim.node("n2").address]]);
    const w = await sim.settle(Promise.all(names.map((n, i) => sim.node("n2").replicator.write(sim.bus.mapOf("n2").set(`k/${n}`, i + 100, { w: sim.clock.now(), c: 0, n: "n2" })))));
    expect(w.ok).toBe(true);
    for (const n of names) expect(sim.bus.mapOf("n1").get(`k/${n}`)).toBeUndefined();
    sim.crash("n2");
    sim.net.heal();
    await sim.run(200);
    sim.world.setEverywhere("n2", "dead");
    expect(await sim.untilEpoch(2)).toBe(true);
    const r = await sim.settle(Promise.all(names.map((n) => sim.reg("n0").call(n, {}))));
    expect(r).toEqual({ ok: true, value: names.map((_, i) => i + 100) });
    for (const name of names) {
      const first = startedWith.find((s) => s.name === name)!;
      expect(first.node).toBe("n1");
      const pull = sim.bus.pulls.find((p) => p.node === "n1" && p.epoch === 2)!;
      expect(pull.doneAt).toBeLessThanOrEqual(first.at);
      expect(pull.from).toEqual(["n0"]);
      // n0 (with n1, a majority of {n0, n1}) refuses writes stamped below 2 before n1 serves.
      const fenced = sim.bus.fences.find((f) => f.node === "n0" && f.fence >= 2)!;
      expect(fenced.at).toBeLessThanOrEqual(first.at);
    }
    placementIsExclusive(sim, [...NAMES.filter((n) => sim.reg("n0").localNames().includes(n))]);
  });

  test("a new owner waits for the handoff of a previous owner that is alive, and continues from its state", async () => {
    const sim = await started(3, 18);
    sim.configs.snapshots = 0; // n3 replays the log: it knows epoch 1's placement
    const name = NAMES.find((n) => ownerOf(n, ["n0", "n1", "n2", "n3"]) === "n3")!;
    const prev = sim.reg("n0").ownerOf(name);
    for (let i = 0; i < 5; i++) await sim.settle(sim.reg("n0").call(name, { op: "inc" }));
    // The previous owner is busy when the name moves, longer than n3 takes to
    // serve (fence, pull, old leases: under 2 s): its handoff leaves only after this call.
    const slowEnd = sim.clock.now() + 3000;
    const slow = sim.track(sim.reg(prev).call<number>(name, { op: "slow", ms: 3000 }));
    await sim.run(5);
    sim.add("n3");
    expect(await sim.untilEpoch(2)).toBe(true);
    expect(await sim.until(() => sim.reg("n3").stats().serving === "serving", 2500)).toBe(true);
    expect(sim.clock.now()).toBeLessThan(slowEnd);
    const r = await sim.settle(sim.reg("n0").call<number>(name, { op: "inc" }));
    expect(slow.result).toEqual({ ok: true, value: 6 });
    expect(r).toEqual({ ok: true, value: 7 });
    const onNew = sim.handled.filter((h) => h.name === name && h.node === "n3");
    expect(onNew.length).toBe(1);
    expect(onNew[0]!.at).toBeGreaterThanOrEqual(slowEnd);
    expect(sim.conflicts).toEqual([]);
    expect(sim.interleavings).toBe(0);
  });

  // A joining node is often sent a snapshot: it knows the previous placement only from the configuration itself.
  test("a joining node that learned only the latest configuration still waits for the previous owner's handoff", async () => {
    const sim = await started(3, 18);
    sim.configs.snapshots = 1;
    sim.configs.hold("n3"); // n3 learns nothing until epoch 2 is committed, then epoch 2 alone
    const name = NAMES.find((n) => ownerOf(n, ["n0", "n1", "n2", "n3"]) === "n3")!;
    const prev = sim.reg("n0").ownerOf(name);
    for (let i = 0; i < 5; i++) await sim.settle(sim.reg("n0").call(name, { op: "inc" }));
    // The previous owner is busy when the name moves, longer than n3 takes to
    // serve (fence, pull, old leases: under 2 s): its handoff leaves only after this call.
    const slowEnd = sim.clock.now() + 3000;
    const slow = sim.track(sim.reg(prev).call<number>(name, { op: "slow", ms: 3000 }));
    await sim.run(5);
    sim.add("n3");
    expect(await sim.until(() => sim.configs.latest()?.epoch === 2, 1000)).toBe(true);
    sim.configs.release("n3");
    expect(await sim.untilEpoch(2)).toBe(true);
    expect(await sim.until(() => sim.reg("n3").stats().serving === "serving", 2500)).toBe(true);
    expect(sim.clock.now()).toBeLessThan(slowEnd);
    const r = await sim.settle(sim.reg("n0").call<number>(name, { op: "inc" }));
    expect(slow.result).toEqual({ ok: true, value: 6 });
    expect(r).toEqual({ ok: true, value: 7 });
    const onNew = sim.handled.filter((h) => h.name === name && h.node === "n3");
    expect(onNew.length).toBe(1);
    expect(onNew[0]!.at).toBeGreaterThanOrEqual(slowEnd);
    expect(sim.conflicts).toEqual([]);
    expect(sim.interleavings).toBe(0);
  });

  test("a new owner does not wait for the handoff of a previous owner that is dead: it starts at once", async () => {
    const sim = await started(3, 19, { activationTimeoutMs: 3000 });
    const victim = "n2";
    const name = NAMES.find((n) => ownerOf(n, ["n0", "n1", "n2"]) === victim)!;
    await sim.settle(sim.reg("n0").call(name, { op: "inc" }));
    sim.crash(victim);
    sim.world.setEverywhere(victim, "dead");
    const owner = ownerOf(name, ["n0", "n1"])!;
    expect(await sim.until(() => sim.reg(owner).stats().epoch === 2 && sim.reg(owner).stats().serving === "serving", 5000)).toBe(true);
    const t0 = sim.clock.now();
    const r = await sim.settle(sim.reg("n0").call<number>(name, { op: "inc" }));
    // Its state died with it: the new owner starts fresh, without waiting out activationTimeoutMs.
    expect(r).toEqual({ ok: true, value: 1 });
    expect(sim.clock.now() - t0).toBeLessThan(100);
  });

  test("calls to a name whose owner cannot catch up in time are answered unavailable, and never run", async () => {
    const sim = await started(3, 14, { activationTimeoutMs: 300 });
    sim.bus.stuck.add("n3");
    sim.add("n3");
    expect(await sim.untilEpoch(2)).toBe(true);
    const name = NAMES.find((n) => sim.reg("n0").ownerOf(n) === "n3")!;
    const t0 = sim.clock.now();
    const r = await sim.settle(sim.reg("n0").call(name, { op: "inc" }), 5000);
    expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
    // Within the activation bound (held at most that long here and at the owner), far below the 5 s call timeout.
    expect(sim.clock.now() - t0).toBeLessThan(2 * 300 + 100);
    expect(sim.handled.filter((h) => h.name === name)).toEqual([]);
    // Once its pull completes (and old leases ran out) it serves; the refused call had never run.
    sim.bus.stuck.delete("n3");
    expect(await sim.until(() => sim.reg("n3").stats().serving === "serving", 5000)).toBe(true);
    expect(await sim.settle(sim.reg("n0").call(name, { op: "inc" }), 5000)).toEqual({ ok: true, value: 1 });
  });
});
