/**
 * Whether a majority of a configuration's holders caught up for a placement
 * epoch: the consensus leader adds or drops a holder only then, so every
 * acknowledged write stays on a majority through each change.
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

export function majorityCaughtUp(epoch: number, holders: readonly Holder[], generation: number, v: HolderView): boolean {
  const need = Math.floor(new Set(holders.map((h) => h.name)).size / 2) + 1;
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
  // With a majority of the holders gone nobody could catch up: do not
  // block the changes that drop them (writes are unavailable meanwhile).
  return done >= need || live < need;
}
