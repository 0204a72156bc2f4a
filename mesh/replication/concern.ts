/**
 * How many nodes (this one included) must hold a write before it is
 * acknowledged, for each write concern, given what membership says now.
 */
import type { Member, MembershipView } from "../membership/types.ts";
import type { WriteConcern } from "./types.ts";
import { sameSet } from "./fence.ts";

/**
 * `live`: members alive or suspect, self included. `known`: distinct names of
 * members that have not left, self included; a dead member still counts
 * (against a majority, so two sides of a partition can never both reach
 * one, and for concern 2, so a lone survivor does not ack alone).
 */
export function requiredAcks(concern: WriteConcern, live: number, known: number): number {
  switch (concern) {
    case 1:
      return 1;
    case 2:
      // Two nodes whenever the cluster has two, even while one is dead: an
      // ack from this node alone would not survive its crash. Only a
      // cluster that never had another member acknowledges alone.
      return Math.min(2, Math.max(1, known));
    case "majority":
      return Math.floor(Math.max(1, known) / 2) + 1;
    case "all":
      return Math.max(1, live);
  }
}

export function isWriteConcern(c: unknown): c is WriteConcern {
  return c === 1 || c === 2 || c === "majority" || c === "all";
}

/** Distinct names of members that have not left (self included). */
export function knownNames(members: readonly Member[], self: Member): Set<string> {
  const names = new Set<string>([self.name]);
  const left = new Map<string, boolean>();
  for (const m of members) {
    // A name counts if any of its identities has not left.
    left.set(m.name, (left.get(m.name) ?? true) && m.state === "left");
  }
  for (const [name, allLeft] of left) if (!allLeft) names.add(name);
  return names;
}

/**
 * Member names seen and not known to have left, kept after membership reaps
 * a dead member from its table: a node cut off long enough to see everyone
 * reaped must not start acknowledging writes alone.
 */
export class StickyNames {
  private readonly names = new Set<string>();
  observe(members: readonly Member[], self: Member): Set<string> {
    const now = knownNames(members, self);
    for (const m of members) if (m.state === "left" && !now.has(m.name)) this.names.delete(m.name);
    for (const n of now) this.names.add(n);
    return this.names;
  }
}

/** The number of acks (self included) a write needs under `concern` right now. */
export function requiredNow(concern: WriteConcern, membership: MembershipView, sticky?: StickyNames): number {
  const self = membership.self();
  const liveNames = new Set<string>([self.name]);
  for (const m of membership.live()) liveNames.add(m.name);
  const members = membership.members();
  const known = sticky === undefined ? knownNames(members, self) : sticky.observe(members, self);
  return requiredAcks(concern, liveNames.size, known.size);
}

/**
 * Who must hold a write before it is acknowledged. `holders` null: any
 * `required` nodes, this one included (the membership rule). Set (concern
 * "majority" once the committed configuration is known): `required`
 * distinct names of `holders`; this node counts only if it is one of them,
 * and acks from anyone else do not count.
 */
export interface Quorum {
  readonly required: number;
  readonly holders: ReadonlySet<string> | null;
  readonly selfCounts: boolean;
}

/**
 * The quorum for `concern`. `membershipRequired`: requiredNow()'s answer.
 * Only "majority" moves to the holders of the committed configuration: it is
 * the concern whose acknowledged writes a new owner's catch-up from a
 * majority of holders must see (quorum intersection). 1, 2 and "all" keep
 * their membership meaning (one node; two nodes; every live node).
 */
export function quorumOf(
  concern: WriteConcern,
  membershipRequired: number,
  holders: ReadonlySet<string> | null,
  self: string,
  counting?: ReadonlySet<string>,
): Quorum {
  if (concern !== "majority" || holders === null) return { required: membershipRequired, holders: null, selfCounts: true };
  const count = counting ?? holders;
  return { required: Math.floor(holders.size / 2) + 1, holders: count, selfCounts: count.has(self) };
}

/**
 * The holders whose acks count: those not known to run under another
 * process now than the one the configuration names (`ids`). A holder
 * restarted is an empty process until a configuration names it again; its
 * ack, counted by name, once made a write "acknowledged" by a node frozen
 * across the changes (its configuration old) and that fresh process alone,
 * and the current holders' reads missed it (soak seed 9554). `current`:
 * the process now known under a name. Returns `holders` itself when none
 * is excluded.
 */
export function countingHolders(
  holders: ReadonlySet<string>,
  ids: ReadonlyMap<string, string> | null,
  current: (name: string) => string | undefined,
): ReadonlySet<string> {
  if (ids === null) return holders;
  let out: Set<string> | null = null;
  for (const name of holders) {
    const want = ids.get(name);
    const now = current(name);
    if (want === undefined || now === undefined || now === want) continue;
    out ??= new Set(holders);
    out.delete(name);
  }
  return out ?? holders;
}

export function sameQuorum(a: Quorum, b: Quorum): boolean {
  if (a.required !== b.required || a.selfCounts !== b.selfCounts) return false;
  if (a.holders === null || b.holders === null) return a.holders === b.holders;
  return a.holders === b.holders || sameSet(a.holders, b.holders);
}

/** Whether this node alone meets `q` (no peer needed). */
export function selfSuffices(q: Quorum): boolean {
  return q.selfCounts && q.required <= 1;
}

/** Whether a write acknowledged by the (distinct) names `acked` meets `q`. */
export function meets(acked: readonly string[], q: Quorum): boolean {
  let n = q.selfCounts ? 1 : 0;
  if (q.holders === null) return acked.length + n >= q.required;
  if (n >= q.required) return true;
  for (const name of acked) if (q.holders.has(name) && ++n >= q.required) return true;
  return false;
}
