/**
 * Whether a majority of a configuration's holders caught up for a placement
 * epoch: the consensus leader adds or drops a holder only then, so every
 * acknowledged write stays on a majority through each change; and a change
 * that would drop a majority of the holders is never made while they might
 * still be serving (see below).
 */
import type { Holder } from "./holders.ts";

export interface HolderView {
  self: string;
  selfId: string;
  isLive(name: string): boolean;
  idOf(name: string): string | undefined;
  /** The epoch this node serves at. */
  servedEpoch(): number;
  /** The epoch `name` said (in its lease pongs) it serves at, in generation `g`. */
  servedBy(name: string, g: number): number;
}

export function majorityCaughtUp(
  epoch: number,
  holders: readonly Holder[],
  generation: number,
  v: HolderView,
  /** The holders' names at the placement before (the configuration's prevHolders), when known. */
  previous?: readonly string[],
): boolean {
  const n = new Set(holders.map((h) => h.name)).size;
  const need = Math.floor(n / 2) + 1;
  let done = 0;
  let live = 0;
  for (const h of holders) {
    // Only the incarnation the configuration holds counts: a restarted node under the same name is not it.
    const here = h.name === v.self ? v.selfId === h.id : v.isLive(h.name) && v.idOf(h.name) === h.id;
    if (!here) continue;
    live++;
    const r = h.name === v.self ? v.servedEpoch() : v.servedBy(h.name, generation);
    if (r >= epoch) done++;
  }
  if (done >= need) return true;
  // With no majority of the holders here nobody could catch up. If at least
  // half of them are here, and of the placement's before, the others cannot
  // be a majority serving or acknowledging under either (leases and writes
  // need one), so drop them: a 2-node cluster's voter drops the dead learner.
  // If a majority is away they may be alive beyond a cut, serving under an
  // epoch they never saw end: with learners, a cut can leave the voters'
  // majority on one side and the holders' on the other ({n1, n3} |
  // {n2, n4, n5} with voters n1..n3), and dropping them made both sides
  // serve (stale reads, one room served twice; found by the soak with 3
  // voters of 5). Wait for them, or `recover --force`. The placement before
  // is over once a majority of its holders served this one (they vouch for
  // no older epoch since): 3 nodes losing n3, then n2, leave n1 serving.
  // Only holders of this configuration count as here for the placement before: one it dropped
  // may be alive again but took part in writes the others never pulled (SOAK chaos seed 11230:
  // n3, dropped while cut off with n2 and n5, acknowledged leaves with them; back, it counted
  // as here, n5 was dropped, and {n1, n2, n4}'s reads from n1 and n4 missed the leaves).
  const inConfig = new Set(holders.map((h) => h.name));
  const here = (name: string): boolean => name === v.self || (inConfig.has(name) && v.isLive(name));
  const servedHere = (name: string): boolean => (name === v.self ? v.servedEpoch() : v.servedBy(name, generation)) >= epoch;
  const prev = previous === undefined ? [] : [...new Set(previous)];
  const beforeOver = prev.length === 0 || 2 * prev.filter(here).length >= prev.length || 2 * prev.filter(servedHere).length > prev.length;
  return live < need && 2 * live >= n && beforeOver;
}
