/**
 * A configuration change that can never commit. With one-server changes a
 * configuration is in force once appended; if most of its voters then
 * restart (new processes, new ids: their old ids never answer again), it
 * can never be committed, and its leader, once it steps down, holds a
 * longer log than the voters of the configuration before it, who then
 * cannot elect anyone either: a 3-node cluster with n2 cut off whose leader
 * n1 appended {n1, n3} just before n3 was killed and restarted stayed
 * leaderless after the heal, for good (raft-lot seed 293). Such a change is
 * given up (RaftCore.abandonConfig: only by the leader that appended it,
 * never once committed), and the configuration before it is back in force.
 */
import type { Configuration, Server } from "./types.ts";
import { restartedVoter } from "./generation-over.ts";

/** Whether `latest` (in force, not committed) can never commit: fewer of its voters than a majority could still answer. */
export function changeStuck(latest: Configuration, committed: Configuration, self: Server, live: readonly { id: string; name: string }[]): boolean {
  if (latest.epoch === committed.epoch) return false;
  const could = latest.voters.filter((v) => !restartedVoter(v, self.id, live)).length;
  return could < Math.floor(latest.voters.length / 2) + 1;
}
