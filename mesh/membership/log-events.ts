/**
 * Member events as log lines, one per event at INFO, as Serf logs its
 * member-join / -failed / -leave events: an operator reading any node's log
 * sees who joined, who stopped answering, who was declared dead, who left,
 * and who came back, with the address and incarnation that say which
 * process it was. Observes the membership only (subscribe); changes nothing.
 */
import type { Logger } from "../types.ts";
import type { MemberEvent, MembershipView } from "./types.ts";

/** The message of each kind of line (also what tests and operators grep for). */
export const MEMBER_LOG = {
  joined: "member joined",
  rejoined: "member rejoined",
  suspect: "member suspect",
  alive: "member alive",
  dead: "member dead",
  left: "member left",
} as const;

/** Logs `membership`'s events on `logger` from now on; returns the unsubscribe. */
export function logMemberEvents(membership: MembershipView, logger: Logger): () => void {
  // Names heard of before: an "up" for one of them is a return (after dead
  // or left, or a restart under the same name), not a first join.
  const seen = new Set<string>(membership.members().map((m) => m.name));
  return membership.subscribe((ev: MemberEvent) => {
    const m = ev.member;
    const fields: Record<string, unknown> = { member: m.name, address: m.address, incarnation: m.incarnation, id: m.id };
    switch (ev.type) {
      case "up":
        logger.info(seen.has(m.name) ? MEMBER_LOG.rejoined : MEMBER_LOG.joined, fields);
        seen.add(m.name);
        return;
      case "suspect":
        logger.info(MEMBER_LOG.suspect, fields);
        return;
      case "alive":
        // A suspect refuted the suspicion: it was slow, not gone.
        logger.info(MEMBER_LOG.alive, { ...fields, was: "suspect" });
        return;
      case "down": {
        // A new process under the same name is reported as the old one's death first.
        const now = membership.members().find((x) => x.name === m.name);
        if (now !== undefined && now.id !== m.id) fields["replacedBy"] = now.id;
        logger.info(MEMBER_LOG.dead, fields);
        return;
      }
      case "left":
        logger.info(MEMBER_LOG.left, fields);
        return;
    }
  });
}
