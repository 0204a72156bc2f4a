/**
 * The hot paths kept cheap without changing what they promise: callback
 * mailbox jobs, channel tags set in place, owner lookups remembered per
 * committed configuration, and a cluster of one acknowledging writes at once.
 */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { createMailbox, type MailJob } from "../../../mesh/registry/mailbox.ts";
import { ownerOf } from "../../../core/placement.ts";
import type { HolderConfig } from "../../../mesh/registry/holders.ts";
import { createOwners } from "../../../mesh/registry/owners.ts";
import { type Address, type Message, mux, type Transport } from "../../../mesh/types.ts";
import { TestCluster } from "../replication/harness.ts";
import { MembershipWorld } from "../../support/membership.ts";

const tick = () => new Promise<void>((r) => setImmediate(r));

/** A job that records its outcome; `run` supplies the result. */
function job(run: () => unknown, log: string[], name: string): MailJob {
  return {
    run,
    done: (v) => log.push(`${name} done ${String(v)}`),
    fail: (e) => log.push(`${name} fail ${e instanceof RoomyError ? e.code : String(e)}`),
  };
}

describe("mailbox callback jobs", () => {
  test("run one at a time in order; a promise result holds the mailbox until it settles", async () => {
    const mb = createMailbox(10);
    const log: string[] = [];
    let release!: (v: string) => void;
    mb.post(job(() => new Promise<string>((r) => (release = r)), log, "a"));
    mb.post(job(() => "b", log, "b"));
    expect(mb.busy).toBe(true);
    expect(mb.waiting).toBe(1);
    await tick();
    expect(log).toEqual([]); // b waits behind a
    release("x");
    await mb.idle();
    expect(log).toEqual(["a done x", "b done b"]);
    expect(mb.busy).toBe(false);
  });

  test("an idle mailbox settles a job that answers at once in the same tick", () => {
    const mb = createMailbox(10);
    const log: string[] = [];
    mb.post(job(() => 1, log, "a"));
    expect(log).toEqual(["a done 1"]);
  });

  test("a full mailbox fails the job at once and keeps the work it holds", async () => {
    const mb = createMailbox(1);
    const log: string[] = [];
    let release!: () => void;
    mb.post(job(() => new Promise<void>((r) => (release = r)), log, "a")); // running, not waiting
    mb.post(job(() => "b", log, "b"));
    mb.post(job(() => "c", log, "c"));
    expect(log).toEqual(["c fail unavailable"]);
    release();
    await mb.idle();
    expect(log).toEqual(["c fail unavailable", "a done undefined", "b done b"]);
  });

  test("a job that throws, or a continuation that throws, does not stall the jobs behind it", async () => {
    const mb = createMailbox(10);
    const log: string[] = [];
    let release!: () => void;
    mb.post(job(() => new Promise<void>((r) => (release = r)), log, "a"));
    mb.post(job(() => {
      throw new RoomyError("room_full", "x");
    }, log, "b"));
    mb.post({
      run: () => "c",
      done: () => {
        throw new Error("a bug in the caller");
      },
      fail: () => log.push("c fail"),
    });
    mb.post(job(() => "d", log, "d"));
    release();
    await mb.idle();
    expect(log).toEqual(["a done undefined", "b fail room_full", "d done d"]);
  });

  test("a foreign thenable result is awaited like a promise", async () => {
    const mb = createMailbox(10);
    const log: string[] = [];
    const thenable = { then: (ok: (v: string) => void) => setImmediate(() => ok("later")) };
    mb.post(job(() => thenable, log, "a"));
    mb.post(job(() => "b", log, "b"));
    await mb.idle();
    expect(log).toEqual(["a done later", "b done b"]);
  });

  test("push() still gives each job its own promise", async () => {
    const mb = createMailbox(10);
    const a = mb.push(async () => {
      await tick();
      return 1;
    });
    const b = mb.push(() => 2);
    expect(await Promise.all([a, b])).toEqual([1, 2]);
  });
});

/** A transport that records what it was asked to send. */
function recorder(): Transport & { sent: Message[]; deliver(msg: Message): void } {
  let handler: (from: Address, msg: Message) => void = () => {};
  const sent: Message[] = [];
  return {
    local: "me:1",
    sent,
    send(_to, msg) {
      sent.push(msg);
      return true;
    },
    onMessage(h) {
      handler = h;
    },
    close: () => Promise.resolve(),
    deliver: (msg) => handler("peer:1", msg),
  };
}

describe("mux channel tags", () => {
  test("a fresh message is tagged in place; one tagged for another channel, or frozen, is copied", () => {
    const t = recorder();
    const ch = mux(t);
    const reg = ch.channel("reg");
    const repl = ch.channel("repl");
    const m: Message = { t: "c", a: [1] };
    reg.send("x", m);
    expect(t.sent[0]).toBe(m);
    expect(t.sent[0]).toEqual({ t: "c", a: [1], ch: "reg" });
    reg.send("y", m); // again on its channel: as is
    expect(t.sent[1]).toBe(m);
    repl.send("x", m); // on another channel: a copy, the original keeps its tag
    expect(t.sent[2]).not.toBe(m);
    expect(t.sent[2]).toEqual({ t: "c", a: [1], ch: "repl" });
    expect(m["ch"]).toBe("reg");
    const frozen = Object.freeze({ t: "lp", s: 1 }) as Message;
    reg.send("x", frozen);
    expect(t.sent[3]).toEqual({ t: "lp", s: 1, ch: "reg" });
    expect("ch" in frozen).toBe(false);
  });

  test("inbound messages reach the handler of their channel only", () => {
    const t = recorder();
    const ch = mux(t);
    const got: string[] = [];
    ch.channel("reg").onMessage((_f, m) => got.push(`reg ${m.t}`));
    ch.channel("repl").onMessage((_f, m) => got.push(`repl ${m.t}`));
    t.deliver({ t: "a", ch: "repl" });
    t.deliver({ t: "b", ch: "reg" });
    t.deliver({ t: "c" });
    t.deliver({ t: "d", ch: "swim" });
    expect(got).toEqual(["repl a", "reg b"]);
  });
});

describe("owner lookups", () => {
  const cfg = (epoch: number, names: string[]): HolderConfig => ({
    generation: 1,
    epoch,
    previous: epoch - 1,
    holders: names.map((name) => ({ name, id: `${name}#0` })),
  });

  test("follow the committed configuration, not liveness: a dead member keeps its names until a configuration drops it; a new holder takes only its share", () => {
    const world = new MembershipWorld();
    for (const n of ["a", "b", "c"]) world.add(n, `${n}:1`);
    const owners = createOwners("a", world.view("a"));
    const names = Array.from({ length: 300 }, (_, i) => `room:${i}`);
    expect(owners.ownerOf("room:1")).toBeUndefined(); // no configuration yet: nobody owns anything
    owners.setConfig(cfg(1, ["a", "b"]));
    const before = names.map((n) => owners.ownerOf(n));
    expect(new Set(before)).toEqual(new Set(["a", "b"])); // c is live but holds nothing
    expect(names.map((n) => owners.ownerOf(n))).toEqual(before); // from memory, same answers
    world.set("a", "b", "dead");
    owners.refresh();
    expect(owners.isLive("b")).toBe(false);
    expect(names.map((n) => owners.ownerOf(n))).toEqual(before);
    owners.setConfig(cfg(2, ["a", "b", "c"]));
    const after = names.map((n) => owners.ownerOf(n));
    expect(after.filter((o) => o === "c").length).toBeGreaterThan(50);
    // Rendezvous: only names that went to c moved.
    for (let i = 0; i < names.length; i++) if (after[i] !== "c") expect(after[i]).toBe(before[i]!);
    owners.setConfig(cfg(3, ["a", "c"]));
    for (let i = 0; i < names.length; i++) if (after[i] !== "b") expect(owners.ownerOf(names[i]!)).toBe(after[i]!);
  });

  test("the previous owner is known when a configuration directly follows the last one, not across a gap", () => {
    const world = new MembershipWorld();
    for (const n of ["a", "b", "c"]) world.add(n, `${n}:1`);
    const owners = createOwners("a", world.view("a"));
    const name = Array.from({ length: 100 }, (_, i) => `gate:${i}`).find((n) => ownerOf(n, ["a", "b"]) === "b" && ownerOf(n, ["a", "b", "c"]) === "c")!;
    owners.setConfig(cfg(1, ["a", "b"]));
    expect(owners.previousOwnerOf(name)).toBeUndefined();
    owners.setConfig(cfg(2, ["a", "b", "c"]));
    expect(owners.ownerOf(name)).toBe("c");
    expect(owners.previousOwnerOf(name)).toBe("b");
    owners.setConfig(cfg(4, ["a", "b", "c"]));
    expect(owners.previousOwnerOf(name)).toBeUndefined();
  });
});

describe("a cluster of one", () => {
  test("acknowledges a write as soon as it is merged, keeps nothing pending, and a later peer still gets it", async () => {
    const c = new TestCluster({ concern: 2 });
    c.member("A");
    const a = c.start("A");
    let resolved = false;
    void a.set("k", 1).then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(true);
    expect(a.map.get("k")).toBe(1);
    const s = a.rep.stats();
    expect(s.pendingWrites).toBe(0);
    expect(s.writesAcknowledged).toBe(1);
    expect(s.ackLatencyMs).toEqual([0]);
    // A node that joins later catches up by anti-entropy.
    c.member("B");
    const b = c.start("B");
    await c.until("B holds k", () => b.map.get("k") === 1);
    c.stopAll();
  });

  test("with peers, concern 1 still resolves at once and the write still reaches them", async () => {
    const c = new TestCluster({ concern: 1 });
    for (const n of ["A", "B"]) c.member(n);
    const a = c.start("A");
    const b = c.start("B");
    await c.run(20);
    let resolved = false;
    void a.set("k", 2).then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(true);
    await c.until("B holds k", () => b.map.get("k") === 2);
    await c.until("A retires it", () => a.rep.stats().pendingWrites === 0);
    c.stopAll();
  });
});
