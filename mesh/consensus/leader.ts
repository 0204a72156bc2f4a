/**
 * A leader's side of replication: follower progress from their answers,
 * commit by quorum (only entries of its own term, Raft's rule), ReadIndex
 * confirmation by a heartbeat round, and building the outgoing appends,
 * heartbeats and snapshot chunks when the driver drains the core.
 */
import { type RaftMsg, toWire } from "./messages.ts";
import { acked, canSend, type Progress, refused, rewind } from "./progress.ts";
import { sent } from "./progress.ts";
import type { RaftCore } from "./raft.ts";
import { isVoter, quorum, type ServerId } from "./types.ts";

export function onAppendReply(r: RaftCore, from: ServerId, m: Extract<RaftMsg, { t: "aer" }>): void {
  if (r.state.role !== "leader") return;
  const p = r.progress.get(from);
  if (p === undefined) return;
  p.active = true;
  p.quietTicks = 0;
  p.heardTicks = 0;
  if (m.ok) {
    if (p.mode.kind === "snapshot" && m.index < p.mode.index) return;
    acked(p, m.index);
    maybeCommit(r);
  } else if (m.index < p.next - 1 || p.mode.kind === "probe") {
    refused(p, m.index);
  }
}

export function onHeartbeatReply(r: RaftCore, from: ServerId, m: Extract<RaftMsg, { t: "hbr" }>): void {
  if (r.state.role !== "leader") return;
  const p = r.progress.get(from);
  if (p === undefined) return;
  p.active = true;
  p.heardTicks = 0;
  if (m.seq > p.seqAck) p.seqAck = m.seq;
  if (p.mode.kind === "probe") p.mode.waiting = false;
  // Appends or a chunk lost with a dropped connection: nothing will answer them.
  if (p.quietTicks > r.opts.heartbeatTicks * 2) {
    if (p.mode.kind === "snapshot") {
      p.mode.sentAt = -1; // resend the chunk at the acknowledged offset
      p.quietTicks = 0;
    } else if (p.match < r.log.lastIndex()) {
      rewind(p);
      p.quietTicks = 0;
    }
  }
  if (isVoter(r.config, from)) confirmReads(r);
}

export function onSnapshotReply(r: RaftCore, from: ServerId, m: Extract<RaftMsg, { t: "isr" }>): void {
  if (r.state.role !== "leader") return;
  const p = r.progress.get(from);
  if (p === undefined || p.mode.kind !== "snapshot" || p.mode.index !== m.index) return;
  p.active = true;
  p.quietTicks = 0;
  p.heardTicks = 0;
  p.mode.acked = m.offset;
  p.mode.sentAt = -1;
}

export function maybeCommit(r: RaftCore): void {
  if (r.state.role !== "leader") return;
  const matches: number[] = [];
  for (const v of r.config.voters) {
    matches.push(v.id === r.id ? r.log.lastIndex() : r.progress.get(v.id)?.match ?? 0);
  }
  if (matches.length === 0) return;
  matches.sort((a, b) => b - a);
  const n = matches[quorum(r.config) - 1]!;
  if (n <= r.commit || r.log.term(n) !== r.term) return;
  r.commit = n;
  confirmReads(r);
  // A leader the committed configuration no longer lists hands over.
  if (!isVoter(r.committedConfig(), r.id)) r.become({ role: "follower", leader: null }, r.term);
}

export function leaderRead(r: RaftCore, ctx: number, from: ServerId | null): void {
  r.reads.add(ctx, from, r.commit);
  r.heartbeatNow = true;
  confirmReads(r);
}

/** Reads whose heartbeat round a quorum answered, once this term committed an entry. */
export function confirmReads(r: RaftCore): void {
  if (r.log.term(r.commit) !== r.term) return;
  const acks: number[] = [];
  for (const v of r.config.voters) {
    acks.push(v.id === r.id ? Number.MAX_SAFE_INTEGER : r.progress.get(v.id)?.seqAck ?? 0);
  }
  acks.sort((a, b) => b - a);
  const confirmed = acks[quorum(r.config) - 1] ?? 0;
  r.reads.confirm(confirmed, r.commit, (to, ctx, index) => r.send(to, { t: "rir", term: r.term, ctx, index }));
}

export function flushLeader(r: RaftCore): void {
  const last = r.log.lastIndex();
  const seq = r.heartbeatNow ? r.reads.nextRound() : 0;
  for (const [id, p] of r.progress) {
    if (p.mode.kind === "snapshot") {
      sendChunk(r, id, p);
    } else {
      while (p.next <= last && canSend(p, r.opts.maxInflight)) {
        if (p.next <= r.log.snapshotIndex()) {
          p.mode = { kind: "snapshot", index: r.snapshot!.index, acked: 0, sentAt: -1 };
          sendChunk(r, id, p);
          break;
        }
        sendAppend(r, id, p, last);
      }
      const told = Math.min(r.commit, p.match);
      if (told > p.sentCommit && canSend(p, r.opts.maxInflight) && p.next > last) sendAppend(r, id, p, last);
    }
    if (seq > 0) r.send(id, { t: "hb", term: r.term, commit: Math.min(r.commit, p.match), seq });
  }
  r.heartbeatNow = false;
  if (seq > 0) confirmReads(r);
}

export function sendAppend(r: RaftCore, to: ServerId, p: Progress, last: number): void {
  const prev = p.next - 1;
  const entries = r.log.slice(p.next, last, r.opts.maxBatch);
  const sentTo = prev + entries.length;
  p.sentCommit = Math.min(r.commit, sentTo);
  r.send(to, { t: "ae", term: r.term, prev, prevTerm: r.log.term(prev)!, entries: entries.map(toWire), commit: r.commit });
  sent(p, sentTo);
}

export function sendChunk(r: RaftCore, to: ServerId, p: Progress): void {
  const snap = r.snapshot;
  if (snap === null || p.mode.kind !== "snapshot") return;
  if (p.mode.index !== snap.index) p.mode = { kind: "snapshot", index: snap.index, acked: 0, sentAt: -1 };
  if (p.mode.sentAt === p.mode.acked) return;
  // Everything acknowledged but the final answer lost: the last chunk again makes the follower answer.
  const offset = p.mode.acked < snap.data.length ? p.mode.acked : Math.max(0, snap.data.length - r.opts.chunkBytes);
  const chunk = snap.data.subarray(offset, Math.min(snap.data.length, offset + r.opts.chunkBytes));
  p.mode.sentAt = p.mode.acked;
  r.send(to, {
    t: "is", term: r.term, index: snap.index, snapTerm: snap.term, config: snap.config, offset, size: snap.data.length, chunk,
  });
}
