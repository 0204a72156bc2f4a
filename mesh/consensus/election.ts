/**
 * Elections: pre-vote then vote, the lease that makes a node with a live
 * leader ignore a disruptor, and check-quorum (a leader that has not heard
 * a majority within an election timeout steps down). Functions over the
 * core's state (raft.ts), split out to keep each concern in its file.
 */
import type { RaftMsg } from "./messages.ts";
import type { RaftCore } from "./raft.ts";
import { isVoter, quorum, type ServerId } from "./types.ts";

export function campaign(r: RaftCore, pre: boolean, force: boolean): void {
  const granted = new Set<ServerId>([r.id]);
  if (pre) {
    r.become({ role: "precandidate", granted }, r.term);
  } else {
    r.become({ role: "candidate", granted }, r.term + 1);
    r.votedFor = r.id;
  }
  if (granted.size >= quorum(r.config)) return won(r, pre);
  const term = pre ? r.term + 1 : r.term;
  for (const v of r.config.voters) {
    if (v.id === r.id) continue;
    r.send(v.id, { t: "rv", term, pre, lastIndex: r.log.lastIndex(), lastTerm: r.log.lastTerm(), force });
  }
}

export function won(r: RaftCore, pre: boolean): void {
  if (pre) campaign(r, false, false);
  else r.become({ role: "leader" }, r.term);
}

export function inLease(r: RaftCore): boolean {
  const leader = r.leader();
  return leader !== null && r.electionElapsed < r.opts.electionTicks;
}

export function resetTimeout(r: RaftCore): void {
  const n = r.opts.electionTicks;
  r.timeout = n + Math.floor(r.random.float() * n);
}

export function quorumActive(r: RaftCore): boolean {
  let active = isVoter(r.config, r.id) ? 1 : 0;
  for (const v of r.config.voters) {
    const p = r.progress.get(v.id);
    if (p !== undefined && p.active) active++;
  }
  for (const p of r.progress.values()) p.active = false;
  return active >= quorum(r.config);
}

export function onVote(r: RaftCore, from: ServerId, m: Extract<RaftMsg, { t: "rv" }>): void {
  const leaderless = r.state.role !== "follower" || r.state.leader === null;
  const canVote = r.votedFor === from || (r.votedFor === null && leaderless) || (m.pre && m.term > r.term);
  const upToDate = m.lastTerm > r.log.lastTerm() || (m.lastTerm === r.log.lastTerm() && m.lastIndex >= r.log.lastIndex());
  const granted = canVote && upToDate;
  if (granted && !m.pre) {
    r.votedFor = from;
    r.electionElapsed = 0;
  }
  r.send(from, { t: "rvr", term: m.pre ? (granted ? m.term : r.term) : r.term, pre: m.pre, granted });
}

export function onVoteReply(r: RaftCore, from: ServerId, m: Extract<RaftMsg, { t: "rvr" }>): void {
  const st = r.state;
  if (st.role !== (m.pre ? "precandidate" : "candidate") || !m.granted || !isVoter(r.config, from)) return;
  if (st.role !== "precandidate" && st.role !== "candidate") return;
  st.granted.add(from);
  if (st.granted.size >= quorum(r.config)) won(r, m.pre);
}
