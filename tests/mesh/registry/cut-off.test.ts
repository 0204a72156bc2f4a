/**
 * A node that sees fewer than half of the holders alive is cut off: neither
 * its lease nor a move of a dead owner's names can come while it is, so it
 * refuses calls at once (`unavailable`, no_effect) instead of holding each a
 * lease's length (mesh/registry/owners.ts cutOff). Seen on real processes
 * (tests/cluster/hostile-lossy.test.ts): every call through a node whose
 * links dropped 70% of packets waited 1.5 s for its `unavailable`.
 * A node that still sees a majority alive holds calls as before: its lease or
 * the configuration may come back within the lease.
 */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { cutOff } from "../../../mesh/registry/owners.ts";
import { codeOf, RegSim } from "../../support/registry-sim.ts";

const LEASE = 1_500;
const NAMES = Array.from({ length: 30 }, (_, i) => `c:cut-${i}`);
const noEffect = (e: unknown): boolean => e instanceof RoomyError && e.noEffect;

async function threeNodes(seed: number): Promise<RegSim> {
  const sim = new RegSim(seed, { leaseMs: LEASE });
  for (const n of ["n0", "n1", "n2"]) sim.add(n);
  await sim.run(50);
  const warm = await sim.settle(Promise.all(NAMES.map((n) => sim.reg("n1").call(n, { op: "inc" }))), 5_000);
  expect(warm.ok).toBe(true);
  return sim;
}

describe("a cut-off node refuses calls at once", () => {
  test("cutOff: fewer than half of the holders alive (self counts as alive); exactly half is not cut off; no configuration is not cut off", () => {
    const view = (holders: string[], live: string[]) => ({ holders: () => holders, isLive: (n: string) => live.includes(n) });
    expect(cutOff(view(["a", "b", "c"], []), "a")).toBe(true);
    expect(cutOff(view(["a", "b", "c"], ["b"]), "a")).toBe(false);
    expect(cutOff(view(["a", "b"], []), "a")).toBe(false);
    expect(cutOff(view(["a", "b", "c", "d"], []), "a")).toBe(true);
    expect(cutOff(view(["a", "b", "c", "d"], ["b"]), "a")).toBe(false);
    expect(cutOff(view(["a", "b", "c", "d", "e"], ["b"]), "a")).toBe(true);
    expect(cutOff(view([], []), "a")).toBe(false);
  });

  test("cut off with both peers dead in its view, a node refuses a call for its own name and for a dead owner's name within a few ms, unavailable and no_effect", async () => {
    const sim = await threeNodes(31);
    sim.net.partition([[sim.node("n0").address], [sim.node("n1").address, sim.node("n2").address]]);
    sim.world.set("n0", "n1", "dead");
    sim.world.set("n0", "n2", "dead");
    // Past the lease: n0's lease has run out.
    await sim.run(LEASE + 200);
    const own = NAMES.find((n) => sim.reg("n0").ownerOf(n) === "n0")!;
    const theirs = NAMES.find((n) => sim.reg("n0").ownerOf(n) !== "n0")!;
    for (const name of [own, theirs]) {
      const t0 = sim.clock.now();
      const r = await sim.settle(sim.reg("n0").call(name, { op: "inc" }, { timeoutMs: 5_000 }), 10_000);
      const took = sim.clock.now() - t0;
      expect({ name, code: r.ok === false ? codeOf(r.error) : "ok", noEffect: r.ok === false && noEffect(r.error), quick: took < 50 })
        .toEqual({ name, code: "unavailable", noEffect: true, quick: true });
    }
  });

  test("a node that still sees a majority alive holds a call for a dead owner's name up to the lease, as before", async () => {
    const sim = await threeNodes(32);
    const dead = "n2";
    const name = NAMES.find((n) => sim.reg("n0").ownerOf(n) === dead)!;
    sim.crash(dead);
    sim.world.set("n0", dead, "dead");
    const t0 = sim.clock.now();
    const r = await sim.settle(sim.reg("n0").call(name, { op: "inc" }, { timeoutMs: 5_000 }), 10_000);
    const took = sim.clock.now() - t0;
    // Held (not refused at once): answered once the configuration moved the name, or unavailable after the lease.
    expect(took).toBeGreaterThanOrEqual(100);
    if (r.ok === false) expect(codeOf(r.error)).toBe("unavailable");
  });
});
