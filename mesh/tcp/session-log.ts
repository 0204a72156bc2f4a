/**
 * What the transport says about its sessions: a session as a PeerInfo, and
 * how a session's end is logged and counted (a bad frame, a refusal, a
 * duplicate kept quiet), and how peer changes reach their watchers.
 */
import type { Clock, Logger } from "../types.ts";
import type { Session, SessionEnd } from "./session.ts";
import type { PeerChange, PeerInfo, TcpTransportStats } from "./types.ts";

/** Accepted sessions still in their handshake, of every lane's sessions given. */
export function handshaking(...lanes: Iterable<Session>[]): number {
  let n = 0;
  for (const sessions of lanes) for (const s of sessions) if (!s.isOpen && s.role === "acceptor") n++;
  return n;
}

/** The peers of `links` with an open connection, sorted by address. */
export function openPeers(links: Iterable<{ conn: Session | null }>): PeerInfo[] {
  const out: PeerInfo[] = [];
  for (const link of links) if (link.conn) out.push(peerInfo(link.conn));
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

export function peerInfo(s: Session): PeerInfo {
  const p = s.peer!;
  return { name: p.name, id: p.id, address: p.address, direction: s.role === "dialer" ? "out" : "in" };
}

/** Log (and count) how `s` ended; `closing`: the transport is closing, so nothing is a failure. */
export function reportEnd(
  s: Session,
  end: SessionEnd,
  counters: Pick<TcpTransportStats, "frameErrors" | "authFailures">,
  log: Logger,
  closing: boolean,
): void {
  const fields = { peer: s.peer?.address ?? s.conn.remote, remote: s.conn.remote, reason: end.reason };
  if (end.phase === "open") {
    if (end.kind === "frame") {
      counters.frameErrors++;
      log.warn("mesh: closed connection on a bad frame", fields);
    }
    return;
  }
  if (end.refuse === "duplicate" || end.kind === "local" || closing) {
    log.debug("mesh: connection not kept", fields);
  } else if (end.kind === "refused" || end.kind === "frame") {
    if (end.refuse !== "self") counters.authFailures++;
    log.warn("mesh: refused peer", fields);
  } else if (end.kind === "peer-refused") {
    log.warn("mesh: peer refused us", fields);
  } else {
    log.debug("mesh: connection failed during handshake", fields);
  }
}

/** Resolve when `p` does or after `ms` on `clock`, whichever is first. */
export function within(clock: Clock, p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = clock.setTimer(ms, resolve);
    p.then(() => {
      timer.cancel();
      resolve();
    }, resolve);
  });
}

/** Tells every watcher of peer changes; one that throws is logged and the rest still hear it. */
export function tellWatchers(watchers: Iterable<(c: PeerChange) => void>, change: PeerChange, log: Logger): void {
  for (const fn of watchers) {
    try {
      fn(change);
    } catch (err) {
      log.error("mesh: peer-change listener threw", { error: (err as Error).message });
    }
  }
}
