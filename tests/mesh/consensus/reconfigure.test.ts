/**
 * Which one configuration change a leader proposes next (reconfigure.ts):
 * each rule, in its order.
 */
import { describe, expect, test } from "bun:test";
import { nextConfiguration, targetVoters } from "../../../mesh/consensus/reconfigure.ts";
import type { Configuration, Server } from "../../../mesh/consensus/types.ts";

const s = (name: string, gen = 0): Server => ({ id: `${name}#${gen}`, name, address: `${name}:1` });
const [a, b, c, d, e, f] = ["a", "b", "c", "d", "e", "f"].map((n) => s(n)) as [Server, Server, Server, Server, Server, Server];

/** The next configuration's members (its placement stamps are pinned by their own test). */
function bare(c: Configuration | null): Configuration | null {
  if (c === null) return null;
  const { placed: _p, prevPlaced: _pp, prevHolders: _ph, ...rest } = c;
  return rest;
}

function next(config: Configuration, live: Server[], match: Record<string, number> = {}, maxVoters = 5) {
  return bare(nextConfiguration({ config, self: a, live, match: (id) => match[id] ?? 0, commit: 10, maxVoters }));
}

describe("reconfiguration", () => {
  test("the target is odd and at most the maximum", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => targetVoters(n, 5))).toEqual([1, 1, 3, 3, 5, 5, 5]);
    expect(targetVoters(7, 3)).toBe(3);
    expect(targetVoters(2, 1)).toBe(1);
  });

  test("a voter that is gone is dropped first, before anything else", () => {
    const cfg = { epoch: 4, voters: [a, b, c], learners: [d] };
    expect(next(cfg, [a, b, d, e], { [d.id]: 10 })).toEqual({ epoch: 5, voters: [a, b], learners: [d] });
  });

  test("a voter back under a new id is gone: its old id is dropped, the new one comes in as a learner", () => {
    const b2 = s("b", 1);
    const dropped = next({ epoch: 1, voters: [a, b, c], learners: [] }, [a, b2, c])!;
    expect(dropped.voters).toEqual([a, c]);
    const added = next(dropped, [a, b2, c])!;
    expect(added).toEqual({ epoch: 3, voters: [a, c], learners: [b2] });
  });

  test("a learner is promoted only once it matches the commit, and only up to the odd target", () => {
    const cfg = { epoch: 1, voters: [a], learners: [b, c] };
    expect(next(cfg, [a, b, c], { [b.id]: 9, [c.id]: 9 })).toBeNull(); // behind: no promotion
    expect(next(cfg, [a, b, c], { [b.id]: 10, [c.id]: 9 })).toEqual({ epoch: 2, voters: [a, b], learners: [c] });
    // two live: the target is 1 voter, so nobody is promoted
    expect(next({ epoch: 1, voters: [a], learners: [b] }, [a, b], { [b.id]: 10 })).toBeNull();
  });

  test("never more voters than the maximum; the rest stay learners", () => {
    const cfg = { epoch: 1, voters: [a, b, c], learners: [d, e, f] };
    const all = { [d.id]: 10, [e.id]: 10, [f.id]: 10 };
    expect(next(cfg, [a, b, c, d, e, f], all, 3)).toBeNull();
    expect(next(cfg, [a, b, c, d, e, f], all, 5)!.voters).toEqual([a, b, c, d]);
  });

  test("a live member not in the configuration joins as a learner; a learner that is gone is dropped", () => {
    expect(next({ epoch: 1, voters: [a], learners: [] }, [a, b])).toEqual({ epoch: 2, voters: [a], learners: [b] });
    expect(next({ epoch: 2, voters: [a], learners: [b] }, [a])).toEqual({ epoch: 3, voters: [a], learners: [] });
  });

  test("never a configuration whose live voters are no majority of it (it could never commit)", () => {
    // a leader that sees both other voters gone: dropping one would leave it with a dead partner
    expect(next({ epoch: 1, voters: [a, b, c], learners: [] }, [a])).toBeNull();
    // one gone: dropped, the two left are both alive
    expect(next({ epoch: 1, voters: [a, b, c], learners: [] }, [a, b])).toEqual({ epoch: 2, voters: [a, b], learners: [] });
  });
  test("a draining voter is left out of the next configurations but still counts towards committing them", () => {
    // b and c drain at once (not in live, still answering): b is dropped with c's acknowledgement, then c.
    const both = { config: { epoch: 1, voters: [a, b, c], learners: [] }, self: a, live: [a], answering: [a, b, c], match: () => 0, commit: 10, maxVoters: 5 };
    const first = bare(nextConfiguration(both));
    expect(first).toEqual({ epoch: 2, voters: [a, c], learners: [] });
    expect(bare(nextConfiguration({ ...both, config: first!, answering: [a, c] }))).toEqual({ epoch: 3, voters: [a], learners: [] });
    // Without their answers (gone, not draining) neither change could commit.
    expect(bare(nextConfiguration({ ...both, answering: [a] }))).toBeNull();
  });
  test("voters that drain are dropped only after ready learners bring the voters that stay up to their target", () => {
    // {a, b, c} voting, b and c drain, learners d and e live and caught up:
    // d and e are promoted first, then b and c dropped; never {a} alone.
    const ready = (id: string): number => (id === d.id || id === e.id ? 10 : 0);
    const steps: string[] = [];
    let config: Configuration = { epoch: 1, voters: [a, b, c], learners: [d, e] };
    for (let i = 0; i < 6; i++) {
      const answering = [a, d, e, ...config.voters.filter((v) => v.id === b.id || v.id === c.id)];
      const n = bare(nextConfiguration({ config, self: a, live: [a, d, e], answering, match: ready, commit: 10, maxVoters: 5 }));
      if (n === null) break;
      steps.push(n.voters.map((v) => v.name).join(""));
      config = n;
    }
    expect(steps).toEqual(["abcd", "abcde", "acde", "ade"]);
    // A learner behind the log is not waited for: the draining voter is dropped.
    const behind = { config: { epoch: 1, voters: [a, b, c], learners: [d] }, self: a, live: [a, c, d], answering: [a, b, c, d], match: () => 9, commit: 10, maxVoters: 5 };
    expect(bare(nextConfiguration(behind))!.voters).toEqual([a, c]);
    // A voter that is dead (not answering) is dropped first, as before.
    expect(bare(nextConfiguration({ ...behind, answering: [a, c, d], match: () => 10 }))!.voters).toEqual([a, c]);
    // A draining leader counts itself out: the learner is promoted before the other draining voter goes.
    const swap = { config: { epoch: 1, voters: [a, b], learners: [d] }, self: a, live: [a, d], answering: [a, b, d], selfDraining: true, match: () => 10, commit: 10, maxVoters: 5 };
    expect(bare(nextConfiguration(swap))!.voters).toEqual([a, b, d]);
  });
  test("a voter membership holds dead but Raft still hears is kept, unless a newer process took its name", () => {
    // Found by the soak (seed 2544): c cut off, the cut healed, and b killed
    // at once; the leader a, whose membership still held c dead and b alive,
    // appended {a, b}: it could never commit, a could never win without b,
    // and c (its log shorter) could never win without a.
    const cfg = { epoch: 8, voters: [a, b, c], learners: [] };
    const base = { config: cfg, self: a, live: [a, b], answering: [a, b], match: () => 10, commit: 10, maxVoters: 5 };
    expect(bare(nextConfiguration({ ...base, heard: (id) => id === c.id }))).toBeNull();
    // Not heard lately: dropped, as before.
    expect(bare(nextConfiguration({ ...base, heard: () => false }))!.voters).toEqual([a, b]);
    // Heard, but a newer process runs under its name (a restart, or a second process given its --name): dropped.
    const c2 = s("c", 1);
    expect(bare(nextConfiguration({ ...base, live: [a, b, c2], answering: [a, b, c2], heard: (id) => id === c.id }))!.voters).toEqual([a, b]);
  });
  test("a draining leader that is the only voter promotes a caught-up learner first (to hand leadership to)", () => {
    const lone = { config: { epoch: 3, voters: [a], learners: [b] }, self: a, live: [a, b], match: (id: string) => (id === b.id ? 10 : 0), commit: 10, maxVoters: 5 };
    expect(bare(nextConfiguration(lone))).toBeNull(); // two live: the target is one voter
    expect(bare(nextConfiguration({ ...lone, selfDraining: true }))).toEqual({ epoch: 4, voters: [a, b], learners: [] });
    // not before the learner holds the log
    expect(bare(nextConfiguration({ ...lone, selfDraining: true, match: () => 9 }))).toBeNull();
    // another live voter is there to take over: no promotion
    expect(bare(nextConfiguration({ ...lone, config: { epoch: 3, voters: [a, c, d], learners: [b] }, live: [a, b, c, d], selfDraining: true }))).toBeNull();
  });
  test("an even number of voters above three gives one up (to a learner), never the leader, never below three", () => {
    // 4 voters all live: the odd target is 3; the last by name that is not the leader is demoted.
    expect(next({ epoch: 7, voters: [a, b, c, d], learners: [] }, [a, b, c, d])).toEqual({ epoch: 8, voters: [a, b, c], learners: [d] });
    // 2 voters with 2 live: the target is 1, but demotion stops at 3 (a lone voter's restart ends the generation).
    expect(next({ epoch: 3, voters: [a, b], learners: [] }, [a, b])).toBeNull();
    // The leader itself is never the one demoted.
    const fromD = bare(nextConfiguration({ config: { epoch: 7, voters: [a, b, c, d], learners: [] }, self: d, live: [a, b, c, d], match: () => 0, commit: 10, maxVoters: 5 }));
    expect(fromD).toEqual({ epoch: 8, voters: [a, b, d], learners: [c] });
  });
  test("no voter is demoted while another voter is away (gone but still heard): that would spend a live vote", () => {
    // Soak, two at once (seed 2): five voters, c and b crashed together; c
    // still heard (not droppable yet), b not yet known dead. Live {a, b, d, e}
    // made the target 3, and demoting e appended {a, b, c, d}: two of four live.
    const cfg = { epoch: 19, voters: [a, b, c, d, e], learners: [] };
    const base = { config: cfg, self: a, live: [a, b, d, e], match: () => 10, commit: 10, maxVoters: 5 };
    expect(bare(nextConfiguration({ ...base, heard: (id) => id === c.id }))).toBeNull();
    // Once c is dropped (no longer heard), four voters all live: the demotion goes ahead.
    const four = bare(nextConfiguration({ ...base, heard: () => false }))!;
    expect(four.voters).toEqual([a, b, d, e]);
    expect(bare(nextConfiguration({ ...base, config: { ...four, epoch: 20 } }))).toEqual({ epoch: 21, voters: [a, b, d], learners: [e] });
    // Membership still holds b alive but Raft has not heard it: no demotion either.
    expect(bare(nextConfiguration({ ...base, config: { ...four, epoch: 20 }, heard: (id) => id !== b.id }))).toBeNull();
  });
  test("a learner back under a new id: its old id is dropped before the new one comes in (one incarnation per name)", () => {
    // Soak (3 voters of 5, two at once, seed 562): the new e came in first, and
    // the registry, knowing holders by name, never counted e's answers.
    const e2 = s("e", 1);
    const cfg = { epoch: 9, voters: [a, b, c], learners: [d, e] };
    expect(next(cfg, [a, b, c, d, e2])).toEqual({ epoch: 10, voters: [a, b, c], learners: [d] });
    expect(next({ epoch: 10, voters: [a, b, c], learners: [d] }, [a, b, c, d, e2])).toEqual({ epoch: 11, voters: [a, b, c], learners: [d, e2] });
  });
  test("a change of holders is a new placement; a promotion or demotion keeps the placement and the one before it", () => {
    const base: Configuration = { epoch: 4, placed: 3, prevPlaced: 1, voters: [a, b], learners: [c] };
    const promoted = nextConfiguration({ config: base, self: a, live: [a, b, c], match: () => 10, commit: 10, maxVoters: 5 })!;
    expect(promoted).toMatchObject({ epoch: 5, placed: 3, prevPlaced: 1, voters: [a, b, c], learners: [] });
    const added = nextConfiguration({ config: promoted, self: a, live: [a, b, c, d], match: () => 0, commit: 10, maxVoters: 5 })!;
    expect(added).toMatchObject({ epoch: 6, placed: 6, prevPlaced: 3, prevHolders: ["a", "b", "c"], learners: [d] });
    // An entry written before placements existed counts as placed at its own epoch.
    const old: Configuration = { epoch: 2, voters: [a], learners: [] };
    expect(nextConfiguration({ config: old, self: a, live: [a, b], match: () => 0, commit: 10, maxVoters: 5 })).toMatchObject({ epoch: 3, placed: 3, prevPlaced: 2 });
  });
});
