import { describe, expect, test } from "bun:test";
import { codeOf, RegSim } from "../../support/registry-sim.ts";

async function started(seed: number): Promise<RegSim> {
  const sim = new RegSim(seed);
  for (const n of ["n0", "n1", "n2"]) sim.add(n);
  await sim.run(50);
  return sim;
}

describe("cluster registry: groups", () => {
  test("join and leave replicate: every node lists the same members, sorted", async () => {
    const sim = await started(31);
    await sim.settle(sim.reg("n0").join("rooms", "c:b"));
    await sim.settle(sim.reg("n1").join("rooms", "c:a"));
    await sim.settle(sim.reg("n2").join("rooms", "c:c"));
    await sim.settle(sim.reg("n2").join("other", "c:a"));
    await sim.run(10);
    for (const n of ["n0", "n1", "n2"]) {
      expect(sim.reg(n).members("rooms")).toEqual(["c:a", "c:b", "c:c"]);
      expect(sim.reg(n).members("other")).toEqual(["c:a"]);
      expect(sim.reg(n).members("none")).toEqual([]);
    }
    // A leave on another node than the join wins over it.
    await sim.settle(sim.reg("n2").leave("rooms", "c:b"));
    await sim.run(10);
    for (const n of ["n0", "n1", "n2"]) expect(sim.reg(n).members("rooms")).toEqual(["c:a", "c:c"]);
    // The membership lives in the replicated map, as `group/<g>/<name>`.
    const map = sim.bus.mapOf("n1");
    expect(map.get("group/rooms/c:a")).toBe(true);
    expect(map.entry("group/rooms/c:b")?.d).toBe(true);
  });

  test("a group name with a slash is refused", async () => {
    const sim = await started(32);
    const r = await sim.settle(sim.reg("n0").join("a/b", "c:x"));
    expect(r.ok === false && codeOf(r.error)).toBe("bad_request");
  });

  test("publish casts to every member once", async () => {
    const sim = await started(33);
    const members = ["c:p1", "c:p2", "c:p3", "c:p4"];
    for (const m of members) await sim.settle(sim.reg("n1").join("g", m));
    await sim.run(10);
    sim.reg("n2").publish("g", { op: "inc" });
    await sim.run(50);
    const r = await sim.settle(Promise.all(members.map((m) => sim.reg("n0").call<number>(m, { op: "get" }))));
    expect(r).toEqual({ ok: true, value: [1, 1, 1, 1] });
  });

  test("multiCall gathers every member's reply within the timeout; a dead member's reply is left out", async () => {
    const sim = await started(34);
    const members = Array.from({ length: 12 }, (_, i) => `c:m${i}`);
    for (const m of members) await sim.settle(sim.reg("n0").join("all", m));
    await sim.run(10);
    const all = await sim.settle(sim.reg("n1").multiCall<number>("all", { op: "inc" }));
    expect(all).toEqual({ ok: true, value: members.map(() => 1) });
    // n2 dies; the views have not noticed yet, so its members cannot answer in time.
    const onDead = members.filter((m) => sim.reg("n0").ownerOf(m) === "n2");
    expect(onDead.length).toBeGreaterThan(0);
    sim.crash("n2");
    const t0 = sim.clock.now();
    const some = await sim.settle(sim.reg("n0").multiCall<number>("all", { op: "get" }, { timeoutMs: 300 }), 2000);
    expect(some).toEqual({ ok: true, value: members.filter((m) => !onDead.includes(m)).map(() => 1) });
    expect(sim.clock.now() - t0).toBeLessThanOrEqual(310);
  });
});
