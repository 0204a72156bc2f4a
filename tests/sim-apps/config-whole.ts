/**
 * When the chaos workload (workload.ts) may inject the next failure: once the
 * last one is repaired, that is, every live node holds data in the
 * configuration and every voter of it is a live incarnation, with as many
 * voters as the leader aims for (README, Tests: one failure at a time).
 *
 * "The configuration" is not only the newest committed one. A Raft
 * configuration takes effect on a node when it is appended, before it
 * commits: a change under way (a leader that dropped a stalled voter, then
 * lost its quorum before the drop committed) is in force on the nodes that
 * appended it, even after the dropped voter came back. Crashing a voter of
 * that smaller configuration loses its majority, and no leader can ever be
 * elected again (soak seeds 402 and 939: {n1,n2,n3} committed, {n1,n2} in
 * force on n2, n1 crashed; n2 needs the dead n1's vote, n3's log is behind
 * n2's). So every configuration appended after the newest committed one
 * must be whole too.
 */
import { targetVoters } from "../../mesh/consensus/reconfigure.ts";
import type { Configuration } from "../../mesh/consensus/types.ts";

export interface LiveConfigs {
  /** Member id of the live process. */
  id: string;
  /** Its newest committed configuration (epoch 0: none yet). */
  committed: Configuration;
  /** The configuration in force on it (its log's last), if it runs the Raft core. */
  inForce?: Configuration;
}

/**
 * The configurations in force: the newest committed one any live node knows
 * (a removed node keeps an old one) and every one appended after it; null
 * before the first commit.
 */
function inForce(live: readonly LiveConfigs[]): Configuration[] | null {
  let c: Configuration | undefined;
  for (const x of live) if (c === undefined || x.committed.epoch > c.epoch) c = x.committed;
  if (c === undefined || c.epoch === 0) return null;
  const newest = c.epoch;
  return [c, ...live.flatMap((x) => (x.inForce !== undefined && x.inForce.epoch > newest ? [x.inForce] : []))];
}

export function configWhole(live: readonly LiveConfigs[], maxVoters: number): boolean {
  const configs = inForce(live);
  if (configs === null) return false;
  const ids = new Set(live.map((x) => x.id));
  const whole = (k: Configuration): boolean => {
    const holders = new Set([...k.voters, ...k.learners].map((x) => x.id));
    // ...and as many voters as it aims for: a learner not yet promoted is no spare voter.
    const enough = k.voters.length >= targetVoters(live.length, maxVoters);
    return enough && k.voters.every((v) => ids.has(v.id)) && [...ids].every((id) => holders.has(id));
  };
  return configs.every(whole);
}

/**
 * Whether crashing `victim` now (one node already down, or `away`: cut off) leaves a majority of
 * voters and of data holders alive in every configuration in force: the
 * newest committed one and every one appended after it. Five voters survive
 * any two of them lost (README: "any two of five"); after one voter of five
 * was dropped, three of the four left are still a majority.
 */
export function survivesSecondLoss(live: readonly LiveConfigs[], victim: string, away?: string): boolean {
  const configs = inForce(live);
  if (configs === null) return false;
  const alive = new Set(live.map((x) => x.id).filter((id) => id !== victim && id !== away));
  const majority = (ids: readonly string[]): boolean => 2 * ids.filter((id) => alive.has(id)).length > ids.length;
  return configs.every((k) => majority(k.voters.map((x) => x.id)) && majority([...k.voters, ...k.learners].map((x) => x.id)));
}
