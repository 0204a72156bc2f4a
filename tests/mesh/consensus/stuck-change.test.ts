/**
 * mesh/consensus/stuck-change.ts and RaftCore.abandonConfig: a configuration
 * change appended by a leader that can never commit (most of its voters
 * restarted) is given up by that leader alone, never once committed, and the
 * configuration before it is back in force (raft-lot seed 293: n1 appended
 * {n1, n3} with n2 cut off, n3 was killed and restarted, and after the heal
 * n1 and n2 could never elect anyone: n1's log was longer, its configuration
 * needed the old n3). Cores are driven by hand: messages move only when told.
 */
import { expect, test } from "bun:test";
import { RaftCore, defaultRaftOptions } from "../../../mesh/consensus/raft.ts";
import { changeStuck } from "../../../mesh/consensus/stuck-change.ts";
import { type Configuration, ENTRY_CONFIG, type Server } from "../../../mesh/consensus/types.ts";
import { SeededRandom } from "../../../mesh/sim/random.ts";

const srv = (name: string, id = `${name}-1`): Server => ({ id, name, address: name });
const [A, B, C] = [srv("n1"), srv("n2"), srv("n3")];
const THREE: Configuration = { epoch: 1, voters: [A, B, C], learners: [] };

function cores(): Map<string, RaftCore> {
  const m = new Map<string, RaftCore>();
  for (const s of [A, B, C]) m.set(s.id, new RaftCore({ ...defaultRaftOptions, id: s.id, random: new SeededRandom(s.id) }));
  m.get(A.id)!.bootstrap(THREE);
  return m;
}

/** Deliver every message among `up` until none is left (to others: lost). */
function pump(all: Map<string, RaftCore>, up: string[]): void {
  for (let round = 0; round < 50; round++) {
    let moved = false;
    for (const id of up) {
      for (const o of all.get(id)!.takeMessages()) {
        moved = true;
        if (up.includes(o.to)) all.get(o.to)!.step(id, o.msg);
      }
    }
    if (!moved) return;
  }
}

/** n1 leads all three, every entry committed everywhere. */
function leading(): Map<string, RaftCore> {
  const all = cores();
  all.get(A.id)!.campaignNow();
  pump(all, [A.id, B.id, C.id]);
  expect(all.get(A.id)!.state.role).toBe("leader");
  for (let i = 0; i < 5; i++) {
    for (const c of all.values()) c.tick();
    pump(all, [A.id, B.id, C.id]);
  }
  return all;
}

test("a change that only its leader holds, with its other voter restarted, is given up: the earlier configuration is in force again", () => {
  const all = leading();
  const n1 = all.get(A.id)!;
  const before = n1.log.lastIndex();
  // n2 cut off: the leader drops it; the change reaches nobody (n3 dies before it takes it).
  expect(n1.propose({ epoch: 2, voters: [A, C], learners: [] }, ENTRY_CONFIG)).not.toBeNull();
  n1.takeMessages();
  expect(n1.config.epoch).toBe(2);
  expect(n1.commit).toBeLessThan(n1.log.lastIndex());
  // n3 is back under a new id: the change's voters that could answer are n1 alone.
  const live = [A, B, srv("n3", "n3-2")];
  expect(changeStuck(n1.config, n1.committedConfig(), A, live)).toBe(true);
  expect(n1.abandonConfig()).toBe(true);
  expect(n1.config.epoch).toBe(1);
  expect(n1.log.lastIndex()).toBe(before);
  expect(n1.state.role).not.toBe("leader");
  // n1 and n2 now hold equal logs under {n1, n2, n3}: one of them is elected with the other's vote.
  const n2 = all.get(B.id)!;
  for (let t = 0; t < 200 && n1.state.role !== "leader" && n2.state.role !== "leader"; t++) {
    n1.tick();
    n2.tick();
    pump(all, [A.id, B.id]);
  }
  expect([n1.state.role, n2.state.role]).toContain("leader");
});

test("not given up: a change committed, one held by a follower, or one whose voters could still answer", () => {
  const all = leading();
  const n1 = all.get(A.id)!;
  // Committed: n3 took it and answered.
  n1.propose({ epoch: 2, voters: [A, C], learners: [] }, ENTRY_CONFIG);
  pump(all, [A.id, C.id]);
  expect(n1.committedConfig().epoch).toBe(2);
  expect(changeStuck(n1.config, n1.committedConfig(), A, [A, B, srv("n3", "n3-2")])).toBe(false);
  expect(n1.abandonConfig()).toBe(false);

  const all2 = leading();
  const m1 = all2.get(A.id)!;
  const m3 = all2.get(C.id)!;
  m1.propose({ epoch: 2, voters: [A, C], learners: [] }, ENTRY_CONFIG);
  // n3 appends it, its answer lost: on n3 it is in force, not committed, and not n3's own.
  for (const o of m1.takeMessages()) if (o.to === C.id) m3.step(A.id, o.msg);
  m3.takeMessages();
  expect(m3.config.epoch).toBe(2);
  expect(m3.abandonConfig()).toBe(false);
  // Its voters could all still answer (nobody restarted): not stuck.
  expect(changeStuck(m1.config, m1.committedConfig(), A, [A, B, C])).toBe(false);
});

test("a candidate that gives up the change drops the votes it counted under it: it is a follower again", () => {
  const all = leading();
  const n1 = all.get(A.id)!;
  n1.propose({ epoch: 2, voters: [A, C], learners: [] }, ENTRY_CONFIG);
  // Cut off: check-quorum steps it down, and it campaigns under the change.
  for (let t = 0; t < 500 && !["precandidate", "candidate"].includes(n1.state.role); t++) {
    n1.tick();
    n1.takeMessages();
  }
  expect(["precandidate", "candidate"]).toContain(n1.state.role);
  expect(n1.abandonConfig()).toBe(true);
  expect(n1.state.role).toBe("follower");
  expect(n1.config.epoch).toBe(1);
});
