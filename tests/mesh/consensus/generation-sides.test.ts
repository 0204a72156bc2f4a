/**
 * Sides of generations (generation.ts) and the membership the data layers
 * see (generation-view.ts): a member shows only once its hello says it is in
 * this node's generation, or headed for it; a node in none keeps to the
 * generation it chose first while that one is around, says so in its
 * hellos, and follows no leader of another. tests/cluster/two-clusters
 * shows the whole on real processes.
 */
import { expect, test } from "bun:test";
import { GenerationKeeper } from "../../../mesh/consensus/generation.ts";
import { GenerationView } from "../../../mesh/consensus/generation-view.ts";
import type { Member, MemberEvent, MembershipView } from "../../../mesh/membership/types.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import type { Message } from "../../../mesh/types.ts";

const member = (name: string, id = name): Member => ({ name, id, address: `${name}:1`, state: "alive", incarnation: 0 });

/** A membership double whose members and events the test sets. */
function world(selfName: string, others: Member[]) {
  const self = member(selfName);
  let list = [self, ...others];
  const subs = new Set<(ev: MemberEvent) => void>();
  const view: MembershipView = {
    self: () => self,
    members: () => list.slice(),
    live: () => list.filter((m) => m.state === "alive" || m.state === "suspect"),
    subscribe: (fn) => {
      subs.add(fn);
      return () => subs.delete(fn);
    },
  };
  return {
    view,
    add(m: Member): void {
      list = [...list, m];
      for (const fn of subs) fn({ type: "up", member: m });
    },
    kill(name: string): void {
      list = list.map((m) => (m.name === name ? { ...m, state: "dead" as const } : m));
      for (const fn of subs) fn({ type: "down", member: list.find((m) => m.name === name)! });
    },
  };
}

function setup(selfName: string, others: Member[]) {
  const clock = new SimClock(1_000_000);
  const w = world(selfName, others);
  const sent: { to: string; msg: Message }[] = [];
  const k = new GenerationKeeper({
    self: { name: selfName, id: selfName, address: `${selfName}:1` }, membership: w.view, clock, logger: { debug() {}, info() {}, warn() {}, error() {} },
    mayBootstrapAlone: () => false, send: (to, msg) => void sent.push({ to, msg }),
  });
  const side = new GenerationView(w.view);
  side.bind(() => k.sides());
  const events: string[] = [];
  side.subscribe((ev) => events.push(`${ev.type} ${ev.member.name}`));
  const hello = (name: string, g: number, j = 0, r = 0): void => {
    k.onHello(`${name}:1`, { t: "hello", f: name, n: name, g, r, j });
    side.refresh();
  };
  return { k, side, w, sent, events, hello, clock };
}

const names = (ms: Member[]): string[] => ms.map((m) => m.name).sort();

test("a member is hidden from the data layers until its hello says it is on this node's side", () => {
  const { k, side, hello, events } = setup("a1", [member("a2"), member("b1")]);
  k.adopt(100);
  side.refresh();
  expect(names(side.live())).toEqual(["a1"]);
  hello("a2", 100);
  hello("b1", 200);
  expect(names(side.live())).toEqual(["a1", "a2"]);
  expect(names(side.members())).toEqual(["a1", "a2"]);
  expect(events).toEqual(["up a2"]);
});

test("a joiner shows in a generation only once it says it is headed for that one", () => {
  const { k, side, hello } = setup("a1", [member("x")]);
  k.adopt(100);
  hello("x", 0, 0);
  expect(names(side.live())).toEqual(["a1"]); // in none and undecided: no data yet
  hello("x", 0, 200);
  expect(names(side.live())).toEqual(["a1"]); // headed for another generation
  hello("x", 0, 100);
  expect(names(side.live())).toEqual(["a1", "x"]);
});

test("a member that moves to another generation leaves the view with a down event", () => {
  const { k, side, hello, events } = setup("a1", [member("a2")]);
  k.adopt(100);
  hello("a2", 100);
  hello("a2", 300); // it recovered into a generation of its own
  expect(names(side.live())).toEqual(["a1"]);
  expect(events).toEqual(["up a2", "down a2"]);
});

test("a node in no generation keeps to the first one it heard of while it is around, and says so in its hellos", () => {
  const { k, side, hello, sent, clock, w } = setup("x", [member("a1"), member("b1")]);
  hello("a1", 200);
  expect(names(side.live())).toEqual(["a1", "x"]);
  hello("b1", 100); // older, but heard second: data may already have come from a1
  expect(names(side.live())).toEqual(["a1", "x"]);
  expect(k.mayAdopt(100)).toBe(false);
  expect(k.mayAdopt(200)).toBe(true);
  expect(k.waitingReason()).toBe("waiting to be added to generation 200");
  k.tick(null);
  const last = sent.filter((s) => s.msg.t === "hello").at(-1)!;
  expect(last.msg["j"]).toBe(200);
  // a1 silent for a while (a pause) but still a live member: kept.
  clock.advance(5_000);
  hello("b1", 100);
  expect(k.mayAdopt(200)).toBe(true);
  // a1's generation gone (its one member dead, b1 still talking): it may choose again.
  w.kill("a1");
  side.refresh();
  expect(k.mayAdopt(100)).toBe(true);
  expect(names(side.live())).toEqual(["b1", "x"]);
});

test("a new member hears this node's side at once, and one heard for the first time is answered", () => {
  const { k, w, sent } = setup("a1", []);
  k.adopt(100);
  w.add(member("a2"));
  expect(sent.map((s) => [s.to, s.msg.t, s.msg["g"]])).toEqual([["a2:1", "hello", 100]]);
  k.onHello("a3:1", { t: "hello", f: "a3", n: "a3", g: 100, r: 0 });
  k.onHello("a3:1", { t: "hello", f: "a3", n: "a3", g: 100, r: 0 });
  expect(sent.filter((s) => s.to === "a3:1").length).toBe(1);
});

test("a generation left knowingly (a peer recovered from it) is never chosen again; the one recovered to is", () => {
  const { k, hello } = setup("a1", [member("a2"), member("a3")]);
  k.adopt(100);
  hello("a3", 100);
  hello("a2", 150, 0, 100); // a2 ended 100 knowingly: recover --force
  expect(k.tick(null)).toBe("ended");
  expect(k.mayAdopt(100)).toBe(false);
  expect(k.mayAdopt(150)).toBe(true);
});
