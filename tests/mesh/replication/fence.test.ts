/**
 * Fencing by the committed configuration's epoch: writes carry the epoch they
 * were made under, a replica whose fence has moved past it refuses them, and
 * write concern "majority" counts the committed holders only.
 */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { deltaToWire } from "../../../core/crdt/lww-codec.ts";
import type { Message } from "../../../mesh/types.ts";
import { DEFAULT_REPLICATION_CONFIG } from "../../../mesh/replication/replicator.ts";
import { addr, TestCluster, track } from "./harness.ts";
import type { WriteConcern } from "../../../mesh/replication/types.ts";
import type { PulledFrom } from "../../../mesh/replication/api.ts";

const NO_AE = { antiEntropyMs: 600_000 };

function cluster(names: string[], concern: WriteConcern, config = {}): TestCluster {
  const c = new TestCluster({ concern, config });
  for (const n of names) c.member(n);
  for (const n of names) c.start(n);
  return c;
}

/** The epoch stamps of the data messages from `from` to `to` that carry `key`. */
function stamps(c: TestCluster, from: string, to: string, key: string): unknown[] {
  return c.net.log
    .filter((s) => s.t === "d" && s.from === addr(from) && s.to === addr(to) && carries(s.msg, key))
    .map((s) => s.msg["e"]);
}

function carries(msg: Message, key: string): boolean {
  const d = msg["d"];
  return d instanceof Uint8Array && new TextDecoder().decode(d).includes(key);
}

describe("epoch stamps", () => {
  test("writes carry the epoch they were made under, and retransmits keep it", async () => {
    const c = cluster(["A", "B"], 2);
    await c.run(50);
    const a = c.node("A");
    expect(a.rep.epoch()).toBe(0);
    const w0 = track(a.set("zero-key", 1));
    await c.until("first write held", () => w0.state === "resolved");
    expect(stamps(c, "A", "B", "zero-key")).toEqual([0]);

    a.rep.setEpoch(3, ["A", "B"]);
    c.net.dropNextMatching(addr("A"), addr("B"), "d", 1);
    const w3 = track(a.set("three-key", 1));
    await c.run(5);
    a.rep.setEpoch(4, ["A", "B"]); // committed meanwhile: the retransmit still says 3
    await c.until("retransmitted and held", () => w3.state === "resolved");
    expect(stamps(c, "A", "B", "three-key")).toEqual([3, 3]);
    expect(a.rep.stats().retransmits).toBeGreaterThan(0);
    c.stopAll();
  });

  test("writes of two epochs in one tick leave in separate messages, each with its own stamp", async () => {
    const c = cluster(["A", "B"], 2);
    await c.run(50);
    const a = c.node("A");
    a.rep.setEpoch(1, ["A", "B"]);
    const w1 = track(a.set("one-key", 1));
    a.rep.setEpoch(2, ["A", "B"]);
    const w2 = track(a.set("two-key", 2));
    await c.until("both held", () => w1.state === "resolved" && w2.state === "resolved");
    expect(stamps(c, "A", "B", "one-key")).toEqual([1]);
    expect(stamps(c, "A", "B", "two-key")).toEqual([2]);
    expect(a.rep.stats().epoch).toBe(2);
    c.stopAll();
  });
});

describe("fences", () => {
  test("a replica fenced past a write's stamp merges nothing, acks nothing, and the writer rejects at once", async () => {
    const c = cluster(["A", "B"], 2, NO_AE);
    await c.run(50);
    const a = c.node("A");
    const b = c.node("B");
    a.rep.setEpoch(1, ["A", "B"]);
    b.rep.adoptFence(2);
    const startedAt = c.clock.now();
    const w = track(a.set("k", "old owner"));
    await c.until("write settled", () => w.state !== "pending", 1000, 1);
    const tookMs = c.clock.now() - startedAt;
    expect(w.state).toBe("rejected");
    expect(w.error).toBeInstanceOf(RoomyError);
    expect((w.error as RoomyError).code).toBe("unavailable");
    expect((w.error as RoomyError).message).toContain("write fenced: epoch 1 moved on to 2; retry");
    // Promptly: a round trip, not the 5 s ack timeout.
    expect(tookMs).toBeLessThan(50);
    expect(b.map.has("k")).toBe(false);
    expect(c.net.count("a", addr("B"), addr("A")).messages).toBe(0);
    expect(c.net.count("fx", addr("B"), addr("A")).messages).toBe(1);
    expect(b.rep.stats().writesFencedHere).toBe(1);
    expect(a.rep.stats().writesFenced).toBe(1);
    expect(a.rep.stats().writesUnavailable).toBe(1);
    // B is done with it: no retransmits, nothing pending, and B still lacks it.
    await c.run(3000);
    expect(c.net.count("d", addr("A"), addr("B")).messages).toBe(1);
    expect(a.rep.stats().pendingWrites).toBe(0);
    expect(b.map.has("k")).toBe(false);
    c.stopAll();
  });

  test("a write stamped with the fence or above is accepted", async () => {
    const c = cluster(["A", "B"], 2, NO_AE);
    await c.run(50);
    c.node("A").rep.setEpoch(2, ["A", "B"]);
    c.node("B").rep.setEpoch(2, ["A", "B"]);
    const w = track(c.node("A").set("k", 1));
    await c.until("held", () => w.state !== "pending");
    expect(w.state).toBe("resolved");
    expect(c.node("B").rep.stats().writesFencedHere).toBe(0);
    c.stopAll();
  });

  test("a data message without a stamp is epoch 0: refused by a fenced replica", async () => {
    const c = cluster(["A", "B"], 2, NO_AE);
    await c.run(50);
    const a = c.membership.get("A");
    const b = c.node("B");
    b.rep.adoptFence(1);
    const ts = { w: c.clock.now(), c: 0, n: a.id };
    c.net.inject(addr("A"), addr("B"), { t: "d", n: a.name, i: a.id, s: [9, 9], d: deltaToWire({ e: [{ k: "legacy", ts, v: 1 }] }) });
    await c.run(20);
    expect(b.map.has("legacy")).toBe(false);
    expect(b.rep.stats().writesFencedHere).toBe(1);
    const fx = c.net.log.find((s) => s.t === "fx" && s.from === addr("B"));
    expect(fx?.msg).toMatchObject({ t: "fx", n: "B", s: [9, 9], e: 1 });
    c.stopAll();
  });

  test("an acknowledged write stays acknowledged when a fenced replica refuses it later", async () => {
    const c = cluster(["A", "B", "C"], "majority", NO_AE);
    await c.run(50);
    const a = c.node("A");
    a.rep.setEpoch(1, ["A", "B", "C"]);
    c.net.block(addr("A"), addr("C"));
    const w = track(a.set("k", 1));
    await c.until("held by A and B", () => w.state !== "pending");
    expect(w.state).toBe("resolved");
    c.node("C").rep.adoptFence(2);
    c.net.unblock(addr("A"), addr("C"));
    await c.until("C refused the retransmit", () => c.net.count("fx", addr("C"), addr("A")).messages > 0);
    await c.run(50);
    const s = a.rep.stats();
    expect(s.writesFenced).toBe(0);
    expect(s.writesUnavailable).toBe(0);
    expect(s.writesAcknowledged).toBe(1);
    // C counts as done with it: retired, no more retransmits.
    expect(s.pendingWrites).toBe(0);
    const sent = c.net.count("d", addr("A"), addr("C")).messages;
    await c.run(3000);
    expect(c.net.count("d", addr("A"), addr("C")).messages).toBe(sent);
    c.stopAll();
  });

  test("anti-entropy is not fenced: a refused write still reaches the fenced replica, LWW decides", async () => {
    const c = cluster(["A", "B"], 2, { antiEntropyMs: 200 });
    await c.run(50);
    c.node("A").rep.setEpoch(1, ["A", "B"]);
    c.node("B").rep.adoptFence(2);
    const w = track(c.node("A").set("k", "v"));
    await c.until("refused", () => w.state === "rejected");
    await c.until("repaired by anti-entropy", () => c.node("B").map.get("k") === "v");
    c.stopAll();
  });

  test("adoptFence raises the fence only; it never falls; setEpoch neither lowers nor raises it (the new owner asks for it once old leases are over)", async () => {
    const c = cluster(["A", "B"], 2, NO_AE);
    await c.run(50);
    const b = c.node("B");
    b.rep.adoptFence(5);
    b.rep.adoptFence(3);
    expect(b.rep.fence()).toBe(5);
    expect(b.rep.epoch()).toBe(0);
    const w = track(b.set("from-b", 1));
    await c.until("held", () => w.state === "resolved");
    expect(stamps(c, "B", "A", "from-b")).toEqual([0]); // still stamped with the committed epoch
    b.rep.setEpoch(2, ["A", "B"]);
    expect(b.rep.epoch()).toBe(2);
    expect(b.rep.fence()).toBe(5);
    b.rep.setEpoch(7, ["A", "B"]);
    expect(b.rep.fence()).toBe(5);
    b.rep.adoptFence(7);
    expect(b.rep.fence()).toBe(7);
    b.rep.setEpoch(6, ["A", "B"]); // stale news
    expect(b.rep.epoch()).toBe(7);
    expect(b.rep.stats()).toMatchObject({ fence: 7, epoch: 7 });
    // What that fence does: A's writes stamped below it are refused.
    c.node("A").rep.setEpoch(6, ["A", "B"]);
    const wa = track(c.node("A").set("from-a", 1));
    await c.until("refused", () => wa.state !== "pending");
    expect((wa.error as RoomyError).message).toContain("epoch 6 moved on to 7");
    expect(() => b.rep.adoptFence(-1)).toThrow(RangeError);
    c.stopAll();
  });

  test("malformed fx (and a d with a bad stamp) are dropped, counted, and reject nothing", async () => {
    const c = cluster(["A", "B"], 2, NO_AE);
    await c.run(50);
    const a = c.node("A");
    const bm = c.membership.get("B");
    const from = { n: bm.name, i: bm.id };
    c.net.block(addr("A"), addr("B"));
    const w = track(a.set("k", 1)); // seq 1, pending
    await c.run(20);
    const garbage: Message[] = [
      { t: "fx", ...from, s: [1, 1], e: -1 },
      { t: "fx", ...from, s: [1, 1] },
      { t: "fx", ...from, s: [1, 1], e: 1.5 },
      { t: "fx", ...from, s: "1-1", e: 3 },
      { t: "fx", s: [1, 1], e: 3 },
      { t: "d", ...from, s: [4, 4], d: deltaToWire({ e: [] }), e: "2" },
    ];
    for (const m of garbage) c.net.inject(addr("B"), addr("A"), m);
    await c.run(50);
    expect(a.rep.stats().malformedDropped).toBe(garbage.length);
    expect(w.state).toBe("pending");
    // A well-formed fx whose fence is not above the write's stamp is no refusal either.
    c.net.inject(addr("B"), addr("A"), { t: "fx", ...from, s: [1, 1], e: 0 });
    await c.run(50);
    expect(w.state).toBe("pending");
    c.net.unblock(addr("A"), addr("B"));
    await c.until("held", () => w.state !== "pending");
    expect(w.state).toBe("resolved");
    expect(a.rep.stats().writesFenced).toBe(0);
    c.stopAll();
  });
});

/** A, B and C, each named by its current process (as a configuration does). */
const processes = (c: TestCluster): Map<string, string> => new Map(["A", "B", "C"].map((n) => [n, c.membership.idOf(n)]));

describe("majority over the committed holders", () => {
  test("acks from non-holders do not count, though a membership majority would", async () => {
    const c = cluster(["A", "B", "C", "D", "E"], "majority", NO_AE);
    await c.run(50);
    const a = c.node("A");
    a.rep.setEpoch(1, ["A", "B", "C"]);
    c.net.block(addr("A"), addr("B"));
    c.net.block(addr("A"), addr("C"));
    const w = track(a.set("k", 1));
    await c.until("D and E hold it", () => c.node("D").map.has("k") && c.node("E").map.has("k"));
    await c.run(500);
    // A, D, E: three of five members, but one holder of three.
    expect(w.state).toBe("pending");
    c.net.unblock(addr("A"), addr("B"));
    await c.until("a second holder acked", () => w.state !== "pending");
    expect(w.state).toBe("resolved");
    c.stopAll();
  });

  test("this node counts only if it is a holder", async () => {
    const c = cluster(["A", "B", "C"], "majority", NO_AE);
    await c.run(50);
    const a = c.node("A");
    a.rep.setEpoch(1, ["B", "C"]);
    c.net.block(addr("A"), addr("C"));
    const w = track(a.set("k", 1));
    await c.until("B holds it", () => c.node("B").map.has("k"));
    await c.run(500);
    // A and B are a membership majority, but only one of the two holders.
    expect(w.state).toBe("pending");
    c.net.unblock(addr("A"), addr("C"));
    await c.until("both holders acked", () => w.state !== "pending");
    expect(w.state).toBe("resolved");
    c.stopAll();
  });

  test("a change of holders re-evaluates pending writes", async () => {
    const c = cluster(["A", "B", "C", "D", "E"], "majority", NO_AE);
    await c.run(50);
    const a = c.node("A");
    a.rep.setEpoch(1, ["A", "B", "C"]);
    c.net.block(addr("A"), addr("B"));
    c.net.block(addr("A"), addr("C"));
    const w = track(a.set("k", 1));
    await c.until("D and E acked", () => c.net.count("a", addr("E"), addr("A")).messages > 0 && c.net.count("a", addr("D"), addr("A")).messages > 0);
    await c.run(20);
    expect(w.state).toBe("pending");
    a.rep.setEpoch(2, ["A", "D", "E"]); // no new message needed: the acks it has now suffice
    await c.run(1);
    expect(w.state).toBe("resolved");
    c.stopAll();
  });

  test("a holder's name run by a new process (restarted, not yet in a configuration) counts for nothing until a configuration names that process", async () => {
    // Soak seed 9554: a node frozen across configuration changes woke with
    // its old one (holders A, B, C), wrote, and counted the ack of B's fresh
    // process: acknowledged on A and an empty B, none of the current holders.
    const c = cluster(["A", "B", "C"], "majority", NO_AE);
    await c.run(50);
    const a = c.node("A");
    a.rep.setEpoch(1, ["A", "B", "C"], processes(c));
    c.node("B").rep.stop();
    c.membership.restart("B");
    c.membership.announce("B");
    c.start("B");
    c.net.block(addr("A"), addr("C"));
    const w = track(a.set("k", 1));
    await c.until("the new B holds it", () => c.node("B").map.has("k"));
    await c.run(500);
    // A and a process under B's name: two names of three, but one holder.
    expect(w.state).toBe("pending");
    a.rep.setEpoch(2, ["A", "B", "C"], processes(c)); // a configuration names the new process
    await c.run(1);
    expect(w.state).toBe("resolved");
    c.stopAll();
  });

  test("a restarted holder's new process is sent the writes its old one acked, though the link closed at the old one's death first", async () => {
    // Behind the generation view a restarted peer shows only once its hello
    // came: the old process's link closes at its death, the new one's opens
    // later. The old acks must go with it, or the write is never sent to the
    // new process and, once a configuration names it, the old ack counts for it.
    const c = cluster(["A", "B", "C"], "majority", NO_AE);
    await c.run(50);
    const a = c.node("A");
    a.rep.setEpoch(1, ["A", "B", "C"], processes(c));
    c.net.block(addr("A"), addr("C"));
    const w = track(a.set("k", 1));
    await c.until("acknowledged by A and B", () => w.state !== "pending");
    expect(w.state).toBe("resolved"); // the holders' own processes count as before
    c.node("B").rep.stop();
    c.membership.setEverywhere("B", "dead");
    await c.run(50);
    const before = stamps(c, "A", "B", "k").length;
    c.membership.restart("B");
    c.start("B");
    await c.run(50);
    c.membership.announce("B");
    // Sent again as a write (anti-entropy on the new member's arrival would bring it too, as an entry).
    await c.until("A sends the write to the new B", () => stamps(c, "A", "B", "k").length > before, 5_000);
    await c.until("the new B holds it", () => c.node("B").map.has("k"), 5_000);
    c.stopAll();
  });

  test("a lone holder that is this node acknowledges at once; concern 2 ignores holders", async () => {
    const c = cluster(["A", "B"], "majority", NO_AE);
    await c.run(50);
    c.net.isolate(addr("A"));
    c.node("A").rep.setEpoch(1, ["A"]);
    const w = track(c.node("A").set("k", 1));
    await c.run(1);
    expect(w.state).toBe("resolved");
    const c2 = cluster(["A", "B"], 2, NO_AE);
    await c2.run(50);
    c2.net.isolate(addr("A"));
    c2.node("A").rep.setEpoch(1, ["A"]);
    const w2 = track(c2.node("A").set("k", 1));
    await c2.run(500);
    expect(w2.state).toBe("pending"); // still two nodes
    c.stopAll();
    c2.stopAll();
  });
});

describe("catchUpFrom", () => {
  /**
   * Four nodes, once the rounds each started with peers not yet listening
   * (lost) have timed out: a pull would join such a round rather than start
   * its own.
   */
  async function four(): Promise<TestCluster> {
    const c = cluster(["A", "B", "C", "D"], 1, NO_AE);
    await c.run(DEFAULT_REPLICATION_CONFIG.roundTimeoutMs + 300);
    return c;
  }

  test("resolves once `need` of the named peers completed a pull, with their data merged, naming the process that answered each", async () => {
    const c = await four();
    c.net.isolate(addr("A"));
    await c.node("B").set("from-b", 1);
    await c.node("C").set("from-c", 1);
    await c.run(50);
    c.net.heal();
    c.net.isolate(addr("D")); // D never answers
    const p = c.node("A").rep.catchUpFrom(["B", "C", "D"], 2, 5000);
    let got: PulledFrom[] | undefined;
    void p.then((pulled) => (got = pulled));
    await c.until("caught up", () => got !== undefined, 2000, 1);
    expect(got!.sort((x, y) => (x.name < y.name ? -1 : 1))).toEqual([
      { name: "B", id: c.membership.idOf("B") },
      { name: "C", id: c.membership.idOf("C") },
    ]);
    expect(c.node("A").map.get("from-b")).toBe(1);
    expect(c.node("A").map.get("from-c")).toBe(1);
    c.stopAll();
  });

  test("retries a round whose messages were lost while time remains", async () => {
    const c = await four();
    c.net.dropNextMatching(addr("A"), addr("B"), "dg", 1);
    const p = c.node("A").rep.catchUpFrom(["B"], 1, 10_000);
    let got: string[] | undefined;
    void p.then((pulled) => (got = pulled.map((x) => x.name)));
    await c.until("caught up", () => got !== undefined, 10_000);
    expect(got).toEqual(["B"]);
    expect(c.net.count("dg", addr("A"), addr("B")).messages).toBeGreaterThanOrEqual(2);
    c.stopAll();
  });

  test("a peer restarted at its address answers as its new process: that round counts for no one until the puller sees the new process, then it reports that one", async () => {
    const c = await four();
    const old = c.membership.idOf("B");
    c.node("B").rep.stop();
    c.membership.restart("B");
    c.start("B");
    let got: PulledFrom[] | undefined;
    void c.node("A").rep.catchUpFrom(["B"], 1, 20_000).then((p) => (got = p));
    // A's view still holds the old B: the new one's answers do not complete A's round with it.
    await c.run(DEFAULT_REPLICATION_CONFIG.roundTimeoutMs * 2);
    expect(got).toBeUndefined();
    expect(c.net.count("eq", addr("B"), addr("A")).messages + c.net.count("lf", addr("B"), addr("A")).messages).toBeGreaterThan(0);
    c.membership.announce("B");
    await c.until("caught up", () => got !== undefined, 10_000);
    expect(got).toEqual([{ name: "B", id: c.membership.idOf("B") }]);
    expect(got![0]!.id).not.toBe(old);
    c.stopAll();
  });

  test("rejects unavailable at the timeout naming the peers that did not answer", async () => {
    const c = await four();
    c.net.isolate(addr("C"));
    c.net.isolate(addr("D"));
    const t0 = c.clock.now();
    const t = track(c.node("A").rep.catchUpFrom(["B", "C", "D"], 2, 2000).then(() => {}));
    await c.run(1900);
    expect(t.state).toBe("pending");
    await c.until("timed out", () => t.state !== "pending", 1000);
    expect(c.clock.now() - t0).toBeGreaterThanOrEqual(2000);
    expect(t.state).toBe("rejected");
    const err = t.error as RoomyError;
    expect(err.code).toBe("unavailable");
    expect(err.message).toContain("C, D");
    expect(err.message).not.toContain("B,");
    c.stopAll();
  });

  test("need <= 0 resolves at once with []; this node, if named, counts as caught up", async () => {
    const c = await four();
    expect(await c.node("A").rep.catchUpFrom(["B"], 0, 1000)).toEqual([]);
    c.net.isolate(addr("A"));
    let got: PulledFrom[] | undefined;
    void c.node("A").rep.catchUpFrom(["A", "B"], 1, 1000).then((n) => (got = n));
    await c.run(1);
    expect(got).toEqual([{ name: "A", id: c.membership.idOf("A") }]);
    c.stopAll();
  });

  test("catchUp() still pulls from every live peer", async () => {
    const c = await four();
    c.net.isolate(addr("A"));
    await c.node("D").set("from-d", 1);
    c.net.heal();
    const t = track(c.node("A").rep.catchUp(5000));
    await c.until("caught up", () => t.state !== "pending");
    expect(t.state).toBe("resolved");
    expect(c.node("A").map.get("from-d")).toBe(1);
    expect(c.node("A").rep.isCaughtUp()).toBe(true);
    c.stopAll();
  });
  test("resetFence (a new generation) starts stamp and fence over, lower than before", async () => {
    const c = cluster(["A", "B"], 2, NO_AE);
    await c.run(50);
    const b = c.node("B");
    b.rep.setEpoch(9, ["A", "B"]);
    b.rep.adoptFence(9);
    b.rep.resetFence(1);
    expect({ fence: b.rep.fence(), epoch: b.rep.epoch() }).toEqual({ fence: 1, epoch: 1 });
    // A's writes of the new generation's epoch 1 are accepted again.
    c.node("A").rep.setEpoch(1, ["A", "B"]);
    const w = track(c.node("A").set("again", 1));
    await c.until("held", () => w.state !== "pending");
    expect(w.state).toBe("resolved");
    c.stopAll();
  });
});
