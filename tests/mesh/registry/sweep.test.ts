/**
 * The sweep on a configuration change runs SWEEP_BUDGET_MS of a turn at a
 * time: every moved process is handed off in the end, a newer sweep replaces
 * one under way, and while one is under way this node never counts as swept
 * (leavingCount() > 0) even before any record is leaving. A previous
 * owner's "swept" starts what waited for it the same way.
 */
import { describe, expect, test } from "bun:test";
import { Lifecycle, SWEEP_BUDGET_MS, SWEEP_CHECK_EVERY, type TableHost } from "../../../mesh/registry/lifecycle.ts";
import { type ProcessRecord, running, starting } from "../../../mesh/registry/process-record.ts";
import type { ProcessTableDeps } from "../../../mesh/registry/processes.ts";
import type { Clock } from "../../../mesh/types.ts";

/**
 * A lifecycle over `n` running processes (or `n` starting ones waiting for
 * previous owner `waitingFor`); every owner lookup costs 0.1 ms of a clock
 * the test controls.
 */
function rig(n: number, waitingFor?: string) {
  let t = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const clock: Clock = {
    now: () => t,
    setTimer(ms, fn) {
      const x = { at: t + ms, fn, live: true };
      timers.push(x);
      return { cancel: () => void (x.live = false) };
    },
  };
  const owner = new Map<string, string>();
  const sent: { name: string; target: string }[] = [];
  let hid = 0;
  const entries = new Map<string, ProcessRecord>();
  const names = Array.from({ length: n }, (_, i) => `c:room-${i}`);
  for (const name of names) {
    owner.set(name, "a");
    entries.set(name, waitingFor === undefined ? running(name, { handle: () => null, beginHandoff: () => ({ name }) }) : starting(name, waitingFor, 1e9));
  }
  const deps = {
    self: "a",
    clock,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    owners: {
      ownerOf(name: string) {
        t += 0.1;
        return owner.get(name);
      },
      isLive: () => true,
    },
    mayServe: () => true,
    factoryFor: () => () => ({ handle: () => null }),
    handoffs: () => ({
      send(name: string, _state: unknown, target: string) {
        sent.push({ name, target });
        return `h${hid++}`;
      },
    }),
    config: { retryMs: 10, activationTimeoutMs: 1000 },
  } as unknown as ProcessTableDeps; // only what a sweep of running records uses
  const host = { entries } as unknown as TableHost;
  const life = new Lifecycle(deps, host);
  /** Runs the pending timers (turns) one by one; how many ran. */
  const turns = async (): Promise<number> => {
    let k = 0;
    for (;;) {
      await Promise.resolve(); // the handoffs' idle().then of the turn before
      const x = timers.shift();
      if (x === undefined) return k;
      if (!x.live) continue;
      t = Math.max(t, x.at);
      x.fn();
      k++;
    }
  };
  return { life, entries, names, owner, sent, turns, now: () => t, timers };
}

describe("registry: the sweep yields", () => {
  test("30,000 processes: each turn stays within the budget, and every moved one is handed off", async () => {
    const r = rig(30_000);
    const moved = r.names.filter((_, i) => i % 4 === 0);
    for (const name of moved) r.owner.set(name, "d");
    const t0 = r.now();
    r.life.sweep();
    // One turn's worth: the budget (plus one check's worth of records), far from all 30,000.
    expect(r.now() - t0).toBeLessThanOrEqual(SWEEP_BUDGET_MS + SWEEP_CHECK_EVERY * 0.1 + 0.1);
    expect(r.life.leavingCount()).toBeGreaterThan(0);
    const turns = await r.turns();
    expect(turns).toBeGreaterThan(100);
    await Promise.resolve();
    expect(r.sent.map((s) => s.name).sort()).toEqual([...moved].sort());
    expect(r.sent.every((s) => s.target === "d")).toBe(true);
    expect([...r.entries.values()].filter((e) => e.phase === "leaving").length).toBe(moved.length);
    expect([...r.entries.values()].filter((e) => e.phase === "running").length).toBe(30_000 - moved.length);
  });

  test("while a sweep is under way this node is not swept, even before anything it moves is leaving", async () => {
    const r = rig(5_000);
    // Only the last process moves: the first turns find nothing to hand off.
    r.owner.set(r.names.at(-1)!, "d");
    r.life.sweep();
    expect([...r.entries.values()].some((e) => e.phase === "leaving")).toBe(false);
    expect(r.life.leavingCount()).toBe(1);
    await r.turns();
    await Promise.resolve();
    expect(r.sent).toEqual([{ name: r.names.at(-1)!, target: "d" }]);
    // Now exactly the one record handing off holds it back.
    expect(r.life.leavingCount()).toBe(1);
    expect(r.entries.get(r.names.at(-1)!)?.phase).toBe("leaving");
  });

  test("a newer sweep replaces one under way and goes by the newer configuration", async () => {
    const r = rig(10_000);
    for (const name of r.names.slice(0, 5_000)) r.owner.set(name, "d");
    r.life.sweep();
    const early = r.sent.length;
    await Promise.resolve();
    // The configuration moves on before the first sweep is through: the second half moves instead.
    for (const name of r.names.slice(0, 5_000)) r.owner.set(name, "a");
    for (const name of r.names.slice(5_000)) r.owner.set(name, "e");
    r.life.sweep();
    await r.turns();
    await Promise.resolve();
    // What the first sweep handed off before it was replaced stays handed off (its handoff is under way); nothing else of the first half.
    const first = r.sent.filter((s) => s.target === "d");
    expect(first.length).toBeLessThan(5_000);
    expect(first.length).toBeGreaterThanOrEqual(early);
    expect(r.sent.filter((s) => s.target === "e").map((s) => s.name).sort()).toEqual(r.names.slice(5_000).sort());
    expect(r.life.leavingCount()).toBe(first.length + 5_000);
  });

  test("a previous owner's swept answer starts the thousands that waited for it a budget per turn, every one in the end", async () => {
    const r = rig(20_000, "b");
    const t0 = r.now();
    r.life.swept("b");
    expect(r.now() - t0).toBeLessThanOrEqual(SWEEP_BUDGET_MS + 4 * 0.1 + 0.1);
    const first = [...r.entries.values()].filter((e) => e.phase === "running").length;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(1_000);
    // Another swept answer meanwhile (a retry's) adds nothing twice and starts no second chain.
    r.life.swept("b");
    expect(r.timers.filter((x) => x.live).length).toBe(1);
    expect(await r.turns()).toBeGreaterThan(100);
    expect([...r.entries.values()].every((e) => e.phase === "running")).toBe(true);
  });
});
