import { describe, expect, test } from "bun:test";
import { codeOf, RegSim, type Settled } from "../support/registry-sim.ts";

const NAMES = Array.from({ length: 60 }, (_, i) => `c:room-${i}`);

async function started(n: number, seed: number | string, config = {}): Promise<RegSim> {
  const sim = new RegSim(seed, config);
  for (let i = 0; i < n; i++) sim.add(`n${i}`);
  await sim.run(50);
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

/** Every increment answered exactly once and none lost: per name, the ok replies are exactly 1..final count. */
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

  test("a join seen by the nodes at different times, over a network that reorders and duplicates, still moves each name once with its state", async () => {
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
    sim.world.set("n0", "n3", "alive");
    await sim.run(60, check);
    sim.world.set("n1", "n3", "alive");
    await sim.run(60, check);
    sim.world.set("n2", "n3", "alive");
    await sim.run(300, check);
    l.stop();
    expect(await sim.until(() => l.results.every((x) => x.r.result.ok !== "pending"), 10_000, check)).toBe(true);
    expect(violations).toEqual([]);
    await checkCounts(sim, NAMES, l.results, 2);
    placementIsExclusive(sim, NAMES);
    expect(sim.interleavings).toBe(0);
  });

  test("drain hands every process to its next owner with its state, and calls keep working meanwhile", async () => {
    const sim = await started(3, 12);
    await incAll(sim, NAMES, 2);
    const had = sim.reg("n1").localNames().length;
    expect(had).toBeGreaterThan(5);
    const l = load(sim, NAMES, () => ["n0", "n1", "n2"]);
    await sim.run(50);
    const drained = await sim.settle(sim.reg("n1").drain(), 15_000);
    expect(drained.ok).toBe(true);
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

  test("a cluster of one drains by stopping its processes; calls after that answer unavailable", async () => {
    const sim = await started(1, 16);
    expect(await sim.settle(sim.reg("n0").call("c:solo", { op: "inc" }))).toEqual({ ok: true, value: 1 });
    const d = await sim.settle(sim.reg("n0").drain(), 5000);
    expect(d.ok).toBe(true);
    expect(sim.reg("n0").localNames()).toEqual([]);
    const r = await sim.settle(sim.reg("n0").call("c:solo", { op: "inc" }));
    expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
  });

  test("when an owner dies, the next owner catches up from the replicas before its process serves", async () => {
    const sim = await started(3, 13);
    await incAll(sim, NAMES, 1);
    const victim = "n2";
    const lost = NAMES.filter((n) => sim.reg("n0").ownerOf(n) === victim);
    expect(lost.length).toBeGreaterThan(5);
    sim.crash(victim);
    await sim.run(500);
    const deathAt = sim.clock.now();
    sim.world.setEverywhere(victim, "dead");
    const r = await sim.settle(Promise.all(lost.map((n) => sim.reg("n0").call<number>(n, { op: "inc" }))));
    // The counter's state lived only in the dead process: it starts again.
    expect(r).toEqual({ ok: true, value: lost.map(() => 1) });
    for (const name of lost) {
      const owner = sim.reg("n0").ownerOf(name);
      const first = sim.handled.find((h) => h.name === name && h.node === owner && h.at >= deathAt)!;
      expect(first).toBeDefined();
      const pulled = sim.bus.catchUps.some((c) => c.node === owner && c.at >= deathAt && c.at <= first.at);
      expect(pulled).toBe(true);
    }
    placementIsExclusive(sim, NAMES);
  });

  test("calls to a name that cannot be started in time are answered unavailable, not lost", async () => {
    const sim = await started(3, 14, { activationTimeoutMs: 300, queryTimeoutMs: 100 });
    const name = NAMES.find((n) => sim.reg("n0").ownerOf(n) === "n0")!;
    // n1 stays "alive" in the views but is gone: nobody can confirm n0 is the only copy.
    sim.crash("n1");
    const r = await sim.settle(sim.reg("n0").call(name, { op: "inc" }), 5000);
    expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
    expect(sim.handled.filter((h) => h.name === name)).toEqual([]);
  });
});
