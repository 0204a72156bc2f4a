/**
 * Serving rights over real replicators on the simulated network: a new
 * epoch's catch-up counts a holder only for a pull round answered by the
 * incarnation the configuration holds. The replicator pulls by name and
 * address, so a holder that restarted after it answered the fence (same
 * address, new id, a replica that has not caught up yet) answers the pull in
 * its new life. Counting that answer, n1 would serve a room a majority holds
 * as unknown_room, whether n1 had not seen the restart yet when its pull
 * ended, or had seen the holder drop out of view (suspected, dead: no id to
 * compare).
 *
 * The room's key is written behind the replicators' backs on a majority of
 * the holders that excludes n1 (a write acknowledged before the fence), and
 * the restarted holder is cut off from the others that hold it, so only a
 * pull from the old incarnation, or from another holder of it, brings it.
 */
import { describe, expect, test } from "bun:test";
import { DEFAULT_REPLICATION_CONFIG } from "../../../mesh/replication/config.ts";
import type { HolderConfig } from "../../../mesh/registry/holders.ts";
import { addr, TestCluster } from "../replication/harness.ts";
import { servingRig } from "./serving-rig.ts";

const KEY = "room/r1";
const EPOCH = 10;

async function world(names: string[], holdKey: string[]) {
  const c = new TestCluster({ concern: 1, config: { antiEntropyMs: 600_000 } });
  for (const n of names) c.member(n);
  for (const n of names) c.start(n);
  // The startup rounds are over: only a pull moves data from here on.
  await c.run(DEFAULT_REPLICATION_CONFIG.roundTimeoutMs + 300);
  const ts = { w: c.clock.now(), c: 0, n: "n9#0" };
  for (const n of holdKey) c.node(n).map.absorb({ e: [{ k: KEY, ts, v: { room: "r1" } }] });
  const cfg: HolderConfig = { generation: 1, epoch: EPOCH, previous: EPOCH - 1, holders: names.map((name) => ({ name, id: c.membership.idOf(name) })) };
  const view = c.membership.view("n1");
  const { sent, rights } = servingRig({
    self: "n1",
    selfId: c.membership.idOf("n1"),
    clock: c.clock,
    // Live in n1's view, with the id it knows there (undefined: not live).
    idOf: (n) => view.live().find((m) => m.name === n)?.id,
    replicator: c.node("n1").rep,
    catchUpTimeoutMs: 12_000,
  });
  /** Holders that answer n1's fence questions (by name: a restarted one answers as well, from the same address). */
  const answering = new Set<string>();
  let seen = 0;
  const violations: number[] = [];
  /** Run `ms` of virtual time; holders answer every question, and n1 must never serve without the key. */
  const run = async (ms: number, stopWhen?: () => boolean): Promise<void> => {
    const end = c.clock.now() + ms;
    while (c.clock.now() < end) {
      for (; seen < sent.length; seen++) {
        const s = sent[seen]!;
        if (s.msg.t === "fq" && answering.has(s.to)) rights.onFenceReply(s.to, { t: "fr", q: s.msg.q, g: 1, e: s.msg.e, w: 0 });
      }
      // Checked before time runs on: a pull that just started has sent its first digest only.
      if (stopWhen?.() === true) return;
      await c.run(5, 5);
      // The first time only (virtual ms since the configuration): it tells when.
      if (violations.length === 0 && rights.state.kind === "serving" && c.node("n1").map.get(KEY) === undefined) violations.push(c.clock.now() - t0);
    }
  };
  /** kill -9 of `name`, and a new process at its address with an empty replica; n1's view still holds the old one. */
  const restart = (name: string): void => {
    c.node(name).rep.stop();
    c.membership.restart(name);
    c.start(name);
  };
  /** `a` and `b` cannot reach each other. */
  const cut = (a: string, b: string): void => {
    c.net.block(addr(a), addr(b));
    c.net.block(addr(b), addr(a));
  };
  const t0 = c.clock.now();
  rights.onConfig(cfg);
  return { c, rights, answering, run, restart, cut, violations };
}

describe("a new epoch's catch-up counts only pulls answered by the holder's configured incarnation", () => {
  test("a holder that restarted mid-pull, unseen by the puller, answers from its new life: that answer does not count", async () => {
    const w = await world(["n1", "n2", "n3"], ["n2", "n3"]);
    w.answering.add("n2");
    await w.run(2000, () => w.rights.state.kind === "pulling");
    expect(w.rights.state.kind).toBe("pulling");
    // n2 restarts while n1 pulls from it; it cannot reach n3 (the other copy of the key) yet.
    w.cut("n2", "n3");
    w.restart("n2");
    await w.run(10_000);
    expect(w.violations).toEqual([]);
    expect(w.rights.state.kind).not.toBe("serving");
    // n1 learns n2's new identity; n3 answers: n1 catches up from n3 and serves, with the key.
    w.c.membership.announce("n2");
    w.answering.add("n3");
    await w.run(20_000, () => w.rights.state.kind === "serving");
    expect(w.rights.state.kind).toBe("serving");
    expect(w.violations).toEqual([]);
    expect(w.c.node("n1").map.get(KEY)).toEqual({ room: "r1" });
    w.c.stopAll();
  }, 60_000);

  test("a holder that restarted mid-pull, answered from its new life, and dropped out of view before the pull ended does not count", async () => {
    const w = await world(["n1", "n2", "n3", "n4", "n5"], ["n2", "n4", "n5"]);
    w.answering.add("n2");
    w.answering.add("n3");
    await w.run(2000, () => w.rights.state.kind === "pulling");
    expect(w.rights.state.kind).toBe("pulling");
    // n2 restarts, cut off from n4 and n5 (the other copies of the key); n3's answers to n1 are lost for now.
    w.cut("n2", "n4");
    w.cut("n2", "n5");
    w.c.net.block(addr("n3"), addr("n1"));
    w.restart("n2");
    await w.run(4000);
    // n1 declares n2 dead before its pull ends; n3 is heard again.
    w.c.membership.set("n1", "n2", "dead");
    w.answering.delete("n2");
    w.c.net.unblock(addr("n3"), addr("n1"));
    await w.run(10_000);
    expect(w.violations).toEqual([]);
    expect(w.rights.state.kind).not.toBe("serving");
    // n4 answers the next fence: n1 catches up from n3 and n4 and serves, with the key.
    w.answering.add("n4");
    await w.run(30_000, () => w.rights.state.kind === "serving");
    expect(w.rights.state.kind).toBe("serving");
    expect(w.violations).toEqual([]);
    expect(w.c.node("n1").map.get(KEY)).toEqual({ room: "r1" });
    w.c.stopAll();
  }, 60_000);
});
