/**
 * RoomyError.noEffect: a call refused before it could run anywhere says so
 * (local or across the wire), so a client may retry it without applying it
 * twice; any error from a handler that ran never says so, even one the
 * handler passed on from a refused call of its own.
 */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { errorFromWire, errorToWire, parseMessage, type ReplyMsg } from "../../../mesh/registry/messages.ts";
import { decode, encode } from "../../../mesh/wire/codec.ts";
import { codeOf, RegSim } from "../../support/registry-sim.ts";

async function cluster(n: number, seed: number): Promise<RegSim> {
  const sim = new RegSim(seed, {});
  for (let i = 0; i < n; i++) sim.add(`n${i}`);
  await sim.run(50);
  return sim;
}

const noEffect = (e: unknown): boolean => e instanceof RoomyError && e.noEffect;

describe("errors say whether the call could have taken effect", () => {
  test("a call held for an owner that is down, then refused, is marked as never run", async () => {
    const sim = await cluster(2, 21);
    const name = "c:down";
    const owner = sim.reg("n0").ownerOf(name);
    const caller = owner === "n0" ? "n1" : "n0";
    sim.crash(owner);
    sim.world.set(caller, owner, "dead");
    const r = await sim.settle(sim.reg(caller).call(name, { op: "inc" }, { timeoutMs: 10_000 }), 20_000);
    expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
    expect(r.ok === false && (r.error as Error).message).toContain("is down");
    expect(r.ok === false && noEffect(r.error)).toBe(true);
    expect(sim.handled.filter((h) => h.name === name)).toEqual([]);
  });

  test("a call queued at the owner whose sending node is then known down is refused unrun: its client may have retried elsewhere", async () => {
    for (const crash of [true, false]) {
      const sim = await cluster(3, 31);
      // Holders pinned: the entry's death must not move the name (a moved call is routed anew).
      sim.commit(["n0", "n1", "n2"]);
      await sim.run(200);
      const name = "c:queued";
      const owner = sim.reg("n0").ownerOf(name);
      const [entry, other] = ["n0", "n1", "n2"].filter((n) => n !== owner) as [string, string];
      // The owner's mailbox is busy for 2 s; the entry's call waits behind it.
      const busy = sim.settle(sim.reg(other).call(name, { op: "slow", ms: 2_000 }, { timeoutMs: 10_000 }), 20_000);
      await sim.run(50);
      const inc = sim.settle(sim.reg(entry).call(name, { op: "inc" }, { timeoutMs: 10_000 }), 20_000);
      await sim.run(300);
      // The owner holds the call now; then it learns the entry is down (a crash it detected).
      if (crash) sim.world.set(owner, entry, "dead");
      expect((await busy).ok).toBe(true);
      await sim.run(500);
      const ran = sim.handled.filter((h) => h.name === name && h.op === "inc");
      const answer = await inc;
      if (crash) expect(answer.ok === false && noEffect(answer.error)).toBe(true);
      expect(ran.length).toBe(crash ? 0 : 1);
    }
  });

  test("the mark crosses the wire: a reply's error keeps it through the codec, and an unmarked one stays unmarked", () => {
    for (const marked of [true, false]) {
      const reply: ReplyMsg = { t: "r", id: 7, e: errorToWire(new RoomyError("unavailable", "node n1 is unreachable; retry", marked)) };
      const back = parseMessage(decode(encode(reply)) as ReplyMsg);
      expect(back?.t).toBe("r");
      const err = errorFromWire((back as ReplyMsg).e!);
      expect(err.code).toBe("unavailable");
      expect(err.message).toBe("node n1 is unreachable; retry");
      expect(err.noEffect).toBe(marked);
    }
    // a node that predates the mark sends {code, message}: read as "may have taken effect"
    expect(errorFromWire({ code: "unavailable", message: "x" }).noEffect).toBe(false);
  });

  test("a handler's own error, a plain error, and a refusal the handler passes on are never marked", async () => {
    const sim = await cluster(2, 23);
    const name = "c:ran";
    const owner = sim.reg("n0").ownerOf(name);
    const remote = owner === "n0" ? "n1" : "n0";
    for (const from of [owner, remote]) {
      for (const op of ["fail", "boom", "pass-refusal"]) {
        const r = await sim.settle(sim.reg(from).call(name, { op }));
        expect(r.ok).toBe(false);
        expect(r.ok === false && noEffect(r.error)).toBe(false);
      }
    }
    expect(sim.handled.filter((h) => h.name === name).length).toBe(6);
  });

  test("a handler's own refusal after its name moved (a new configuration) goes on to the new owner, which answers it", async () => {
    const sim = await cluster(3, 41);
    sim.commit(["n0", "n1", "n2"]);
    await sim.run(300);
    const name = ["c:m1", "c:m2", "c:m3", "c:m4", "c:m5", "c:m6"].find((n) => sim.reg("n0").ownerOf(n) === "n2")!;
    expect(name).toBeDefined();
    const call = sim.settle(sim.reg("n0").call(name, { op: "refuse-if-moved", ms: 400 }, { timeoutMs: 5_000 }), 10_000);
    await sim.run(100);
    // n2 is dropped from the holders while its handler waits: the name moves (n2 stays up).
    sim.commit(["n0", "n1"]);
    const r = await call;
    expect(r.ok).toBe(true);
    const ran = sim.handled.filter((h) => h.name === name && h.op === "refuse-if-moved").map((h) => h.node);
    expect(ran[0]).toBe("n2");
    expect(ran.slice(1).every((n) => n !== "n2")).toBe(true);
    expect(ran.length).toBe(2);
  });

  test("a handler's own refusal (HandlerRefusal: it checked and changed nothing) keeps the mark, locally and across the wire", async () => {
    const sim = await cluster(2, 23);
    const name = "c:refused";
    const owner = sim.reg("n0").ownerOf(name);
    const remote = owner === "n0" ? "n1" : "n0";
    for (const from of [owner, remote]) {
      const r = await sim.settle(sim.reg(from).call(name, { op: "refuse-own" }));
      expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
      expect(r.ok === false && noEffect(r.error)).toBe(true);
    }
  });
});
