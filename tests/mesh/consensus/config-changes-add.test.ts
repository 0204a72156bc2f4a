/**
 * The leader adds a live member outside the configuration only once it may
 * (mayAdd: it pulled its peers' data, mesh/registry/presync.ts); members
 * already in the configuration are judged as before.
 */
import { expect, test } from "bun:test";
import { ConfigChanges } from "../../../mesh/consensus/config-changes.ts";
import type { RaftCore } from "../../../mesh/consensus/raft.ts";
import type { Configuration, Server } from "../../../mesh/consensus/types.ts";
import type { ConsensusOptions } from "../../../mesh/consensus/driver-types.ts";
import type { MembershipView } from "../../../mesh/membership/types.ts";
import { silentLogger, type Transport } from "../../../mesh/types.ts";

const a: Server = { id: "a1", name: "a", address: "10.0.0.1:1" };
const b: Server = { id: "b1", name: "b", address: "10.0.0.2:1" };

function leaderWith(config: Configuration, proposed: Configuration[]): RaftCore {
  return {
    state: { role: "leader" },
    config,
    commit: 5,
    canChangeConfig: () => true,
    progressOf: () => ({ match: 5 }),
    heardLately: () => false,
    committedConfig: () => config,
    propose: (next: Configuration) => (proposed.push(next), 6),
  } as unknown as RaftCore;
}

function changes(mayAdd: (name: string) => boolean): ConfigChanges {
  const membership = { live: () => [a, b].map((s) => ({ ...s, state: "alive", incarnation: 0 })) } as unknown as MembershipView;
  const o = { membership, transport: { send: () => true } as unknown as Transport, logger: silentLogger, mayAdd } as unknown as ConsensusOptions & { membership: MembershipView; transport: Transport; logger: typeof silentLogger };
  return new ConfigChanges(o, a, () => 1000);
}

test("a live member outside the configuration is added as a learner only once mayAdd says so", () => {
  const config: Configuration = { epoch: 1, voters: [a], learners: [] };
  const proposed: Configuration[] = [];
  let synced = false;
  const c = changes((name) => name === "b" && synced);
  c.tick(leaderWith(config, proposed), 1);
  expect(proposed).toEqual([]);
  synced = true;
  c.tick(leaderWith(config, proposed), 1);
  expect(proposed.map((p) => p.learners.map((s) => s.name))).toEqual([["b"]]);
});

test("a live member already in the configuration counts as live whatever mayAdd says: it is not dropped", () => {
  const config: Configuration = { epoch: 2, voters: [a], learners: [b] };
  const proposed: Configuration[] = [];
  changes(() => false).tick(leaderWith(config, proposed), 1);
  // Two live members: one voter is the target, and the learner stays (a gone one would be dropped).
  expect(proposed).toEqual([]);
  const gone: Configuration = { epoch: 2, voters: [a], learners: [b, { id: "c1", name: "c", address: "10.0.0.3:1" }] };
  changes(() => false).tick(leaderWith(gone, proposed), 1);
  expect(proposed.map((p) => p.learners.map((s) => s.name))).toEqual([["b"]]);
});
