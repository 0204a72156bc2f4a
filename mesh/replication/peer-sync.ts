/**
 * Reconcile the per-peer outboxes with membership's live set: open a link for
 * a peer that came (or came back as a new process: what the old one
 * acknowledged is lost with it, so it is owed those writes again: Outbox.open), close the
 * link of a peer that went.
 */
import type { Member } from "../membership/types.ts";
import type { AntiEntropy } from "./anti-entropy.ts";
import type { Outbox, PeerLink } from "./outbox.ts";

export function reconcileLinks(
  live: readonly Member[],
  self: string,
  outbox: Outbox,
  ae: AntiEntropy,
): { changed: boolean; opened: PeerLink[] } {
  let changed = false;
  const opened: PeerLink[] = [];
  const names = new Set<string>();
  for (const m of live) {
    if (m.name === self) continue;
    names.add(m.name);
    const link = outbox.peers.get(m.name);
    if (link !== undefined && link.id === m.id && link.address === m.address) continue;
    opened.push(outbox.open(m.name, m.id, m.address));
    changed = true;
  }
  for (const name of [...outbox.peers.keys()]) {
    if (names.has(name)) continue;
    outbox.close(name);
    ae.peerGone(name);
    changed = true;
  }
  return { changed, opened };
}
