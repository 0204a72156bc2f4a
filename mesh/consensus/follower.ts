/**
 * A follower's side of replication: appends (with the log matching check
 * and a hint where to retry), heartbeats (commit and read confirmation),
 * and snapshots received in chunks and installed whole.
 */
import { fromWire, type RaftMsg } from "./messages.ts";
import type { RaftCore } from "./raft.ts";
import type { ServerId, Snapshot } from "./types.ts";

export function follow(r: RaftCore, from: ServerId): void {
  if (r.state.role !== "follower" || r.state.leader !== from) r.become({ role: "follower", leader: from }, r.term);
  r.electionElapsed = 0;
}

export function onAppend(r: RaftCore, from: ServerId, m: Extract<RaftMsg, { t: "ae" }>): void {
  follow(r, from);
  if (m.prev < r.commit) {
    // Partly already committed here: acknowledge what is, the rest comes again.
    const last = Math.min(r.commit, m.prev + m.entries.length);
    if (m.prev + m.entries.length <= r.commit) return r.send(from, { t: "aer", term: r.term, ok: true, index: last });
    const skip = r.commit - m.prev;
    return onAppend(r, from, { ...m, prev: r.commit, prevTerm: m.entries[skip - 1]![0], entries: m.entries.slice(skip) });
  }
  if (r.log.term(m.prev) !== m.prevTerm) {
    return r.send(from, { t: "aer", term: r.term, ok: false, index: hint(r, m.prev) });
  }
  let index = m.prev;
  for (const w of m.entries) {
    index++;
    const have = r.log.term(index);
    if (have === w[0]) continue;
    if (have !== undefined) r.truncate(index);
    r.append(fromWire(w, index));
  }
  const last = m.prev + m.entries.length;
  if (m.commit > r.commit) r.commit = Math.min(m.commit, last);
  r.send(from, { t: "aer", term: r.term, ok: true, index: last });
}

/** Where a refused append should retry from: before the conflicting term. */
export function hint(r: RaftCore, prev: number): number {
  if (prev > r.log.lastIndex()) return r.log.lastIndex();
  const t = r.log.term(prev);
  let i = prev - 1;
  while (i > r.commit && r.log.term(i) === t) i--;
  return i;
}

export function onHeartbeat(r: RaftCore, from: ServerId, m: Extract<RaftMsg, { t: "hb" }>): void {
  follow(r, from);
  const c = Math.min(m.commit, r.log.lastIndex());
  if (c > r.commit) r.commit = c;
  r.send(from, { t: "hbr", term: r.term, seq: m.seq });
}

export function onSnapshotChunk(r: RaftCore, from: ServerId, m: Extract<RaftMsg, { t: "is" }>): void {
  follow(r, from);
  if (m.index <= r.commit) return r.send(from, { t: "aer", term: r.term, ok: true, index: r.commit });
  let inc = r.incoming;
  if (inc === null || inc.index !== m.index) {
    if (m.offset !== 0) return r.send(from, { t: "isr", term: r.term, index: m.index, offset: 0 });
    inc = r.incoming = { index: m.index, chunks: [], received: 0 };
  }
  if (m.offset === inc.received) {
    inc.chunks.push(m.chunk);
    inc.received += m.chunk.length;
  }
  if (inc.received < m.size) return r.send(from, { t: "isr", term: r.term, index: m.index, offset: inc.received });
  const data = new Uint8Array(m.size);
  let at = 0;
  for (const c of inc.chunks) {
    data.set(c, at);
    at += c.length;
  }
  r.incoming = null;
  const snap: Snapshot = { index: m.index, term: m.snapTerm, config: m.config, data };
  r.log.reset(m.index, m.snapTerm);
  r.snapshot = snap;
  r.toInstall = snap;
  r.snapConfig = m.config;
  r.configs = [];
  r.config = m.config;
  r.commit = m.index;
  r.emitted = m.index;
  r.send(from, { t: "aer", term: r.term, ok: true, index: m.index });
}
