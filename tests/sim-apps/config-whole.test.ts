/**
 * The chaos workload's "last failure repaired" rule (config-whole.ts): a
 * configuration change appended but not yet committed is in force, so a
 * crash must wait for it. Soak seeds 402 and 939 crashed n1 while n2 had
 * appended {n1,n2} (dropping n3, stalled then back) over the committed
 * {n1,n2,n3}: n2 then needed the dead n1's vote and n3's log was behind
 * n2's, so no leader was ever elected and the restarted n1 never ready.
 */
import { describe, expect, test } from "bun:test";
import type { Configuration, Server } from "../../mesh/consensus/types.ts";
import { configWhole, survivesSecondLoss } from "./config-whole.ts";

const s = (name: string, id = `${name}#0`): Server => ({ id, name, address: `${name}:4370` });
const [n1, n2, n3] = [s("n1"), s("n2"), s("n3")];
const e5: Configuration = { epoch: 5, placed: 4, voters: [n1, n2, n3], learners: [] };
/** The leader n1 dropped n3 (declared dead during a stall); appended on n1 and n2, never committed. */
const e6: Configuration = { epoch: 6, placed: 6, prevPlaced: 4, voters: [n1, n2], learners: [] };

describe("configWhole: when the chaos workload may inject the next failure", () => {
  test("committed {n1,n2,n3}, all live, nothing under way: whole", () => {
    expect(configWhole([n1, n2, n3].map((x) => ({ id: x.id, committed: e5, inForce: e5 })), 5)).toBe(true);
  });

  test("committed {n1,n2,n3}, all live, but {n1,n2} appended on n2 (in force there): not whole", () => {
    const live = [
      { id: n1.id, committed: e5, inForce: e6 },
      { id: n2.id, committed: e5, inForce: e6 },
      { id: n3.id, committed: e5, inForce: e5 },
    ];
    expect(configWhole(live, 5)).toBe(false);
    // Only on n2 (n1's copy is what a crash would take away): still not whole.
    expect(configWhole([{ ...live[0]!, inForce: e5 }, live[1]!, live[2]!], 5)).toBe(false);
  });

  test("a promotion under way: not whole until it commits; once it commits on one node, older in-force configurations elsewhere do not matter", () => {
    const e7: Configuration = { epoch: 7, placed: 6, prevPlaced: 4, voters: [n1, n2], learners: [n3] };
    const e8: Configuration = { epoch: 8, placed: 6, prevPlaced: 4, voters: [n1, n2, n3], learners: [] };
    const live = [
      { id: n1.id, committed: e7, inForce: e8 },
      { id: n2.id, committed: e7, inForce: e8 },
      { id: n3.id, committed: e7, inForce: e7 },
    ];
    // The committed e7 has two voters of the three it aims for: not whole, whatever is under way.
    expect(configWhole(live, 5)).toBe(false);
    // Once e8 commits on one node, the others' older in-force configurations do not matter.
    expect(configWhole([{ ...live[0]!, committed: e8 }, live[1]!, live[2]!], 5)).toBe(true);
  });

  test("a voter that is a dead incarnation, or a live node outside the configuration: not whole", () => {
    const n1b = s("n1", "n1#1");
    expect(configWhole([{ id: n1b.id, committed: { epoch: 0, voters: [], learners: [] } }, ...[n2, n3].map((x) => ({ id: x.id, committed: e5, inForce: e5 }))], 5)).toBe(false);
    const e9: Configuration = { epoch: 9, placed: 9, voters: [n1, n2, n3], learners: [n1b] };
    expect(configWhole([n2, n3, n1b].map((x) => ({ id: x.id, committed: e9, inForce: e9 })), 5)).toBe(false);
  });
});

describe("survivesSecondLoss: when the chaos workload may crash a second node of five", () => {
  const [m1, m2, m3, m4, m5] = [s("m1"), s("m2"), s("m3"), s("m4"), s("m5")];
  const all: Configuration = { epoch: 3, placed: 3, voters: [m1, m2, m3, m4, m5], learners: [] };
  const liveOf = (xs: Server[], inForce = all) => xs.map((x) => ({ id: x.id, committed: all, inForce }));

  test("five voters, m5 down: losing m4 leaves three of five", () => {
    expect(survivesSecondLoss(liveOf([m1, m2, m3, m4]), m4.id)).toBe(true);
  });

  test("five voters, m4 and m5 down: a third loss leaves two of five", () => {
    expect(survivesSecondLoss(liveOf([m1, m2, m3]), m3.id)).toBe(false);
  });

  test("three voters of five, m5 (a voter) down: losing another voter leaves one of three", () => {
    const three: Configuration = { epoch: 4, placed: 4, voters: [m1, m2, m5], learners: [m3, m4] };
    const live = [m1, m2, m3, m4].map((x) => ({ id: x.id, committed: three, inForce: three }));
    expect(survivesSecondLoss(live, m2.id)).toBe(false);
    expect(survivesSecondLoss(live, m3.id)).toBe(true);
  });

  test("an appended drop of m5 counts: {m1..m4} in force on m1, losing m4 leaves three of four", () => {
    const four: Configuration = { epoch: 4, placed: 4, prevPlaced: 3, voters: [m1, m2, m3, m4], learners: [] };
    const live = [m1, m2, m3, m4].map((x) => ({ id: x.id, committed: all, inForce: x === m1 ? four : all }));
    expect(survivesSecondLoss(live, m4.id)).toBe(true);
    // A smaller one appended on m1 (m2, m3 made learners, say) that still counts the down m5: losing m4 leaves one of three.
    const three: Configuration = { epoch: 5, placed: 5, prevPlaced: 4, voters: [m1, m4, m5], learners: [m2, m3] };
    const live3 = [m1, m2, m3, m4].map((x) => ({ id: x.id, committed: all, inForce: x === m1 ? three : all }));
    expect(survivesSecondLoss(live3, m4.id)).toBe(false);
  });
});
