/**
 * When a generation can provably never commit again (the voters that could
 * still answer are fewer than a majority: the others are back under new
 * ids), and what a surviving voter then does (mesh/consensus/generation-over.ts).
 */
import { expect, test } from "bun:test";
import { generationOver, type OverInput } from "../../../mesh/consensus/generation-over.ts";
import type { Configuration, Server } from "../../../mesh/consensus/types.ts";

const s = (name: string, id: string): Server => ({ name, id, address: `${name}:1` });
const G = 7;

/** n1 (a) survives; n2, n3 were b and c, now b2 and c2 (restarted); reports by id. */
function input(o: { config?: Configuration; live?: [string, string][]; reports?: Record<string, [number, number]>; self?: Server; applied?: number; last?: [number, number]; lasts?: Record<string, [number, number]> } = {}): OverInput {
  const live = (o.live ?? [["n1", "a"], ["n2", "b2"], ["n3", "c2"]]).map(([name, id]) => ({ name, id }));
  const reports = o.reports ?? { b2: [0, 0], c2: [0, 0] };
  return {
    self: o.self ?? s("n1", "a"),
    config: o.config ?? { epoch: 3, voters: [s("n1", "a"), s("n2", "b"), s("n3", "c")], learners: [] },
    live,
    report: (id) => {
      if (reports[id] === undefined) return undefined;
      const l = o.lasts?.[id];
      return { generation: reports[id]![0], applied: reports[id]![1], ...(l === undefined ? {} : { last: { term: l[0], index: l[1] } }) };
    },
    generation: G,
    applied: o.applied ?? 10,
    last: o.last === undefined ? undefined : { term: o.last[0], index: o.last[1] },
  };
}

test("two of three voters back under new ids, both in no generation yet: the survivor starts the next generation from its state", () => {
  expect(generationOver(input())).toEqual({ kind: "recover" });
});

test("one of three back under a new id (or two merely down, not back): the generation may still commit, nothing to do", () => {
  expect(generationOver(input({ live: [["n1", "a"], ["n2", "b2"], ["n3", "c"]], reports: { b2: [0, 0], c: [G, 9] } }))).toBeNull();
  expect(generationOver(input({ live: [["n1", "a"]] }))).toBeNull();
});

test("two voters, one back under a new id before it was replaced (a rolling restart too quick): over, the survivor recovers", () => {
  const config = { epoch: 4, voters: [s("n1", "a"), s("n3", "c")], learners: [s("n2", "b2")] };
  const r = input({ config, reports: { b2: [G, 8], c2: [0, 0] } });
  // The learner b2 is of this configuration: its being in this generation shows nothing more.
  expect(generationOver(r)).toEqual({ kind: "recover" });
});

test("the restarted voters already re-added to this generation: it lives, nothing to do", () => {
  expect(generationOver(input({ reports: { b2: [G, 3], c2: [0, 0] } }))).toBeNull();
});

test("the restarted voters all in another generation (started while cut off): join theirs; in two different ones: wait", () => {
  expect(generationOver(input({ reports: { b2: [9, 1], c2: [9, 1] } }))).toEqual({ kind: "join", generation: 9 });
  expect(generationOver(input({ reports: { b2: [9, 1], c2: [0, 0] } }))?.kind).toBe("wait");
  expect(generationOver(input({ reports: { b2: [9, 1], c2: [10, 1] } }))?.kind).toBe("wait");
});

test("not yet heard from every restarted voter: wait", () => {
  expect(generationOver(input({ reports: { b2: [0, 0] } }))?.kind).toBe("wait");
});

test("a node outside this configuration says it is in this generation: it may live on elsewhere (this configuration stale), wait", () => {
  const r = input({ live: [["n1", "a"], ["n2", "b2"], ["n3", "c2"], ["n4", "d"]], reports: { b2: [0, 0], c2: [0, 0], d: [G, 50] } });
  expect(generationOver(r)?.kind).toBe("wait");
});

test("a node outside this configuration in this generation that applied no more than this node (it only took the log's tail) shows nothing: the survivor recovers", () => {
  // Seen on real processes (nemesis seed 1): a recovered generation's voters n3 and n5, its leader n3 appended
  // n1's addition and was killed before it committed; n1 had the tail (applied as far as n5), n3 came back as c2.
  const config = { epoch: 4, voters: [s("n3", "c"), s("n5", "e")], learners: [] };
  const live: [string, string][] = [["n1", "a2"], ["n2", "b2"], ["n3", "c2"], ["n5", "e"]];
  const base = { config, live, self: s("n5", "e"), applied: 6 };
  expect(generationOver(input({ ...base, reports: { a2: [G, 6], b2: [0, 0], c2: [0, 0] } }))).toEqual({ kind: "recover" });
  expect(generationOver(input({ ...base, reports: { a2: [G, 3], b2: [0, 0], c2: [0, 0] } }))).toEqual({ kind: "recover" });
  // Applied one more: it knows an entry committed that this node does not (its addition, a promotion to come): wait.
  expect(generationOver(input({ ...base, reports: { a2: [G, 7], b2: [0, 0], c2: [0, 0] } }))?.kind).toBe("wait");
});

test("an outside node that applied no more still holds the survivor back while a learner of this configuration is not accounted for (it may have been promoted beyond a cut)", () => {
  // Voters n1 (a, self), n2, n3 (back as b2, c2); learner n4 (d) not heard from; n5 (e) outside, in this generation.
  const config = { epoch: 5, voters: [s("n1", "a"), s("n2", "b"), s("n3", "c")], learners: [s("n4", "d")] };
  const live: [string, string][] = [["n1", "a"], ["n2", "b2"], ["n3", "c2"], ["n5", "e"]];
  const reports: Record<string, [number, number]> = { b2: [0, 0], c2: [0, 0], e: [G, 4] };
  expect(generationOver(input({ config, live, reports }))?.kind).toBe("wait");
  // The learner here, in this generation, having applied no more: accounted for.
  const withD: [string, string][] = [...live, ["n4", "d"]];
  expect(generationOver(input({ config, live: withD, reports: { ...reports, d: [G, 10] } }))).toEqual({ kind: "recover" });
  expect(generationOver(input({ config, live: withD, reports: { ...reports, d: [G, 11] } }))?.kind).toBe("wait");
  // The learner back under a new id: accounted for.
  const dBack: [string, string][] = [...live, ["n4", "d2"]];
  expect(generationOver(input({ config, live: dBack, reports: { ...reports, d2: [0, 0] } }))).toEqual({ kind: "recover" });
  // With no outside node in the generation, nothing changes: the survivor recovers.
  expect(generationOver(input({ config, live: [["n1", "a"], ["n2", "b2"], ["n3", "c2"]], reports: { b2: [0, 0], c2: [0, 0] } }))).toEqual({ kind: "recover" });
});

test("of two survivors, the one that applied the most recovers (then the smaller name); the other waits for it", () => {
  const config = { epoch: 3, voters: [s("n1", "a"), s("n2", "b"), s("n3", "c"), s("n4", "d"), s("n5", "e")], learners: [] };
  const live: [string, string][] = [["n1", "a"], ["n2", "b2"], ["n3", "c2"], ["n4", "d2"], ["n5", "e"]];
  const back = { b2: [0, 0], c2: [0, 0], d2: [0, 0] } as Record<string, [number, number]>;
  expect(generationOver(input({ config, live, reports: { ...back, e: [G, 12] }, applied: 10 }))).toEqual({ kind: "wait", why: "the survivor n5 starts the next generation" });
  expect(generationOver(input({ config, live, reports: { ...back, a: [G, 10] }, self: s("n5", "e"), applied: 12 }))).toEqual({ kind: "recover" });
  expect(generationOver(input({ config, live, reports: { ...back, e: [G, 10] }, applied: 10 }))).toEqual({ kind: "recover" }); // a tie: n1 < n5
  expect(generationOver(input({ config, live, reports: back }))?.kind).toBe("wait"); // the other survivor not heard from
});

test("of two survivors, the one with the more up-to-date log recovers (Raft's order: last term, then index), whatever they applied: a recovery keeps the whole log", () => {
  const config = { epoch: 3, voters: [s("n1", "a"), s("n2", "b"), s("n3", "c"), s("n4", "d"), s("n5", "e")], learners: [] };
  const live: [string, string][] = [["n1", "a"], ["n2", "b2"], ["n3", "c2"], ["n4", "d2"], ["n5", "e"]];
  const back = { b2: [0, 0], c2: [0, 0], d2: [0, 0] } as Record<string, [number, number]>;
  // n1 applied more, but n5 holds an entry past n1's log (committed by the dead voters and n5): n5 recovers.
  expect(generationOver(input({ config, live, reports: { ...back, e: [G, 9] }, lasts: { e: [4, 14] }, applied: 12, last: [4, 12] }))).toEqual({ kind: "wait", why: "the survivor n5 starts the next generation" });
  expect(generationOver(input({ config, live, reports: { ...back, a: [G, 12] }, lasts: { a: [4, 12] }, self: s("n5", "e"), applied: 9, last: [4, 14] }))).toEqual({ kind: "recover" });
  // A later term beats a longer log of an earlier one.
  expect(generationOver(input({ config, live, reports: { ...back, e: [G, 9] }, lasts: { e: [3, 20] }, applied: 9, last: [4, 12] }))).toEqual({ kind: "recover" });
  // Equal logs: the smaller name. A survivor from before logs were said: by applied, as before.
  expect(generationOver(input({ config, live, reports: { ...back, e: [G, 12] }, lasts: { e: [4, 12] }, applied: 10, last: [4, 12] }))).toEqual({ kind: "recover" });
  expect(generationOver(input({ config, live, reports: { ...back, e: [G, 12] }, applied: 10, last: [4, 30] }))).toEqual({ kind: "wait", why: "the survivor n5 starts the next generation" });
});

test("with a survivor from before logs were said, every survivor ranks all by applied entries: they all pick the same one", () => {
  // 7 voters, 4 back under new ids; survivors n1 (a), n6 (f), n7 (g, no log said). Ranked pairwise by whatever
  // two of them said, n6 and n7 would each leave it to the other, for good.
  const names = ["n1", "n2", "n3", "n4", "n5", "n6", "n7"];
  const ids = ["a", "b", "c", "d", "e", "f", "g"];
  const config = { epoch: 3, voters: names.map((n, i) => s(n, ids[i]!)), learners: [] };
  const live: [string, string][] = [["n1", "a"], ["n2", "b2"], ["n3", "c2"], ["n4", "d2"], ["n5", "e2"], ["n6", "f"], ["n7", "g"]];
  const back = { b2: [0, 0], c2: [0, 0], d2: [0, 0], e2: [0, 0] } as Record<string, [number, number]>;
  const said = { a: { applied: 5, last: [4, 20] }, f: { applied: 8, last: [4, 10] }, g: { applied: 6, last: undefined } } as Record<string, { applied: number; last: [number, number] | undefined }>;
  const view = (self: string, name: string) => {
    const others = Object.keys(said).filter((id) => id !== self);
    const reports = { ...back, ...Object.fromEntries(others.map((id) => [id, [G, said[id]!.applied] as [number, number]])) };
    const lasts = Object.fromEntries(others.filter((id) => said[id]!.last !== undefined).map((id) => [id, said[id]!.last!]));
    return generationOver(input({ config, live, reports, lasts, self: s(name, self), applied: said[self]!.applied, ...(said[self]!.last === undefined ? {} : { last: said[self]!.last }) }));
  };
  expect(view("a", "n1")).toEqual({ kind: "wait", why: "the survivor n6 starts the next generation" });
  expect(view("f", "n6")).toEqual({ kind: "recover" });
  expect(view("g", "n7")).toEqual({ kind: "wait", why: "the survivor n6 starts the next generation" });
});

test("the recovery keeps the whole log only when every committed entry had a survivor's ack (restarted voters fewer than a majority) and the survivors were ranked by their logs", () => {
  // Two voters, one back under a new id: a majority of two is both, so the survivor acked every committed entry.
  const two = { epoch: 4, voters: [s("n1", "a"), s("n3", "c")], learners: [] };
  expect(generationOver(input({ config: two, live: [["n1", "a"], ["n3", "c2"]], reports: { c2: [0, 0] }, last: [2, 8] }))).toEqual({ kind: "recover", tail: true });
  // Without its log said (a node from before): what it applied, as before.
  expect(generationOver(input({ config: two, live: [["n1", "a"], ["n3", "c2"]], reports: { c2: [0, 0] } }))).toEqual({ kind: "recover" });
  // Two of three back: an entry the two committed may be theirs alone, and the survivor's stale copy of its
  // request (never committed; its client told lot_full by the committed one) must not take effect.
  expect(generationOver(input({ last: [2, 8] }))).toEqual({ kind: "recover" });
  // Four voters, two back: every majority (three) holds a survivor.
  const four = { epoch: 4, voters: [s("n1", "a"), s("n2", "b"), s("n3", "c"), s("n4", "d")], learners: [] };
  const live4: [string, string][] = [["n1", "a"], ["n2", "b2"], ["n3", "c2"], ["n4", "d"]];
  expect(generationOver(input({ config: four, live: live4, reports: { b2: [0, 0], c2: [0, 0], d: [G, 3] }, lasts: { d: [2, 7] }, last: [2, 8] }))).toEqual({ kind: "recover", tail: true });
});

test("a learner never judges (its committed configuration may be an early one it is replaying)", () => {
  expect(generationOver(input({ self: s("n4", "d"), live: [["n2", "b2"], ["n3", "c2"], ["n4", "d"]] }))).toBeNull();
});

test("the keeper acts only once the generation has looked over the same way for overAfterMs, and says so in the log", async () => {
  const { GenerationKeeper } = await import("../../../mesh/consensus/generation.ts");
  const { SimClock } = await import("../../../mesh/sim/clock.ts");
  const live = [["n1", "a"], ["n2", "b2"], ["n3", "c2"]].map(([name, id]) => ({ name: name!, id: id!, address: `${name}:1`, state: "alive", incarnation: 0 }));
  const membership = { self: () => live[0], members: () => live, live: () => live, get: () => undefined, subscribe: () => () => {} } as unknown as import("../../../mesh/membership/types.ts").MembershipView;
  const clock = new SimClock(1_000_000);
  const lines: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => lines.push(m), error: () => {} };
  const k = new GenerationKeeper({ self: s("n1", "a"), membership, clock, logger, mayBootstrapAlone: () => false, send: () => {}, applied: () => 10, overAfterMs: 2_000 });
  k.adopt(G);
  clock.advance(2_000);
  const config: Configuration = { epoch: 3, voters: [s("n1", "a"), s("n2", "b"), s("n3", "c")], learners: [] };
  const core = { committedConfig: () => config, leader: () => null };
  const hellos = () => {
    k.onHello("n2:1", { t: "hello", f: "b2", n: "n2", g: 0, r: 0, a: 0 });
    k.onHello("n3:1", { t: "hello", f: "c2", n: "n3", g: 0, r: 0, a: 0 });
  };
  const verdicts: (string | null)[] = [];
  for (let t = 0; t <= 2_500; t += 500) {
    hellos();
    verdicts.push(k.tick(core));
    clock.advance(500);
  }
  expect(verdicts).toEqual([null, null, null, null, "recover", null]);
  expect(lines).toContain("consensus: most voters of this generation restarted: it can never commit again; starting the next one from this node's state");
  // Re-added to this generation meanwhile (a hello says so): the clock starts over, nothing happens.
  const k2 = new GenerationKeeper({ self: s("n1", "a"), membership, clock, logger, mayBootstrapAlone: () => false, send: () => {}, applied: () => 10, overAfterMs: 2_000 });
  k2.adopt(G);
  clock.advance(2_000);
  k2.onHello("n2:1", { t: "hello", f: "b2", n: "n2", g: 0, r: 0, a: 0 });
  k2.onHello("n3:1", { t: "hello", f: "c2", n: "n3", g: 0, r: 0, a: 0 });
  expect(k2.tick(core)).toBeNull();
  clock.advance(1_500);
  k2.onHello("n2:1", { t: "hello", f: "b2", n: "n2", g: G, r: 0, a: 3 });
  k2.onHello("n3:1", { t: "hello", f: "c2", n: "n3", g: 0, r: 0, a: 0 });
  expect(k2.tick(core)).toBeNull();
  clock.advance(1_000);
  expect(k2.tick(core)).toBeNull();
});

test("a node that recovered a generation takes the peers still in the one it recovered from as about to follow, not as a second cluster (no ERROR)", async () => {
  const { GenerationKeeper } = await import("../../../mesh/consensus/generation.ts");
  const { SimClock } = await import("../../../mesh/sim/clock.ts");
  const live = [["n1", "a"], ["n2", "b"], ["n3", "c"]].map(([name, id]) => ({ name: name!, id: id!, address: `${name}:1`, state: "alive", incarnation: 0 }));
  const membership = { self: () => live[0], members: () => live, live: () => live, get: () => undefined, subscribe: () => () => {} } as unknown as import("../../../mesh/membership/types.ts").MembershipView;
  const clock = new SimClock(1_000_000);
  const errors: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (m: string) => errors.push(m) };
  const k = new GenerationKeeper({ self: s("n1", "a"), membership, clock, logger, mayBootstrapAlone: () => false, send: () => {}, applied: () => 10, overAfterMs: 2_000 });
  k.adopt(G);
  const next = k.recover().generation;
  const core = { committedConfig: () => ({ epoch: 1, voters: [s("n1", "a")], learners: [] }), leader: () => "a" };
  k.onHello("n2:1", { t: "hello", f: "b", n: "n2", g: G, r: 0, a: 9 });
  k.tick(core);
  expect(errors).toEqual([]);
  // A third generation beside it is a split, said once.
  k.onHello("n3:1", { t: "hello", f: "c", n: "n3", g: next + 5, r: 0, a: 1 });
  k.tick(core);
  k.tick(core);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain("another generation is alive beside ours");
});

test("hellos carry the log's last entry, and the keeper ranks survivors by what the others said of theirs", async () => {
  const { GenerationKeeper } = await import("../../../mesh/consensus/generation.ts");
  const { SimClock } = await import("../../../mesh/sim/clock.ts");
  const live = [["n1", "a"], ["n2", "b2"], ["n3", "c2"], ["n4", "d2"], ["n5", "e"]].map(([name, id]) => ({ name: name!, id: id!, address: `${name}:1`, state: "alive", incarnation: 0 }));
  const membership = { self: () => live[0], members: () => live, live: () => live, get: () => undefined, subscribe: () => () => {} } as unknown as import("../../../mesh/membership/types.ts").MembershipView;
  const clock = new SimClock(1_000_000);
  const sent: Record<string, unknown>[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  const k = new GenerationKeeper({ self: s("n1", "a"), membership, clock, logger, mayBootstrapAlone: () => false, send: (_to, m) => void sent.push(m), applied: () => 12, lastLog: () => ({ term: 4, index: 12 }), overAfterMs: 0 });
  k.adopt(G);
  clock.advance(2_000);
  const config: Configuration = { epoch: 3, voters: [s("n1", "a"), s("n2", "b"), s("n3", "c"), s("n4", "d"), s("n5", "e")], learners: [] };
  const core = { committedConfig: () => config, leader: () => null };
  for (const [n, id] of [["n2", "b2"], ["n3", "c2"], ["n4", "d2"]]) k.onHello(`${n}:1`, { t: "hello", f: id!, n: n!, g: 0, r: 0, a: 0 });
  // n5 applied less but holds a longer log: n1 leaves the recovery to it.
  k.onHello("n5:1", { t: "hello", f: "e", n: "n5", g: G, r: 0, a: 9, lt: 4, li: 14 });
  expect(k.tick(core)).toBeNull();
  expect(sent.some((m) => m["lt"] === 4 && m["li"] === 12)).toBe(true);
  // Had it said a shorter log, n1 would start it.
  k.onHello("n5:1", { t: "hello", f: "e", n: "n5", g: G, r: 0, a: 9, lt: 4, li: 11 });
  expect(k.tick(core)).toBe("recover");
});
