/**
 * A call queued on a draining node is sent on to the name's next owner
 * (lifecycle.ts handOff); the node then leaves. The caller may hear of the
 * leave before that call is answered (the news can travel faster than the
 * call): it used to answer `unavailable` at once, while the call still ran on
 * the next owner, so a retry could run first and the old call land after it.
 * Now the draining node tells the caller where the call went (a `mv` note:
 * calls.ts moved), and a node that left fails its calls only after
 * LEFT_GRACE_MS, those still its own then.
 */
import { expect, test } from "bun:test";
import type { CallMsg } from "../../../mesh/registry/messages.ts";
import { createCallTable, LEFT_GRACE_MS } from "../../../mesh/registry/calls.ts";
import { RegSim } from "../../support/registry-sim.ts";

const NAMES = Array.from({ length: 40 }, (_, i) => `c:room-${i}`);

async function started(seed: number): Promise<RegSim> {
  const sim = new RegSim(seed);
  for (let i = 0; i < 3; i++) sim.add(`n${i}`);
  await sim.run(1800);
  return sim;
}

for (const seed of [1, 2, 3]) {
  test(`seed ${seed}: a call a draining node sent on is answered by the next owner, though the caller heard of the leave first`, async () => {
    const sim = await started(seed);
    const name = NAMES.find((n) => sim.reg("n0").ownerOf(n) === "n1")!;
    expect((await sim.settle(sim.reg("n0").call(name, { op: "inc" }))).ok).toBe(true);
    // n1 is busy with a slow call when the second arrives: that one waits in n1's mailbox.
    const slow = sim.settle(sim.reg("n2").call(name, { op: "slow", ms: 300 }), 20_000);
    await sim.until(() => sim.handled.some((h) => h.name === name && h.node === "n1" && h.op === "slow"), 2_000);
    // Itself slow (2 s, past LEFT_GRACE_MS) wherever it runs: only the `mv` note keeps its caller waiting for it.
    const queued = sim.settle(sim.reg("n0").call(name, { op: "slow", ms: 2_000 }, { timeoutMs: 10_000 }), 20_000);
    await sim.run(20);
    // The moment n1 sends it on (its drain handed the name over), n0 hears that n1 left.
    let forwarded = false;
    sim.sent = (from, _to, msg) => {
      if (forwarded || from !== "n1" || msg.t !== "c" || (msg as CallMsg).a[1] !== name) return;
      forwarded = true;
      sim.world.set("n0", "n1", "left");
    };
    const drained = sim.settle(sim.reg("n1").drain(), 15_000);
    const r = await queued;
    expect(forwarded).toBe(true);
    // The next owner ran it (a counter here starts afresh before the handoff lands: the value is not the point).
    expect(r.ok).toBe(true);
    expect(sim.handled.filter((h) => h.name === name && h.op === "slow" && h.node !== "n1")).toHaveLength(1);
    expect((await slow).ok).toBe(true);
    expect((await drained).ok).toBe(true);
  }, 60_000);
}

test("a call still sent to a node that left fails after the grace, not its timeout", async () => {
  const sim = await started(4);
  const name = NAMES.find((n) => sim.reg("n0").ownerOf(n) === "n1")!;
  const t0 = sim.clock.now();
  const p = sim.settle(sim.reg("n0").call(name, { op: "slow", ms: 5_000 }, { timeoutMs: 10_000 }), 20_000);
  await sim.until(() => sim.handled.some((h) => h.name === name), 2_000);
  sim.crash("n1");
  sim.world.set("n0", "n1", "left");
  const r = await p;
  expect(r.ok === false && (r.error as Error).message).toContain("left");
  expect(sim.clock.now() - t0).toBeGreaterThanOrEqual(LEFT_GRACE_MS);
  expect(sim.clock.now() - t0).toBeLessThan(LEFT_GRACE_MS + 500);
}, 60_000);

test("notes of where a call went may arrive in any order: the one of the latest hop wins", () => {
  let now = 0;
  const calls = createCallTable({ now: () => now, setTimer: () => ({ cancel() {} }) } as unknown as Parameters<typeof createCallTable>[0], 60_000);
  const id = calls.newId();
  void calls.open(id, "c:x", 10_000, now).catch(() => {});
  calls.sentTo(id, "n2");
  calls.moved(id, "n4", 2); // n3 sent it on to n4: its note came first
  calls.moved(id, "n3", 1); // n2 sent it on to n3: late, and older
  expect(calls.sentToOf(id)).toBe("n4");
});
