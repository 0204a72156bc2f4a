/**
 * Whether a majority of a configuration's holders caught up for a placement
 * epoch: the consensus leader adds or drops a holder only then, so every
 * acknowledged write stays on a majority through each change; and a change
 * that would drop a majority of the holders is never made while they might
 * still be serving (see below).
 */
import { type Holder, majority } from "./holders.ts";

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
  /** The holders' names of the configuration the leader would propose next, when known. */
  next?: readonly string[],
): boolean {
  const n = new Set(holders.map((h) => h.name)).size;
  const need = majority(n);
  let done = 0;
  let live = 0;
  /** holders (this incarnation, or not known under another) that served the epoch */
  const served = new Set<string>();
  for (const h of holders) {
    const r = h.name === v.self ? (v.selfId === h.id ? v.servedEpoch() : -1) : v.servedBy(h.name, generation);
    // Only the incarnation the configuration holds counts: a restarted node under the same name is not it.
    const here = h.name === v.self ? v.selfId === h.id : v.isLive(h.name) && v.idOf(h.name) === h.id;
    // A holder away counts by its last word unless another process now lives under its name.
    if (r >= epoch && (h.name === v.self || (v.idOf(h.name) ?? h.id) === h.id)) served.add(h.name);
    if (!here) continue;
    live++;
    if (r >= epoch) done++;
  }
  if (done >= need) return true;
  // With no majority of the holders here nobody could catch up. If at least
  // half of them are here, the others cannot be a majority serving or
  // acknowledging from now on (leases and writes need one): a 2-node
  // cluster's voter drops the dead learner; 3 nodes losing n3, then n2,
  // leave n1 serving. If a majority is away they may be alive beyond a cut,
  // serving under an epoch they never saw end: wait for them, or
  // `recover --force`.
  if (!(live < need && 2 * live >= n)) return false;
  // And what was acknowledged before must be where the next configuration's
  // catch-ups and reads look: every majority of the next holders must meet
  // every majority of these holders (writes under this placement), and of
  // the placement before (writes under it that these holders may never have
  // pulled), unless every majority of the next holders holds one that served
  // this epoch (its catch-up pulled those). Without it (SOAK chaos seed 11230,
  // 5 nodes, 3 voters): a cut {n1, n4} | {n2, n3, n5}; the voters' side dropped n3
  // while n2, n3 and n5 acknowledged leaves; healed, the leader dropped n5
  // too, and {n1, n2, n4}'s reads from n1 and n4 missed the leaves.
  if (next === undefined) return false;
  const names = holders.map((h) => h.name);
  if (!quorumsMeet(next, names)) return false;
  const prev = previous === undefined ? [] : previous;
  const nextSet = new Set(next);
  let servedNext = 0;
  for (const s of served) if (nextSet.has(s)) servedNext++;
  // A majority of next misses at most size - majority of them.
  const everyMajorityServed = servedNext > nextSet.size - majority(nextSet.size);
  return prev.length === 0 || everyMajorityServed || quorumsMeet(next, prev);
}

/** Whether every majority of `a` shares a member with every majority of `b` (names). */
export function quorumsMeet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return majority(sa.size) + majority(sb.size) > new Set([...sa, ...sb]).size;
}
