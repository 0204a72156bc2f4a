/** The two comparisons of an anti-entropy round, as pure functions over digest arrays. */
import { MINE, PRINTED, THEIRS } from "../../core/crdt/lww-map.ts";

/**
 * The buckets whose digests differ (two 32-bit words per bucket). Where the
 * initiator holds something they need our leaf digests (`diff`); where it
 * holds nothing (an empty joiner) every leaf we fill differs (`empty`).
 */
export function differingBuckets(mine: ArrayLike<number>, theirs: ArrayLike<number>, buckets: number): { diff: number[]; empty: number[] } {
  const diff: number[] = [];
  const empty: number[] = [];
  for (let b = 0; b < buckets; b++) {
    if (mine[2 * b] === theirs[2 * b] && mine[2 * b + 1] === theirs[2 * b + 1]) continue;
    if (theirs[2 * b] === 0 && theirs[2 * b + 1] === 0) empty.push(b);
    else diff.push(b);
  }
  return { diff, empty };
}

/**
 * What to ask of the responder per leaf: leaves only it fills, all its
 * entries (`full`); leaves both fill, only what our prints lack (`printed`,
 * `both` of them).
 */
export function splitWanted(want: Uint8Array): { full: Uint8Array; printed: Uint8Array; both: number } {
  const full = new Uint8Array(want.length);
  const printed = new Uint8Array(want.length);
  let both = 0;
  for (let k = 0; k < want.length; k++) {
    const f = want[k]! & (THEIRS | MINE);
    if (f === THEIRS) full[k] = 1;
    else if (f === (THEIRS | MINE)) (printed[k] = PRINTED), both++;
  }
  return { full, printed, both };
}
