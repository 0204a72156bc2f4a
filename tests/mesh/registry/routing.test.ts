import { describe, expect, test } from "bun:test";
import { ownerOf } from "../../../core/placement.ts";
import { codeOf, RegSim } from "../../support/registry-sim.ts";
import { LEFT_GRACE_MS } from "../../../mesh/registry/calls.ts";

async function cluster(n: number, seed: number | string, config = {}): Promise<RegSim> {
  const sim = new RegSim(seed, config);
  for (let i = 0; i < n; i++) sim.add(`n${i}`);
  // One lease round: every node hears from the others.
  await sim.run(50);
  return sim;
}

describe("cluster registry: placement and routing", () => {
  test("every node computes the same owner for a name, and names spread over the nodes", async () => {
    const sim = await cluster(4, 1);
    const regs = [...sim.nodes.values()].map((n) => n.registry);
    const perOwner = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const name = `c:room-${i}`;
      const owners = new Set(regs.map((r) => r.ownerOf(name)));
      expect(owners.size).toBe(1);
      const o = [...owners][0]!;
      perOwner.set(o, (perOwner.get(o) ?? 0) + 1);
    }
    expect(perOwner.size).toBe(4);
    for (const c of perOwner.values()) expect(c).toBeGreaterThan(40);
  });

  test("a call from any node runs on the one owner and the caller gets its reply", async () => {
    const sim = await cluster(3, 2);
    const name = "c:kitchen";
    const owner = sim.reg("n0").ownerOf(name);
    const replies: number[] = [];
    for (const from of ["n0", "n1", "n2", "n1", "n0"]) {
      const r = await sim.settle(sim.reg(from).call<number>(name, { op: "inc" }));
      expect(r.ok).toBe(true);
      if (r.ok === true) replies.push(r.value);
    }
    expect(replies).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(sim.handled.filter((h) => h.name === name).map((h) => h.node))).toEqual(new Set([owner]));
    expect(sim.reg(owner).localNames()).toEqual([name]);
    for (const n of ["n0", "n1", "n2"]) if (n !== owner) expect(sim.reg(n).localNames()).toEqual([]);
    const remote = [...sim.nodes.values()].reduce((s, n) => s + n.registry.stats().callsRemote, 0);
    expect(remote).toBeGreaterThanOrEqual(3);
  });

  test("errors cross the wire with their code and message; a plain Error becomes internal", async () => {
    const sim = await cluster(2, 3);
    const name = "c:err";
    const other = sim.reg("n0").ownerOf(name) === "n0" ? "n1" : "n0";
    const r1 = await sim.settle(sim.reg(other).call(name, { op: "fail" }));
    expect(r1.ok).toBe(false);
    if (r1.ok === false) {
      expect(codeOf(r1.error)).toBe("room_full");
      expect((r1.error as Error).message).toBe("c:err is full");
    }
    const r2 = await sim.settle(sim.reg(other).call(name, { op: "boom" }));
    expect(r2.ok === false && codeOf(r2.error)).toBe("internal");
    const r3 = await sim.settle(sim.reg(other).call("nokind:x", {}));
    expect(r3.ok === false && codeOf(r3.error)).toBe("not_found");
  });

  test("a call to an owner that never answers times out with unavailable", async () => {
    const sim = await cluster(2, 4);
    const name = "c:lost";
    const owner = sim.reg("n0").ownerOf(name);
    const caller = owner === "n0" ? "n1" : "n0";
    sim.crash(owner); // the views still hold it alive: calls go to it and vanish
    const r = await sim.settle(sim.reg(caller).call(name, { op: "inc" }, { timeoutMs: 300 }), 2000);
    expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
  });

  test("a call sent to an owner then declared dead keeps its deadline (the owner may only be stalled and still run it); one sent to a node that left fails within LEFT_GRACE_MS (1 s)", async () => {
    const sim = await cluster(2, 5);
    const name = "c:gone";
    const owner = sim.reg("n0").ownerOf(name);
    const caller = owner === "n0" ? "n1" : "n0";
    const started = sim.clock.now();
    // The owner takes the call and stops answering (a stall looks like a death).
    const p = sim.reg(caller).call(name, { op: "slow", ms: 5_000 }, { timeoutMs: 3_000 });
    const outcome = sim.settle(p, 20_000);
    await sim.until(() => sim.handled.some((h) => h.name === name), 2_000);
    sim.crash(owner);
    sim.world.set(caller, owner, "dead");
    await sim.run(1_000);
    // Not answered early: an early `unavailable` would let a retry run before the old call.
    expect(sim.track(p).result).toEqual({ ok: "pending" });
    const r = await outcome;
    expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
    expect(sim.clock.now() - started).toBeGreaterThanOrEqual(3_000);
    expect(sim.clock.now() - started).toBeLessThan(3_500);

    // A node that left (drained, gone for good) runs nothing more: its calls fail within LEFT_GRACE_MS.
    const sim2 = await cluster(2, 6);
    const owner2 = sim2.reg("n0").ownerOf(name);
    const caller2 = owner2 === "n0" ? "n1" : "n0";
    const p2 = sim2.settle(sim2.reg(caller2).call(name, { op: "slow", ms: 5_000 }, { timeoutMs: 10_000 }), 20_000);
    await sim2.until(() => sim2.handled.some((h) => h.name === name), 2_000);
    sim2.crash(owner2);
    sim2.world.set(caller2, owner2, "left");
    const t0 = sim2.clock.now();
    const r2 = await p2;
    expect(r2.ok === false && (r2.error as Error).message).toContain("left");
    expect(sim2.clock.now() - t0).toBeLessThan(LEFT_GRACE_MS + 500);
  });

  test("a node owns and serves nothing until it is a holder of the committed configuration that fenced and pulled for it", async () => {
    const sim = new RegSim(11);
    sim.add("n0");
    await sim.run(50);
    const names = Array.from({ length: 50 }, (_, i) => `c:x${i}`);
    // n1 is up but not yet in the configuration: everything is n0's, n1 is not ready.
    sim.bus.stuck.add("n1"); // its catch-up for the epoch that adds it does not complete yet
    sim.add("n1");
    expect(sim.reg("n1").ready()).toBe(false);
    expect(await sim.untilEpoch(2)).toBe(true);
    const name = names.find((n) => sim.reg("n0").ownerOf(n) === "n1")!;
    expect(name).toBeDefined();
    // n1 owns it under epoch 2 but has not pulled: the call waits there, and nothing runs.
    const early = sim.track(sim.reg("n0").call(name, { op: "inc" }, { timeoutMs: 4000 }));
    await sim.run(500);
    expect(early.result.ok).toBe("pending");
    expect(sim.reg("n1").ready()).toBe(false);
    expect(sim.reg("n1").stats().serving).toBe("pulling");
    expect(sim.handled.filter((h) => h.name === name)).toHaveLength(0);
    sim.bus.stuck.delete("n1");
    expect(await sim.until(() => early.result.ok !== "pending", 3000)).toBe(true);
    expect(early.result).toEqual({ ok: true, value: 1 });
    expect(sim.reg("n1").ready()).toBe(true);
    const pull = sim.bus.pulls.find((p) => p.node === "n1" && p.epoch === 2 && p.doneAt !== undefined)!;
    expect(pull.from).toEqual(["n0"]);
    expect(sim.handled.find((h) => h.name === name)!.at).toBeGreaterThanOrEqual(pull.doneAt!);
  });

  test("a node at an older epoch sends a call to its owner there, which forwards it to the newer owner; past the hop limit it answers unavailable", async () => {
    // Three epochs, one per lagging node: n0 knows {n0,n1}, n1 knows {n0,n1,n2},
    // n2 and n3 know all four. A name owned by n1, then n2, then n3 goes
    // n0 -> n1 -> n2 -> n3 (two forwards).
    let name = "";
    for (let i = 0; i < 5000 && name === ""; i++) {
      const k = `c:chain-${i}`;
      if (
        ownerOf(k, ["n0", "n1"]) === "n1" &&
        ownerOf(k, ["n0", "n1", "n2"]) === "n2" &&
        ownerOf(k, ["n0", "n1", "n2", "n3"]) === "n3"
      ) name = k;
    }
    expect(name).not.toBe("");
    for (const maxHops of [2, 1]) {
      const sim = new RegSim(`hops-${maxHops}`, { maxHops });
      for (const n of ["n0", "n1", "n2", "n3"]) sim.add(n);
      sim.commit(["n0", "n1"]);
      expect(await sim.untilEpoch(1)).toBe(true);
      sim.configs.hold("n0"); // a follower whose log lags
      sim.commit(["n0", "n1", "n2"]);
      expect(await sim.untilEpoch(2, ["n1", "n2", "n3"])).toBe(true);
      sim.configs.hold("n1");
      sim.commit(["n0", "n1", "n2", "n3"]);
      expect(await sim.untilEpoch(3, ["n2", "n3"])).toBe(true);
      expect([0, 1, 2, 3].map((i) => sim.configs.knownBy(`n${i}`)?.epoch)).toEqual([1, 2, 3, 3]);
      const r = await sim.settle(sim.reg("n0").call<number>(name, { op: "inc" }));
      if (maxHops === 2) {
        expect(r).toEqual({ ok: true, value: 1 });
        expect(sim.reg("n1").stats().forwards + sim.reg("n2").stats().forwards).toBe(2);
        expect(sim.handled.map((h) => h.node)).toEqual(["n3"]);
      } else {
        expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
        expect(sim.handled).toEqual([]);
      }
    }
  });

  test("a cluster of one serves without hearing from anyone", async () => {
    const sim = new RegSim(5, { leaseMs: 100 });
    sim.add("solo");
    await sim.run(1000);
    expect(sim.reg("solo").authoritative()).toBe(true);
    const r = await sim.settle(sim.reg("solo").call("c:a", { op: "inc" }));
    expect(r).toEqual({ ok: true, value: 1 });
  });

  test("a cast reaches the owner once, even when the network duplicates messages", async () => {
    const sim = new RegSim(6, {}, { duplicate: 0.5 });
    for (const n of ["n0", "n1", "n2"]) sim.add(n);
    await sim.run(50);
    const name = "c:cast";
    const from = ["n0", "n1", "n2"].find((n) => sim.reg(n).ownerOf(name) !== n)!;
    for (let i = 0; i < 20; i++) sim.reg(from).cast(name, { op: "inc" });
    for (let i = 0; i < 20; i++) await sim.settle(sim.reg(from).call(name, { op: "inc" }));
    const r = await sim.settle(sim.reg(from).call<number>(name, { op: "get" }));
    expect(r).toEqual({ ok: true, value: 40 });
    expect(sim.net.stats.duplicated).toBeGreaterThan(0);
  });
});
