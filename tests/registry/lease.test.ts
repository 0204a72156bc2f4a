import { describe, expect, test } from "bun:test";
import { codeOf, RegSim } from "../support/registry-sim.ts";

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
  test("a node cut off from the majority stops serving within leaseMs; the majority takes over only after; copies meet and resolve on heal", async () => {
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
    expect(sim.reg("n0").hasLease()).toBe(false);
    const lastMinorityHandle = Math.max(...sim.handled.filter((h) => h.node === "n0").map((h) => h.at));
    expect(lastMinorityHandle).toBeLessThanOrEqual(cut + LEASE);

    // The majority declares n0 dead (and n0 them) only later, then takes over.
    await sim.run(DEAD_AFTER - LEASE, check, 5);
    const deadAt = sim.clock.now();
    sim.world.setEverywhere("n0", "dead");
    sim.world.set("n0", "n1", "dead");
    sim.world.set("n0", "n2", "dead");
    const taken = await sim.settle(Promise.all(minority.map((n) => sim.reg("n2").call(n, { op: "get" }))), 5000, check);
    expect(taken.ok).toBe(true);
    const majorityHandles = sim.handled.filter((h) => h.node !== "n0" && minority.includes(h.name) && h.at > cut);
    expect(majorityHandles.length).toBeGreaterThan(0);
    expect(Math.min(...majorityHandles.map((h) => h.at))).toBeGreaterThanOrEqual(deadAt);
    expect(sim.handled.filter((h) => h.node === "n0" && h.at > cut + LEASE)).toEqual([]);
    // Calls made at n0 after its lease ran out were answered unavailable (quickly, not by timeout).
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
    // n0's stale copies met the majority's copies: resolveConflict ran on the owner.
    const met = sim.conflicts.filter((c) => minority.includes(c.name));
    expect(met.length).toBeGreaterThan(0);
    for (const c of met) expect(c.node).toBe("n0");
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

  test("a node with no quorum answers unavailable at once; a brief lapse makes it re-check with its peers before serving again", async () => {
    const sim = new RegSim(22, { leaseMs: LEASE });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    const name = NAMES.find((n) => sim.reg("n0").ownerOf(n) === "n0")!;
    expect(await sim.settle(sim.reg("n0").call(name, { op: "inc" }))).toEqual({ ok: true, value: 1 });
    const queriesBefore = sim.reg("n0").stats().activationQueries;
    sim.net.partition([[sim.node("n0").address], [sim.node("n1").address, sim.node("n2").address]]);
    await sim.run(LEASE + 50, undefined, 5);
    const t0 = sim.clock.now();
    const r = await sim.settle(sim.reg("n0").call(name, { op: "inc" }), 3000);
    expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
    expect(sim.clock.now() - t0).toBeLessThan(50);
    sim.net.heal();
    // The client retries; the lease returns with the next ping round.
    expect(await sim.until(() => sim.reg("n0").hasLease(), 2 * LEASE)).toBe(true);
    const back = await sim.settle(sim.reg("n0").call(name, { op: "inc" }), 5000);
    expect(back).toEqual({ ok: true, value: 2 });
    expect(sim.reg("n0").stats().activationQueries).toBeGreaterThan(queriesBefore);
  });
});
