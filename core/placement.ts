/**
 * Rendezvous (highest-random-weight) hashing: a name belongs to the member
 * with the largest weight(name, member). Removing a member moves only the
 * names it owned (each to its runner-up); adding one moves only the names it
 * now wins. Pure and deterministic: every node computes the same owner from
 * the same member list, whatever its order. Equal weights (a 2^-32 chance per
 * pair) go to the member whose name sorts first.
 */
import { fmix32, hash32, mixWord } from "./hash.ts";

// Members hash with their own seed, so a member named like a name does not
// get correlated weights.
const MEMBER_SEED = 0x2545f491;

/** The weight of a member (hash `mh`) for a name (hash `nh`). */
function weight(nh: number, mh: number): number {
  return fmix32(mixWord(mixWord(0x6a09e667, nh), mh));
}

/** Whether member `a` (weight `wa`) ranks before `b` (weight `wb`). */
function before(wa: number, a: string, wb: number, b: string): boolean {
  return wa !== wb ? wa > wb : a < b;
}

/** The member that owns `name`, or undefined when there are none. */
export function ownerOf(name: string, members: readonly string[]): string | undefined {
  const nh = hash32(name);
  let best: string | undefined;
  let bestW = 0;
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    const w = weight(nh, hash32(m, MEMBER_SEED));
    if (best === undefined || before(w, m, bestW, best)) {
      best = m;
      bestW = w;
    }
  }
  return best;
}

/**
 * Distinct members ordered by weight for `name`, best first: the owner, then
 * where the name goes if the owner leaves (successor, handoff target), and so
 * on. At most `k` of them (all by default).
 */
export function rankOwners(name: string, members: readonly string[], k = members.length): string[] {
  return rank(hash32(name), members, members.map((m) => hash32(m, MEMBER_SEED)), k);
}

function rank(nh: number, members: readonly string[], mhs: ArrayLike<number>, k: number): string[] {
  if (k <= 0 || members.length === 0) return [];
  const order = members.map((m, i) => ({ m, w: weight(nh, mhs[i]!) }));
  order.sort((a, b) => (a.w !== b.w ? b.w - a.w : a.m < b.m ? -1 : a.m > b.m ? 1 : 0));
  const out: string[] = [];
  for (let i = 0; i < order.length && out.length < k; i++) {
    const m = order[i]!.m;
    if (i === 0 || m !== order[i - 1]!.m) out.push(m);
  }
  return out;
}

/**
 * The same answers for a fixed member list, with the members' hashes computed
 * once: for callers that place many names between membership changes.
 */
export class Placement {
  readonly members: readonly string[];
  private readonly mhs: Uint32Array;

  constructor(members: readonly string[]) {
    this.members = [...members];
    this.mhs = Uint32Array.from(this.members, (m) => hash32(m, MEMBER_SEED));
  }

  ownerOf(name: string): string | undefined {
    const nh = hash32(name);
    const members = this.members;
    let best: string | undefined;
    let bestW = 0;
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      const w = weight(nh, this.mhs[i]!);
      if (best === undefined || before(w, m, bestW, best)) {
        best = m;
        bestW = w;
      }
    }
    return best;
  }

  rankOwners(name: string, k = this.members.length): string[] {
    return rank(hash32(name), this.members, this.mhs, k);
  }
}
