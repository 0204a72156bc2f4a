/**
 * The relay's rules (mesh/consensus/relay.ts) on a host double: when a
 * node's own proposal or read goes to a peer, which peer, what a relaying
 * peer does with what it is handed, and what it answers. The whole path on
 * simulated nodes: tests/sim-apps/raft-lot-bridge.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { Relay, RELAY_TICKS, SLOW_TICKS, type RelayEntry, type RelayHost, type RelayOutcome, type RelayStats } from "../../../mesh/consensus/relay.ts";
import { ProposalWaits } from "../../../mesh/consensus/proposal-waits.ts";
import { ReadWaits } from "../../../mesh/consensus/read-waits.ts";
import type { Message } from "../../../mesh/types.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";

const TICK = 50;

function world(opts: { hasLeader?: boolean; leads?: boolean; applied?: boolean; forwards?: boolean; quiet?: number | null; leader?: string; old?: string[] } = {}) {
  const clock = new SimClock();
  const sent: { address: string; msg: Message }[] = [];
  const forwarded: RelayEntry[] = [];
  const settled: { kind: "proposal" | "read"; id: number; out: RelayOutcome }[] = [];
  // No leader known: no quiet count, and nothing can be handed on.
  const hasLeader = opts.hasLeader ?? true;
  const state = { leads: opts.leads ?? false, quiet: opts.quiet !== undefined ? opts.quiet : hasLeader ? RELAY_TICKS : null, query: (): Promise<unknown> => Promise.resolve({ cars: ["A"] }) };
  const host: RelayHost = {
    selfId: "me",
    generation: () => 7,
    config: () => ({ epoch: 1, voters: ["me", "p1", "p2", "ld"].map((id) => ({ id, name: id, address: `addr-${id}` })), learners: ["p3", "p4"].map((id) => ({ id, name: id, address: `addr-${id}` })) }),
    knownLeader: () => opts.leader ?? "ld",
    takesRelays: (id) => !(opts.old ?? ["p4"]).includes(id),
    leads: () => state.leads,
    leaderQuietTicks: () => (state.leads ? 0 : state.quiet),
    tickMs: TICK,
    forward: (e) => {
      const handed = hasLeader && (opts.forwards ?? true);
      if (handed) forwarded.push(e);
      return handed;
    },
    appliedAlready: () => opts.applied ?? false,
    queryLocal: () => state.query(),
    address: (id) => `addr-${id}`,
    send: (address, msg) => void sent.push({ address, msg }),
    clock,
    timeoutMs: 3000,
  };
  const stats: RelayStats = { proposalsRelayed: 0, readsRelayed: 0, relayedForOthers: 0 };
  const relay = new Relay(host, { settle: (id, out) => settled.push({ kind: "proposal", id, out }) }, { settle: (id, out) => settled.push({ kind: "read", id, out }) }, stats);
  return { clock, sent, forwarded, settled, state, relay, stats };
}

const entry = (s: number): RelayEntry => ({ o: "me", s, l: s, c: { kind: "park", plate: "A" } });
const waiting = (at: number) => ({ at, relayedAt: 0, relays: 0 });

describe("when this node's own proposals and reads go to a peer", () => {
  test("once the leader was silent RELAY_TICKS: a tick after they began; then to the next peer only RELAY_TICKS later", () => {
    const w = world({ quiet: RELAY_TICKS });
    const p = waiting(w.clock.now());
    w.relay.proposal(p, 1, () => entry(1));
    expect(w.sent).toEqual([]); // not in the tick it began
    w.clock.advance(TICK);
    w.relay.proposal(p, 1, () => entry(1));
    w.relay.proposal(p, 1, () => entry(1)); // the same tick again: not twice
    expect(w.sent.map((s) => [s.address, s.msg.t, s.msg["o"], s.msg["f"], s.msg["g"]])).toEqual([["addr-p2", "rp", "p2", "me", 7]]);
    w.clock.advance((RELAY_TICKS - 1) * TICK);
    w.relay.proposal(p, 1, () => entry(1));
    expect(w.sent.length).toBe(1);
    w.clock.advance(TICK);
    w.relay.proposal(p, 1, () => entry(1));
    expect(w.sent.map((s) => s.msg["o"])).toEqual(["p2", "p3"]);
    expect(w.stats.proposalsRelayed).toBe(2);
  });

  test("while the leader is heard from, only what waited SLOW_TICKS (slowness is the leader's to answer; a one-way cut is not)", () => {
    const w = world({ quiet: 1 });
    const p = waiting(w.clock.now());
    let made = 0;
    const make = () => (made++, entry(1));
    w.clock.advance((SLOW_TICKS - 1) * TICK);
    w.relay.proposal(p, 1, make);
    expect([w.sent.length, made]).toEqual([0, 0]); // not even its entry made
    w.clock.advance(TICK);
    w.relay.proposal(p, 1, make);
    expect([w.sent.length, made]).toEqual([1, 1]);
  });

  test("a tick after it began when this node knows no leader (cut off, or an election on)", () => {
    const w = world({ hasLeader: false, quiet: null });
    const r = waiting(w.clock.now());
    w.clock.advance(TICK);
    w.relay.read(r, 4, "lot");
    expect(w.sent.map((s) => [s.msg.t, s.msg["r"], s.msg["q"]])).toEqual([["rq", 4, "lot"]]);
    expect(w.stats.readsRelayed).toBe(1);
  });

  test("never from the leader, which has nobody to hand them to", () => {
    const w = world({ leads: true });
    const p = waiting(w.clock.now());
    w.clock.advance(10 * SLOW_TICKS * TICK);
    w.relay.proposal(p, 1, () => entry(1));
    expect(w.sent).toEqual([]);
  });

  test("never to the leader it last knew (it cannot reach it), nor to a peer that did not say it takes relays (a node from before them closes the connection)", () => {
    const w = world({ quiet: null, old: ["p4", "p1"] });
    for (let s = 1; s <= 12; s++) w.relay.proposal(waiting(w.clock.now() - TICK), s, () => entry(s));
    expect([...new Set(w.sent.map((s) => s.msg["o"]))].sort()).toEqual(["p2", "p3"]);
  });

  test("the first peer asked depends on the proposal, so one peer that cannot help is not the first for all of them", () => {
    const w = world({ quiet: null });
    for (let s = 1; s <= 3; s++) w.relay.proposal(waiting(w.clock.now() - TICK), s, () => entry(s));
    expect(new Set(w.sent.map((s) => s.msg["o"])).size).toBe(3);
  });

  test("a peer's answer settles only a proposal or named read that was handed to a peer, and not when the peer could not help", async () => {
    const proposals = new ProposalWaits("me", () => true);
    const reads = new ReadWaits(() => {});
    reads.define("lot", () => "local");
    const seq = 1; // the first proposal's
    const p = proposals.add({ kind: "park" }, 0, 10_000);
    const bare = reads.add(null, false, 0, 10_000);
    const named = reads.add("lot", true, 0, 10_000);
    const said: string[] = [];
    void p.then((v) => said.push(`proposal ${JSON.stringify(v)}`));
    void bare.then(() => said.push("bare read"));
    void named.then((v) => said.push(`named read ${JSON.stringify(v)}`));
    proposals.settle(seq, { ok: true, value: "forged" }); // never relayed: not taken
    reads.settle(1, { ok: true, value: "forged" }); // a bare read: never
    reads.settle(2, { ok: true, value: "forged" }); // named, not relayed yet: not taken
    await Promise.resolve();
    expect(said).toEqual([]);
    // Relayed now (the driver's tick hands them on): a peer's unavailable is not taken; its answer is.
    proposals.tick(100, 1_000, () => new Error("late"), (x) => void (x.relays = 1));
    reads.tick(100, () => new Error("late"), (x) => void (x.relays = 1));
    proposals.settle(seq, { ok: false, error: new RoomyError("unavailable", "no leader there either") });
    proposals.settle(seq, { ok: true, value: { parked: true } });
    reads.settle(1, { ok: true, value: "forged" });
    reads.settle(2, { ok: true, value: { cars: [] } });
    await Promise.resolve();
    expect(said.sort()).toEqual(['named read {"cars":[]}', 'proposal {"parked":true}']);
  });
});

describe("a peer relaying for others", () => {
  const from = "addr-asker";
  const rp = (e: unknown, f = "asker"): Message => ({ t: "rp", g: 7, f, o: "me", e });

  test("hands the entry, as it came, to its leader; answers the asker once it applies it, with the result or the refusal", () => {
    const w = world();
    const e = { o: "asker", s: 9, l: 8, c: { kind: "park" } };
    expect(w.relay.receive(from, rp(e))).toBe("ok");
    expect(w.forwarded).toEqual([e]);
    expect(w.sent).toEqual([]);
    w.relay.applied("other", 9, null, { parked: true }); // someone else's entry: nothing
    w.relay.applied("asker", 9, null, { parked: true });
    w.relay.applied("asker", 9, null, { parked: true }); // answered once
    expect(w.sent).toEqual([{ address: from, msg: { t: "ra", s: 9, v: '{"parked":true}', g: 7, f: "me", o: "asker" } }]);
    w.relay.receive(from, rp({ ...e, s: 10 }));
    w.relay.applied("asker", 10, new RoomyError("lot_full", "the lot is full"), undefined);
    expect(w.sent[1]!.msg).toEqual({ t: "ra", s: 10, err: ["lot_full", "the lot is full"], g: 7, f: "me", o: "asker" });
    expect(w.stats.relayedForOthers).toBe(2);
  });

  test("with no leader of its own, answers unavailable at once and hands nothing on", () => {
    const w = world({ hasLeader: false });
    w.relay.receive(from, rp({ o: "asker", s: 1, l: 1, c: null }));
    expect(w.forwarded).toEqual([]);
    expect(w.sent.map((s) => (s.msg["err"] as string[])[0])).toEqual(["unavailable"]);
  });

  test("an entry it applied before it was asked: silence (it cannot know the result; the asker times out)", () => {
    const w = world({ applied: true });
    w.relay.receive(from, rp({ o: "asker", s: 1, l: 1, c: null }));
    expect(w.forwarded).toEqual([]);
    expect(w.sent).toEqual([]);
  });

  test("an entry of another origin than its sender, or with a bad seq, is malformed and handed nowhere", () => {
    const w = world();
    expect(w.relay.receive(from, rp({ o: "someone-else", s: 1, l: 1, c: null }))).toBe("malformed");
    expect(w.relay.receive(from, rp({ o: "asker", s: "1", l: 1, c: null }))).toBe("malformed");
    expect(w.relay.receive(from, rp(null))).toBe("malformed");
    expect(w.relay.receive(from, { t: "rq", g: 7, f: "asker", o: "me", r: 1.5, q: "lot" })).toBe("malformed");
    expect(w.relay.receive(from, { t: "rq", g: 7, f: "asker", o: "me", r: 1, q: 3 })).toBe("malformed");
    expect(w.forwarded).toEqual([]);
    expect(w.sent).toEqual([]);
  });

  test("a read is made here and answered as JSON; a failed read answers its error", async () => {
    const w = world();
    expect(w.relay.receive(from, { t: "rq", g: 7, f: "asker", o: "me", r: 3, q: "lot" })).toBe("ok");
    await Promise.resolve();
    await Promise.resolve();
    expect(w.sent[0]!.msg).toEqual({ t: "rv", r: 3, v: '{"cars":["A"]}', g: 7, f: "me", o: "asker" });
    w.state.query = () => Promise.reject(new RoomyError("unavailable", "read not confirmed in time"));
    w.relay.receive(from, { t: "rq", g: 7, f: "asker", o: "me", r: 4, q: "lot" });
    await Promise.resolve();
    await Promise.resolve();
    expect(w.sent[1]!.msg["err"]).toEqual(["unavailable", "read not confirmed in time"]);
  });
});

describe("the asker taking a peer's answer", () => {
  const ans = (m: Record<string, unknown> & { t: string }): Message => ({ g: 7, f: "p1", o: "me", ...m });

  test("a result or a refusal goes to the proposal or read it answers; JSON keeps a plate named __proto__ as data", () => {
    const w = world();
    expect(w.relay.receive("addr-p1", ans({ t: "ra", s: 5, v: '{"parked":true}' }))).toBe("ok");
    expect(w.relay.receive("addr-p1", ans({ t: "ra", s: 6, err: ["not_parked", "no car"] }))).toBe("ok");
    expect(w.relay.receive("addr-p1", ans({ t: "rv", r: 2, v: '{"vehicles":{"__proto__":{"gate":1}}}' }))).toBe("ok");
    expect(w.settled.map((s) => [s.kind, s.id, s.out.ok])).toEqual([["proposal", 5, true], ["proposal", 6, false], ["read", 2, true]]);
    const refused = w.settled[1]!.out;
    expect(refused.ok === false && [refused.error.code, refused.error.message]).toEqual(["not_parked", "no car"]);
    const read = w.settled[2]!.out as { ok: true; value: { vehicles: object } };
    expect(Object.keys(read.value.vehicles)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(read.value.vehicles)).toBe(Object.prototype);
  });

  test("an unknown error code becomes internal; a value that is not JSON text, or a bad id, is malformed and settles nothing", () => {
    const w = world();
    w.relay.receive("addr-p1", ans({ t: "ra", s: 1, err: ["no_such_code", "x"] }));
    expect(w.settled[0]!.out.ok === false && (w.settled[0]!.out as { error: RoomyError }).error.code).toBe("internal");
    expect(w.relay.receive("addr-p1", ans({ t: "ra", s: 2, v: "{not json" }))).toBe("malformed");
    expect(w.relay.receive("addr-p1", ans({ t: "ra", s: 2, v: 5 }))).toBe("malformed");
    expect(w.relay.receive("addr-p1", ans({ t: "rv", r: "2", v: "1" }))).toBe("malformed");
    expect(w.relay.receive("addr-p1", ans({ t: "ra", s: 3, err: [1, 2] }))).toBe("malformed");
    expect(w.settled.length).toBe(1);
  });
});
