/**
 * How many nodes (this one included) must hold a write before it is
 * acknowledged, for each write concern, given what membership says now.
 */
import type { Member, MembershipView } from "../membership/types.ts";
import type { WriteConcern } from "./types.ts";

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
