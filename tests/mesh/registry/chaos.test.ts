import { describe, expect, test } from "bun:test";
import { RegSim } from "../../support/registry-sim.ts";

/**
 * Random churn on a 5-node cluster: partitions (views updated one pair at a
 * time), crashes with late death declarations, restarts under the same name
 * (late, or at once),
 * drains, long pauses (SIGSTOP), new nodes whose join the others see at
 * different times, and followers whose log lags (left at an older epoch
 * while a join moves names, or while the others think it dead); calls
 * flow from every node throughout. After every 2 ms of virtual time: at most
 * one node may serve any name, and no process handles two messages at once.
 * The committed configuration follows the views (registry-configs.ts): each
 * of these moves names between epochs while calls run.
 * At the end, once views agree: one copy per name, reachable from every node.
 * SEEDS=n runs more seeds (default 4).
 */
const NAMES = Array.from({ length: 24 }, (_, i) => `c:room-${i}`);
const SEEDS = Number(process.env["SEEDS"] ?? 4);

async function scenario(seed: number): Promise<{ violations: string[]; ok: number; failed: number; sim: RegSim }> {
  const sim = new RegSim(`chaos-${seed}`, { leaseMs: 1500 }, { reorder: true, duplicate: 0.02, delayMinMs: 0.2, delayMaxMs: 4 });
  const names = ["n0", "n1", "n2", "n3", "n4"];
  for (const n of names) sim.add(n);
  await sim.run(50);
  const violations: string[] = [];
  const check = (): void => {
    for (const name of NAMES) {
      const s = [...sim.nodes.values()].filter((n) => n.up && n.registry.isServing(name)).map((n) => n.name);
      if (s.length > 1) violations.push(`t=${sim.clock.now()} ${name}: ${s.join(",")}`);
    }
  };
  const rnd = (n: number): number => Math.floor(sim.random.float() * n);
  const pick = <T>(xs: T[]): T => xs[rnd(xs.length)]!;
  const up = (): string[] => [...sim.nodes.values()].filter((n) => n.up).map((n) => n.name);
  let ok = 0;
  let failed = 0;
  let on = true;
  const fire = (): void => {
    if (!on) return;
    sim.reg(pick(up())).call(pick(NAMES), { op: "inc" }, { timeoutMs: 2000 }).then(() => ok++, () => failed++);
    sim.clock.setTimer(3, fire);
  };
  fire();
  const staggered = async (pairs: [string, string][], state: "alive" | "dead"): Promise<void> => {
    for (const [a, b] of pairs) {
      if (sim.nodes.get(a)?.up !== true) continue;
      sim.world.set(a, b, state);
      await sim.run(rnd(25), check, 2);
    }
  };
  const pairsAcross = (xs: string[], ys: string[]): [string, string][] => {
    const out: [string, string][] = [];
    for (const a of xs) for (const b of ys) out.push([a, b], [b, a]);
    return out.sort(() => sim.random.float() - 0.5);
  };
  let extra = 0;
  await sim.run(200, check, 2);
  for (let step = 0; step < 4; step++) {
    const kind = pick(["partition", "crash", "restart", "drain", "join", "stall", "lag", "suspect"]);
    const cluster = up();
    if (kind === "partition") {
      const shuffled = [...cluster].sort(() => sim.random.float() - 0.5);
      const minority = shuffled.slice(0, Math.floor(cluster.length / 2));
      const majority = shuffled.slice(minority.length);
      sim.net.partition([minority.map((n) => sim.node(n).address), majority.map((n) => sim.node(n).address)]);
      await sim.run(2500 + rnd(1500), check, 2);
      await staggered(pairsAcross(minority, majority), "dead");
      await sim.run(1500 + rnd(1500), check, 2);
      sim.net.heal();
      await staggered(pairsAcross(minority, majority), "alive");
    } else if (kind === "crash") {
      const victim = pick(cluster);
      sim.crash(victim);
      await sim.run(2500 + rnd(1500), check, 2);
      await staggered(cluster.filter((n) => n !== victim).map((n) => [n, victim] as [string, string]), "dead");
      await sim.run(1000 + rnd(1000), check, 2);
      sim.restart(victim);
      await staggered(cluster.filter((n) => n !== victim).map((n) => [n, victim] as [string, string]), "alive");
    } else if (kind === "drain") {
      const who = pick(cluster);
      const d = sim.track(sim.reg(who).drain());
      await sim.until(() => d.result.ok !== "pending", 12_000, check, 2);
      await staggered(cluster.filter((n) => n !== who).map((n) => [n, who] as [string, string]), "dead");
      sim.crash(who);
      await sim.run(500, check, 2);
      sim.restart(who);
      await staggered(cluster.filter((n) => n !== who).map((n) => [n, who] as [string, string]), "alive");
    } else if (kind === "stall") {
      // SIGSTOP: a long GC pause. Long enough, and the others declare it dead meanwhile.
      const who = pick(cluster);
      const ms = 2000 + rnd(4000);
      sim.net.stall(sim.node(who).address, ms);
      const others = cluster.filter((n) => n !== who).map((n) => [n, who] as [string, string]);
      if (ms > 4000) {
        await sim.run(3500, check, 2);
        await staggered(others, "dead");
      }
      await sim.run(ms + 200 - (ms > 4000 ? 3500 : 0), check, 2);
      await staggered(others, "alive");
    } else if (kind === "restart") {
      // kill -9 and back at once under the same name: the configuration still holds the old incarnation.
      const who = pick(cluster);
      sim.crash(who);
      await sim.run(rnd(300), check, 2);
      sim.restart(who);
      await staggered(cluster.filter((n) => n !== who).map((n) => [n, who] as [string, string]), "alive");
    } else if (kind === "suspect") {
      // Declared dead while alive and connected, its log lagging: it keeps its old
      // epoch (and the vouches it was given there) while the others move its names.
      const who = pick(cluster);
      sim.configs.hold(who);
      await staggered(cluster.filter((n) => n !== who).map((n) => [n, who] as [string, string]), "dead");
      await sim.run(2000 + rnd(2000), check, 2);
      await staggered(cluster.filter((n) => n !== who).map((n) => [n, who] as [string, string]), "alive");
      sim.configs.release(who);
    } else if (kind === "lag") {
      // A follower whose log lags: connected, pinging, but left at the old epoch while a join moves names.
      const who = pick(cluster);
      sim.configs.hold(who);
      const n = `x${extra++}`;
      sim.add(n);
      // Longer than a new owner waits for its handoff (activationTimeoutMs): then it starts without it.
      await sim.run(5500 + rnd(1500), check, 2);
      sim.configs.release(who);
    } else {
      const n = `x${extra++}`;
      sim.add(n, { hidden: cluster });
      await staggered(cluster.map((c) => [c, n] as [string, string]), "alive");
    }
    await sim.run(1500 + rnd(1000), check, 2);
  }
  on = false;
  await sim.run(3000, check, 5);
  return { violations, ok, failed, sim };
}

describe("cluster registry under churn", () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    test(`seed ${seed}: never two nodes serving one name; one copy per name once views agree`, async () => {
      const { violations, ok, sim } = await scenario(seed);
      expect(violations).toEqual([]);
      expect(sim.interleavings).toBe(0);
      expect(ok).toBeGreaterThan(1000);
      // The churn did move names: more than the first configuration was committed.
      expect(sim.configs.log.length).toBeGreaterThan(1);
      const running = [...sim.nodes.values()].filter((n) => n.up);
      for (const name of NAMES) {
        const where = running.filter((n) => n.registry.localNames().includes(name)).map((n) => n.name);
        expect(where.length).toBeLessThanOrEqual(1);
        if (where.length === 1) expect(where[0]).toBe(running[0]!.registry.ownerOf(name));
      }
      for (const from of running) {
        const r = await sim.settle(Promise.all(NAMES.map((n) => from.registry.call(n, { op: "get" }))), 10_000);
        expect(r.ok).toBe(true);
      }
    }, 60_000);
  }
});
