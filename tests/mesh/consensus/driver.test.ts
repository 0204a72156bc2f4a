/**
 * The consensus driver on a virtual clock with a hand-held transport: a lone
 * node starts a generation and answers writes and reads; bad input from an
 * authenticated peer closes its connection and changes nothing; traffic for
 * an earlier incarnation of this node or another generation is ignored.
 */
import { describe, expect, test } from "bun:test";
import { LotMachine } from "../../../core/parking/lot-machine.ts";
import { Consensus } from "../../../mesh/consensus/driver.ts";
import { MembershipWorld } from "../../support/membership.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import { SeededRandom } from "../../../mesh/sim/random.ts";
import type { Address, Message } from "../../../mesh/types.ts";
import { silentLogger } from "../../../mesh/types.ts";

function lone() {
  const clock = new SimClock();
  let handler: ((from: Address, msg: Message) => void) | undefined;
  const malformed: string[] = [];
  const machine = new LotMachine(2);
  const membership = new MembershipWorld().add("a", "127.0.0.1:1");
  const self = { id: membership.self().id, name: "a", address: "127.0.0.1:1" };
  const c = new Consensus({
    self,
    clock,
    random: new SeededRandom(1),
    transport: { local: self.address, send: () => true, onMessage: (h) => (handler = h), close: () => Promise.resolve() },
    membership,
    logger: silentLogger,
    machine,
    mayBootstrapAlone: true,
    onMalformed: (a) => malformed.push(a),
  });
  return { clock, c, machine, malformed, deliver: (from: Address, msg: Message) => handler!(from, msg) };
}

describe("consensus driver", () => {
  test("a lone node starts a generation, leads, answers writes once applied and reads behind the barrier", async () => {
    const { clock, c, machine } = lone();
    // alone with nobody to wait for: it leads from construction, no tick needed
    expect(c.status()).toMatchObject({ role: "leader", leader: "a", voters: ["a"], epoch: 1, generation: Math.floor(clock.now()) });
    clock.runFor(100);
    const w = c.submit({ t: "park", gate: 1, plate: "X", at: "t", node: "a" });
    clock.runFor(10);
    expect(await w).toEqual({ parked: true });
    const full = c.submit({ t: "park", gate: 1, plate: "Y", at: "t", node: "a" });
    const over = c.submit({ t: "park", gate: 1, plate: "Z", at: "t", node: "a" });
    clock.runFor(10);
    expect(await full).toEqual({ parked: true });
    expect(await over.catch((e: { code: string }) => e.code)).toBe("lot_full");
    const r = c.read();
    clock.runFor(10);
    await r;
    expect(machine.occupied).toBe(2);
  });

  test("a malformed consensus message from a peer closes its connection and changes nothing", () => {
    const { clock, c, malformed, deliver } = lone();
    clock.runFor(100);
    const before = JSON.stringify(c.status());
    const g = c.status().generation;
    deliver("127.0.0.1:2", { t: "raft", g, f: "x", o: c.self.id, m: { t: "ae", term: "nine" } });
    deliver("127.0.0.1:3", { t: "raft", g: "one", f: "x", o: c.self.id, m: {} });
    deliver("127.0.0.1:4", { t: "fwd", g, f: "x", o: c.self.id, e: "junk" });
    expect(malformed).toEqual(["127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"]);
    expect(JSON.stringify(c.status())).toBe(before);
  });

  test("messages for an earlier incarnation of this node, or from another generation, are ignored", () => {
    const { clock, c, malformed, deliver } = lone();
    clock.runFor(100);
    const st = c.status();
    // a vote request of a much higher term would depose the leader if it were heard
    const rv = { t: "rv", term: 99, pre: false, lastIndex: 99, lastTerm: 99, force: true };
    deliver("127.0.0.1:2", { t: "raft", g: st.generation, f: "x", o: "000000000000bbbbbbbb", m: rv });
    deliver("127.0.0.1:2", { t: "raft", g: st.generation + 1, f: "x", o: c.self.id, m: rv });
    clock.runFor(10);
    expect(c.status().term).toBe(st.term);
    expect(c.status().role).toBe("leader");
    expect(malformed).toEqual([]);
  });
  test("a configuration notice (a leader telling a dropped member) reaches the config listeners only when newer and of this generation; a malformed one closes the connection", () => {
    const { clock, c, malformed, deliver } = lone();
    clock.runFor(100);
    const g = c.status().generation;
    const seen: number[] = [];
    c.onConfig((cfg) => seen.push(cfg.epoch));
    const other = ["000000000002bbbbbbbb", "b", "127.0.0.1:2"];
    deliver("127.0.0.1:2", { t: "cfg", f: other[0], g, e: 5, v: [other], l: [] });
    deliver("127.0.0.1:2", { t: "cfg", f: other[0], g, e: 4, v: [other], l: [] }); // older: ignored
    deliver("127.0.0.1:2", { t: "cfg", f: other[0], g: g + 1, e: 9, v: [other], l: [] }); // another generation
    expect(seen).toEqual([5]);
    expect(malformed).toEqual([]);
    deliver("127.0.0.1:3", { t: "cfg", f: other[0], g, e: 6, v: [["only-two", "x"]], l: [] });
    deliver("127.0.0.1:4", { t: "cfg", f: other[0], g, e: "six", v: [], l: [] });
    expect(malformed).toEqual(["127.0.0.1:3", "127.0.0.1:4"]);
    expect(seen).toEqual([5]);
  });
});
