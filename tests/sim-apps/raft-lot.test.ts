/**
 * The Raft lot (`lot: "raft"`) on whole simulated roomy nodes: 3- and 5-node
 * clusters under crashes, restarts under the same name, partitions, bridges, stalls,
 * loss, duplication and reordering, with clients parking, unparking and
 * reading through random nodes (raft-lot-run.ts). Every history must be
 * linearizable (checkLot), no replica's lot machine may ever hold more cars
 * than spaces, and once the faults stop every node holds the leader's lot.
 * Then the generation scenarios: a whole-cluster restart, every voter
 * restarted while a learner survives, and a cut-off minority.
 *
 * SEED=n replays one run; SOAK=1 runs 100 seeds.
 */
import { describe, expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";
import { codeOf, crashSurvivable, leaderSlot, lotDivergence, raftSettled, raftStates, type RaftRunResult, runRaftLot } from "./raft-lot-run.ts";
import { replay, seeds, SOAK } from "./seeds.ts";

const FILE = "tests/sim-apps/raft-lot.test.ts";
const nodesFor = (seed: number): number => (seed % 2 === 1 ? 3 : 5);

let runs: Promise<RaftRunResult[]> | undefined;
function results(): Promise<RaftRunResult[]> {
  runs ??= (async () => {
    const out: RaftRunResult[] = [];
    // 293: a change dropping a cut-off voter, appended just before the other voter restarted, held the cluster leaderless for good (stuck-change.ts).
    for (const seed of seeds([1, 2, 3, 4, 5, 6, 7, 8, 293], 100)) {
      const r = await runRaftLot({ seed, nodes: nodesFor(seed), workloadMs: 8000 });
      if (SOAK || process.env["SIM_FIGURES"] === "1") console.log(`seed ${seed} (${r.nodes} nodes): check ${r.check.ok} in ${r.check.steps} steps, ${JSON.stringify(r.figures)}`);
      out.push(r);
    }
    return out;
  })();
  return runs;
}

const where = (r: RaftRunResult): string => `seed ${r.seed} (${r.nodes} nodes; replay: ${replay(r.seed, FILE)})`;

describe("the Raft lot on a simulated cluster under crashes, restarts, partitions, stalls, loss and duplication", () => {
  // Found here and fixed in mesh/consensus/driver.ts (seed 3, 3 nodes, before
  // the fixes): a configuration removing a partitioned voter while another
  // voter was gone took effect, could never commit, and no leader was ever
  // elected again; lost forwards were never resent, and a resent or
  // duplicated forward would have applied one command twice.
  test(
    "every history of park, unpark and lot reads is linearizable",
    async () => {
      // ok false is a proven violation; "unknown" is the checker's budget
      // running out (many indeterminate ops: every write in flight across a
      // fault): reported, and allowed on a quarter of the seeds at most.
      // Refusals before a call ran anywhere (RoomyError.noEffect) count as no
      // effect, not indeterminate: that is what keeps seed 7 decidable.
      const bad = (await results()).filter((r) => r.check.ok === false);
      const unknown = (await results()).filter((r) => r.check.ok === "unknown");
      if (unknown.length > 0) console.log(`checker gave up on: ${unknown.map(where).join("; ")}`);
      expect(unknown.length).toBeLessThanOrEqual((await results()).length / 4);
      expect(bad.map((r) => `${where(r)}: ${"reason" in r.check ? r.check.reason : ""}\nfaults:\n  ${r.faultLog.join("\n  ")}`).join("\n")).toBe("");
      // the check means something only if enough operations were definite
      // (seed 7, 3 nodes, leaves only 5 of 83 definite: a one-node partition
      // and long stalls of another keep a majority away most of the run)
      const all = await results();
      expect(all.reduce((n, r) => n + r.figures.ops - r.figures.indeterminate, 0)).toBeGreaterThan(all.length * 20);
    },
    SOAK ? 3_600_000 : 300_000,
  );

  test(
    "no lot machine ever holds more cars than spaces; after the faults every node holds the leader's lot in the same generation",
    async () => {
      const bad = (await results()).filter((r) => r.violations.length > 0);
      expect(bad.map((r) => `${where(r)}:\n  ${r.violations.join("\n  ")}\nfaults:\n  ${r.faultLog.join("\n  ")}`).join("\n")).toBe("");
    },
    SOAK ? 3_600_000 : 300_000,
  );
});

async function raftSim(seed: number, nodes: number): Promise<AppSim> {
  const sim = await AppSim.start({ seed, nodes, gates: 2, spaces: 3, lot: "raft", callTimeoutMs: 3000 });
  await sim.until(() => raftSettled(sim), 30_000, "raft formation");
  return sim;
}

const node = (sim: AppSim, name: string) => sim.slot(name).node!;

describe("generations of the Raft lot", () => {
  test("a whole-cluster restart starts a new generation: a different generation number, an empty lot that works", async () => {
    const sim = await raftSim(11, 3);
    await sim.retry(() => node(sim, "n1").app.park(1, "OLD 1"), "park");
    const before = node(sim, "n1").consensus.status().generation;
    expect(Object.keys(node(sim, "n2").app.lotLocal().vehicles).length + Object.keys(node(sim, "n1").app.lotLocal().vehicles).length).toBeGreaterThan(0);
    for (const n of sim.names()) sim.crash(n);
    await sim.run(500);
    for (const n of sim.names()) sim.restart(n);
    await sim.until(() => raftSettled(sim), 60_000, `a new generation\n${raftStates(sim)}`);
    const after = leaderSlot(sim)!.node!.consensus.status().generation;
    expect(after).not.toBe(before);
    for (const n of sim.names()) expect(node(sim, n).app.lotLocal().occupied).toBe(0);
    await sim.retry(() => node(sim, "n3").app.park(2, "NEW 1"), "park in the new generation");
    const seen = await sim.settle(node(sim, "n2").app.lot());
    expect(seen.ok === true && Object.keys(seen.value.vehicles)).toEqual(["NEW 1"]);
  }, 60_000);

  test("every voter restarted while a learner survived: the learner leaves the old generation and joins the new one", async () => {
    const sim = await raftSim(12, 4);
    const st = leaderSlot(sim)!.node!.consensus.status();
    expect(st.voters.length).toBe(3); // voters are odd: the fourth node learns
    expect(st.learners.length).toBe(1);
    const learner = st.learners[0]!;
    await sim.retry(() => node(sim, learner).app.park(1, "OLD 1"), "park");
    await sim.until(() => raftSettled(sim), 10_000, "the park applied everywhere");
    expect(node(sim, learner).app.lotLocal().occupied).toBe(1);
    const survivor = node(sim, learner);
    for (const v of st.voters) sim.crash(v);
    await sim.run(300);
    for (const v of st.voters) sim.restart(v);
    await sim.until(() => raftSettled(sim), 60_000, `a new generation with the learner\n${raftStates(sim)}`);
    expect(node(sim, learner)).toBe(survivor); // the same process, never restarted
    expect(survivor.consensus.stats.generationsEnded).toBe(1);
    const gen = leaderSlot(sim)!.node!.consensus.status().generation;
    expect(gen).not.toBe(st.generation);
    expect(survivor.consensus.status().generation).toBe(gen);
    expect(survivor.app.lotLocal().occupied).toBe(0); // nothing acknowledged survived on a voter
    await sim.retry(() => survivor.app.park(2, "NEW 1"), "park through the learner");
    await sim.until(() => raftSettled(sim) && lotDivergence(sim).length === 0, 10_000, "the new park everywhere");
    expect(Object.keys(survivor.app.lotLocal().vehicles)).toEqual(["NEW 1"]);
  }, 60_000);

  test("two of three voters killed at once and restarted: the survivor starts the next generation from its state; the lot and the rooms it held come back", async () => {
    for (const seed of [21, 22, 23]) {
      const sim = await raftSim(seed, 3);
      await sim.until(() => leaderSlot(sim)?.node!.consensus.status().voters.length === 3, 10_000, "three voters");
      await sim.retry(() => node(sim, "n1").app.park(1, "OLD 1"), "park");
      await sim.retry(() => node(sim, "n1").app.addRooms(["hall"]), "a room");
      await sim.retry(() => node(sim, "n2").app.walkInto("hall", ["ada"]), "a walk");
      await sim.until(() => raftSettled(sim), 10_000, "the park applied everywhere");
      const st = leaderSlot(sim)!.node!.consensus.status();
      const [survivor, ...lost] = [...st.voters].sort((a, b) => (a === "n3" ? -1 : b === "n3" ? 1 : a.localeCompare(b)));
      const kept = node(sim, survivor!);
      for (const v of lost) sim.crash(v);
      await sim.run(300);
      for (const v of lost) sim.restart(v);
      await sim.until(() => raftSettled(sim) && lotDivergence(sim).length === 0, 60_000, `seed ${seed}: the next generation, all three in it\n${raftStates(sim)}`);
      expect(node(sim, survivor!)).toBe(kept); // the same process, never restarted
      const now = leaderSlot(sim)!.node!.consensus.status();
      expect(now.generation).not.toBe(st.generation);
      expect(kept.consensus.status().generation).toBe(now.generation);
      for (const n of sim.names()) expect(Object.keys(node(sim, n).app.lotLocal().vehicles)).toEqual(["OLD 1"]);
      await sim.retry(() => node(sim, lost[0]!).app.park(2, "NEW 1"), "park through a restarted node");
      const where = await sim.settle(node(sim, lost[1]!).app.whereIs("ada"));
      expect(where).toEqual({ ok: true, value: "hall" });
    }
  }, 120_000);

  test("two of three restarted while cut off from the survivor run a generation of their own; once healed, the survivor joins it and its rooms come back", async () => {
    for (const seed of [31, 32]) {
      const sim = await raftSim(seed, 3);
      await sim.until(() => leaderSlot(sim)?.node!.consensus.status().voters.length === 3, 10_000, "three voters");
      await sim.retry(() => node(sim, "n1").app.addRooms(["hall"]), "a room");
      await sim.retry(() => node(sim, "n2").app.walkInto("hall", ["ada"]), "a walk");
      await sim.until(() => raftSettled(sim) && sim.settledExceptReadiness(), 20_000, "the walk everywhere");
      const first = leaderSlot(sim)!.node!.consensus.status().generation;
      const survivor = node(sim, "n3");
      sim.partition([["n1", "n2"], ["n3"]]);
      sim.crash("n1");
      sim.crash("n2");
      await sim.run(300);
      sim.restart("n1");
      sim.restart("n2");
      // A majority of each other's seeds, they start a generation of their own (the documented split).
      await sim.until(() => ["n1", "n2"].every((n) => (node(sim, n).consensus.status().generation ?? 0) > first), 30_000, "the pair's own generation");
      sim.heal();
      await sim.until(() => raftSettled(sim) && sim.settledExceptReadiness(), 60_000, `one generation again\n${raftStates(sim)}`);
      const gen = leaderSlot(sim)!.node!.consensus.status().generation;
      expect(node(sim, "n3")).toBe(survivor);
      expect(survivor.consensus.status().generation).toBe(gen);
      expect(gen).not.toBe(first);
      for (const n of ["n1", "n2", "n3"]) {
        const where = await sim.settle(node(sim, n).app.whereIs("ada"));
        expect({ seed, n, where }).toEqual({ seed, n, where: { ok: true, value: "hall" } });
      }
    }
  }, 120_000);

  test("with a majority of voters cut off, writes on the minority answer unavailable within the timeout, never ok", async () => {
    const sim = await raftSim(13, 5);
    await sim.until(() => leaderSlot(sim)?.node!.consensus.status().voters.length === 5, 10_000, "five voters");
    const minority = ["n1", "n2"];
    sim.partition([minority, ["n3", "n4", "n5"]]);
    await sim.run(1500); // the minority notices it lost the majority
    const calls = minority.flatMap((n, i) => [
      sim.track(node(sim, n).app.park(1 + (i % 2), `CUT ${i}`)),
      sim.track(node(sim, n).app.unpark(2 - (i % 2), `CUT ${i}`)),
      sim.track(node(sim, n).app.lot()),
    ]);
    const t0 = sim.clock.now();
    await sim.until(() => calls.every((c) => c.outcome.ok !== "pending"), 3000 + 1000, "every minority call answered");
    expect(sim.clock.now() - t0).toBeLessThanOrEqual(4000);
    for (const c of calls) {
      expect(c.outcome.ok).toBe(false);
      if (c.outcome.ok === false) expect(codeOf(c.outcome.error)).toBe("unavailable");
    }
    // the majority side still serves writes
    await sim.retry(() => node(sim, "n4").app.park(1, "MAJ 1"), "park on the majority side", 10_000);
    sim.heal();
    await sim.until(() => raftSettled(sim) && lotDivergence(sim).length === 0, 30_000, "healed");
    for (const n of sim.names()) expect(Object.keys(node(sim, n).app.lotLocal().vehicles)).toEqual(["MAJ 1"]);
  }, 60_000);

  // The shape of the chaos run that found driver.ts's configuration guard
  // (the leader removed the partitioned voter while another was gone: a
  // configuration that could never commit, and no leader ever after). On
  // this seed the crashed voter is removed first, so this pins the recovery,
  // not the guard itself.
  test("a voter partitioned away while another crashed: once healed and restarted, the cluster elects a leader and serves the lot", async () => {
    const sim = await raftSim(Number(process.env["SEED"] ?? 14), 3);
    await sim.retry(() => node(sim, "n1").app.park(1, "KEEP 1"), "park");
    await sim.until(() => raftSettled(sim) && leaderSlot(sim)!.node!.consensus.committedConfig().voters.length === 3, 10_000, "three voters");
    const l = leaderSlot(sim)!;
    const [x, y] = l.node!.consensus.core!.config.voters.filter((v) => v.name !== l.name).map((v) => v.name);
    sim.partition([[x!], sim.names().filter((n) => n !== x)]);
    sim.crash(y!);
    await sim.run(5000);
    sim.heal();
    sim.restart(y!);
    await sim.until(() => raftSettled(sim), 30_000, `a leader after healing\n${raftStates(sim)}`);
    await sim.until(() => lotDivergence(sim).length === 0, 5000, "the lot everywhere");
    for (const n of sim.names()) expect(Object.keys(node(sim, n).app.lotLocal().vehicles)).toEqual(["KEEP 1"]);
  }, 60_000);
});

/**
 * The chaos run's crash gate (crashSurvivable) counts every configuration
 * in force, with the voters the leader aims for, as the chaos workload's
 * does (config-whole.ts). Its first gate, raftSettled, looked at the
 * committed configuration's members only: after a restart, {n1, n3} voting
 * and the restarted n2 a caught-up learner not yet promoted passed it, for
 * some 25 ms per restart, and a crash of the leader then left n3 alone in
 * a configuration that can never again have a majority.
 */
describe("the chaos run crashes a node only when one more crash is survivable", () => {
  /** Three voters; a follower crashed, dropped, and restarted: the first moment raftSettled holds again. */
  async function restartedFollower(seed: number): Promise<AppSim> {
    const sim = await raftSim(seed, 3);
    await sim.until(() => raftSettled(sim) && leaderSlot(sim)!.node!.consensus.committedConfig().voters.length === 3, 10_000, "three voters");
    const victim = sim.names().find((n) => n !== leaderSlot(sim)!.name)!;
    sim.crash(victim);
    await sim.until(() => leaderSlot(sim)?.node!.consensus.committedConfig().voters.length === 2, 30_000, "the crashed voter dropped");
    sim.restart(victim);
    await sim.until(() => raftSettled(sim), 30_000, "settled with the restarted node", 1);
    return sim;
  }

  test("settled with the restarted node still a learner (two voters of three aimed for) is no time for a crash; once it votes, it is", async () => {
    const sim = await restartedFollower(21);
    const c = leaderSlot(sim)!.node!.consensus.committedConfig();
    expect({ voters: c.voters.length, learners: c.learners.length }).toEqual({ voters: 2, learners: 1 });
    expect(crashSurvivable(sim)).toBe(false);
    await sim.until(() => crashSurvivable(sim), 10_000, "the learner promoted", 1);
    expect(leaderSlot(sim)!.node!.consensus.committedConfig().voters.length).toBe(3);
  }, 60_000);

  test("the gate has teeth: the leader crashed at that moment leaves no leader while it is down; back under a new id, the survivor starts the next generation", async () => {
    const sim = await restartedFollower(21);
    const before = leaderSlot(sim)!.node!.consensus.status();
    const leader = before.leader!;
    const survivor = before.voters.find((v) => v !== leader)!;
    sim.crash(leader);
    await sim.run(20_000);
    expect(leaderSlot(sim)).toBeUndefined();
    // Its old id never answers again: the configuration {leader, survivor} can never commit, so the
    // survivor (which holds every committed entry: a majority of two is both) starts the next generation.
    sim.restart(leader);
    await sim.until(() => raftSettled(sim), 30_000, `the next generation\n${raftStates(sim)}`);
    const after = leaderSlot(sim)!.node!.consensus.status();
    expect(after.generation).not.toBe(before.generation);
    expect(node(sim, survivor).consensus.stats.generationsEnded).toBe(1);
  }, 60_000);
});
