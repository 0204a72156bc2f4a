/**
 * When the leader may add or drop a holder (mesh/registry/caught-up.ts): once
 * a majority of the holders caught up for the epoch; with no majority here,
 * only if the holders away could not be a majority serving under this epoch
 * or the one before it (a cut, not deaths, may hide them).
 */
import { describe, expect, test } from "bun:test";
import { type HolderView, majorityCaughtUp, quorumsMeet } from "../../../mesh/registry/caught-up.ts";

const G = 1;

/** This node is n1; `live` are the other members alive; `served` the epoch each said it serves at. */
function view(live: string[], served: Record<string, number>): HolderView {
  return {
    self: "n1",
    selfId: "n1#0",
    isLive: (n) => live.includes(n),
    idOf: (n) => `${n}#0`,
    servedEpoch: () => served["n1"] ?? 0,
    servedBy: (n) => served[n] ?? -1,
  };
}
const holders = (...names: string[]) => names.map((name) => ({ name, id: `${name}#0` }));

describe("majorityCaughtUp", () => {
  test("a majority of the holders serving the epoch: yes", () => {
    expect(majorityCaughtUp(7, holders("n1", "n2", "n3"), G, view(["n2", "n3"], { n1: 7, n2: 7 }))).toBe(true);
    expect(majorityCaughtUp(7, holders("n1", "n2", "n3"), G, view(["n2", "n3"], { n1: 7, n2: 6, n3: 6 }))).toBe(false);
  });

  test("a 2-node cluster whose learner died: the voter may drop it (the other half alone can serve nothing)", () => {
    expect(majorityCaughtUp(3, holders("n1", "n2"), G, view([], { n1: 3 }), ["n1"], ["n1"])).toBe(true);
    // Not knowing what would be proposed, the leader waits.
    expect(majorityCaughtUp(3, holders("n1", "n2"), G, view([], { n1: 3 }), ["n1"])).toBe(false);
  });

  test("holders away that are a majority of this placement's or the one before's: no (they may be serving beyond a cut)", () => {
    // Voters n1..n3, learners n4, n5; a cut {n1, n3} | {n2, n4, n5}. After dropping n4 (epoch 8),
    // the leader must not drop n2 too: n2, n4, n5 are a majority of epoch 7's holders and still served there.
    expect(majorityCaughtUp(8, holders("n1", "n2", "n3", "n5"), G, view(["n3"], { n1: 7, n3: 7 }), ["n1", "n2", "n3", "n4", "n5"], ["n1", "n3", "n5"])).toBe(false);
    // A majority of this placement's holders away: no either.
    expect(majorityCaughtUp(7, holders("n1", "n2", "n3", "n4", "n5"), G, view(["n3"], { n1: 7, n3: 7 }), ["n1", "n2", "n3", "n4", "n5"], ["n1", "n2", "n3", "n4"])).toBe(false);
    // A majority of the placement before away, but a majority of it served this one (so it vouches for no older epoch): yes.
    // 3 nodes: n3 died and was dropped ({n1, n2}: n1 voting, n2 learning), both served that; then n2 died.
    expect(majorityCaughtUp(8, holders("n1", "n2"), G, view([], { n1: 8, n2: 8 }), ["n1", "n2", "n3"], ["n1"])).toBe(true);
    // n1 itself never served 8: its replica may lack what n2 and n3 acknowledged under 7.
    expect(majorityCaughtUp(8, holders("n1", "n2"), G, view([], { n1: 7, n2: 8 }), ["n1", "n2", "n3"], ["n1"])).toBe(false);
    // SOAK chaos seed 11230: holders n1..n5 at 12 (voters n1, n2, n4), cut {n1, n4} | {n2, n3, n5}; the
    // voters' side dropped n3 (13: n1, n2, n4, n5) while the other side acknowledged writes at 12. Healed,
    // n3 is alive again before n2 and n5 are: it must not count as here for 12 (it is no holder of 13,
    // nobody pulls its writes), or n5 is dropped and {n1, n2, n4} serve reads from n1 and n4 alone.
    expect(majorityCaughtUp(13, holders("n1", "n2", "n4", "n5"), G, view(["n3", "n4"], { n1: 12, n4: 12, n3: 12 }), ["n1", "n2", "n3", "n4", "n5"], ["n1", "n2", "n4"])).toBe(false);
    // Half of each away: yes (3 voters and 1 learner, cut 2 | 2; the other two cannot make a majority of either).
    expect(majorityCaughtUp(8, holders("n1", "n2", "n3", "n4"), G, view(["n2"], { n1: 8, n2: 8 }), ["n1", "n2", "n3", "n4"], ["n1", "n2", "n3"])).toBe(true);
  });

  test("with no majority of the holders here, a change whose next holders' majorities could miss writes acknowledged under this placement or the one before: no", () => {
    // A holder added (z) that never served; c died and z is cut off; a and b are half of {a, b, c, z}.
    // A write acknowledged by b and c: dropping c would leave {a, b, z}, whose majority {a, z} lacks it.
    const ab = (live: string[], served: Record<string, number>): HolderView => ({ ...view(live, served), self: "a", selfId: "a#0", servedEpoch: () => served["a"] ?? 0 });
    expect(majorityCaughtUp(9, holders("a", "b", "c", "z"), G, ab(["b"], { a: 8, b: 8 }), ["a", "b", "c"], ["a", "b", "z"])).toBe(false);
    // Half of the previous placement's holders served this epoch, not a majority of these holders: n1..n5, then n6 added;
    // n3, n4, n5 served 9 and are cut off with a write only they hold; dropping n3 leaves it on 2 of 5.
    expect(majorityCaughtUp(9, holders("n1", "n2", "n3", "n4", "n5", "n6"), G, view(["n2", "n6"], { n3: 9, n4: 9, n5: 9 }), ["n1", "n2", "n3", "n4", "n5"], ["n1", "n2", "n4", "n5", "n6"])).toBe(false);
    // A holder back under a new process is not here, nor did it serve: seed 11230's cut with n2 restarted empty.
    const restarted: HolderView = { ...view(["n2", "n4"], { n1: 12, n4: 12, n2: 13 }), idOf: (n) => (n === "n2" ? "n2#1" : `${n}#0`) };
    expect(majorityCaughtUp(13, holders("n1", "n2", "n4", "n5"), G, restarted, ["n1", "n2", "n3", "n4", "n5"], ["n1", "n4", "n5"])).toBe(false);
  });

  test("with no majority of the holders here, a change is allowed when every majority of the next holders holds one that served this epoch", () => {
    // 3 nodes: n3 dropped ({n1, n2} at 8, both served it), then n2 crashed and came back as a new process
    // (its served 8 forgotten under its name): n1 served 8 and is every majority of {n1}: drop n2's old process.
    const back: HolderView = { ...view(["n2"], { n1: 8, n2: -1 }), idOf: (n) => (n === "n2" ? "n2#1" : `${n}#0`) };
    expect(majorityCaughtUp(8, holders("n1", "n2"), G, back, ["n1", "n2", "n3"], ["n1"])).toBe(true);
    // 3 voters and a learner cut 2 | 2 before n3 and n4 said they served 8 (the placement before: n1, n2, n3).
    expect(majorityCaughtUp(8, holders("n1", "n2", "n3", "n4"), G, view(["n2"], { n1: 8, n2: 8 }), ["n1", "n2", "n3"], ["n1", "n2", "n3"])).toBe(true);
  });

  test("quorumsMeet: every majority of one set meets every majority of the other", () => {
    expect(quorumsMeet(["a", "b"], ["a", "b", "c"])).toBe(true);
    expect(quorumsMeet(["a"], ["a", "b"])).toBe(true);
    expect(quorumsMeet(["a"], ["a", "b", "c"])).toBe(false);
    expect(quorumsMeet(["n1", "n2", "n4"], ["n1", "n2", "n3", "n4", "n5"])).toBe(false);
    expect(quorumsMeet(["n1", "n2", "n3"], ["n1", "n2", "n3", "n4"])).toBe(true);
  });
});
