/**
 * The Raft core, as etcd-io/raft builds it: a pure state machine driven by
 * `tick()` and `step()`; it never touches a clock, a socket or a timer. Its
 * outputs are drained by the driver (driver.ts): messages to send, entries
 * that became committed, read states, a snapshot to install.
 *
 * What it does: leader election with pre-vote and check-quorum (a node that
 * was cut off cannot disrupt a healthy leader when it comes back; a leader
 * that cannot hear a majority steps down), log replication with batching and
 * a pipeline window per follower, commit, linearizable reads by ReadIndex
 * (the leader confirms it still leads with one heartbeat round, batched over
 * every read waiting), one-server-at-a-time configuration changes that take
 * effect when appended (Ongaro's thesis, 4.1, with the fix of 4.1.3: a leader
 * changes the configuration only after committing an entry of its term),
 * voters and learners, snapshots sent in chunks, and leadership transfer.
 *
 * Roles and their data are a union (types.ts RoleState); every change of role
 * goes through `become()`.
 */
import type { Random } from "../types.ts";
import { RaftLog } from "./log.ts";
import { fromWire, type Outbound, type RaftMsg, toWire } from "./messages.ts";
import { acked, canSend, newProgress, type Progress, refused, rewind, sent } from "./progress.ts";
import { ReadQueue } from "./reads.ts";
import {
  type Configuration,
  ENTRY_CONFIG,
  ENTRY_NOOP,
  type Entry,
  type EntryKind,
  isMember,
  isVoter,
  quorum,
  type ReadState,
  type RoleState,
  type ServerId,
  servers,
  type Snapshot,
} from "./types.ts";

export interface RaftOptions {
  id: ServerId;
  random: Random;
  /** Base election timeout in ticks; each round draws from [n, 2n). */
  electionTicks: number;
  heartbeatTicks: number;
  /** Entries per append message. */
  maxBatch: number;
  /** Appends in flight per follower. */
  maxInflight: number;
  /** Bytes per snapshot chunk. */
  chunkBytes: number;
}

export const defaultRaftOptions = { electionTicks: 10, heartbeatTicks: 2, maxBatch: 512, maxInflight: 64, chunkBytes: 64 * 1024 };

const EMPTY_CONFIG: Configuration = { epoch: 0, voters: [], learners: [] };

export class RaftCore {
  readonly id: ServerId;
  readonly log = new RaftLog();
  term = 0;
  votedFor: ServerId | null = null;
  state: RoleState = { role: "follower", leader: null };
  commit = 0;
  /** The configuration in force: the last one in the log, committed or not. */
  config: Configuration = EMPTY_CONFIG;
  #opts: RaftOptions;
  #random: Random;
  /** Configuration entries above the snapshot, in log order. */
  #configs: { index: number; config: Configuration }[] = [];
  #snapConfig: Configuration = EMPTY_CONFIG;
  #snapshot: Snapshot | null = null;
  /** A snapshot received whole, for the driver to install. */
  #toInstall: Snapshot | null = null;
  #incoming: { index: number; chunks: Uint8Array[]; received: number } | null = null;
  #emitted = 0;
  #progress = new Map<ServerId, Progress>();
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #timeout = 0;
  #out: Outbound[] = [];
  #reads = new ReadQueue();
  #heartbeatNow = false;

  constructor(opts: RaftOptions) {
    this.id = opts.id;
    this.#opts = opts;
    this.#random = opts.random;
    this.#resetTimeout();
  }

  /** Start a new cluster with `config` (its first entry, committed at once). */
  bootstrap(config: Configuration): void {
    if (this.log.lastIndex() !== 0) throw new Error("raft: bootstrap of a non-empty log");
    this.term = 1;
    this.log.append({ term: 1, index: 1, kind: ENTRY_CONFIG, data: config });
    this.#configs.push({ index: 1, config });
    this.config = config;
    this.commit = 1;
  }

  /** Campaign at once (a node that just bootstrapped alone need not wait out a timeout). */
  campaignNow(): void {
    if (isVoter(this.config, this.id) && this.state.role !== "leader") this.#campaign(false, true);
  }

  leader(): ServerId | null {
    return this.state.role === "leader" ? this.id : this.state.role === "follower" ? this.state.leader : null;
  }

  /** The last configuration entry at or below the commit index. */
  committedConfig(): Configuration {
    let c = this.#snapConfig;
    for (const e of this.#configs) if (e.index <= this.commit) c = e.config;
    return c;
  }

  /** A configuration change may be proposed now (one at a time, after a commit in this term). */
  canChangeConfig(): boolean {
    if (this.state.role !== "leader" || this.log.term(this.commit) !== this.term) return false;
    const last = this.#configs[this.#configs.length - 1];
    return last === undefined || last.index <= this.commit;
  }

  progressOf(id: ServerId): Readonly<Progress> | undefined {
    return this.#progress.get(id);
  }

  // --- inputs -------------------------------------------------------------

  tick(): void {
    this.#electionElapsed++;
    if (this.state.role === "leader") {
      for (const p of this.#progress.values()) p.quietTicks++;
      if (++this.#heartbeatElapsed >= this.#opts.heartbeatTicks) {
        this.#heartbeatElapsed = 0;
        this.#heartbeatNow = true;
      }
      if (this.#electionElapsed >= this.#opts.electionTicks) {
        this.#electionElapsed = 0;
        if (!this.#quorumActive()) {
          this.#become({ role: "follower", leader: null }, this.term);
          return;
        }
      }
      return;
    }
    if (this.#electionElapsed >= this.#timeout && isVoter(this.config, this.id)) this.#campaign(true, false);
  }

  /** Append a command (leader only). Its index, or null when not the leader. */
  propose(data: unknown, kind: EntryKind = 1): number | null {
    if (this.state.role !== "leader") return null;
    if (kind === ENTRY_CONFIG) {
      if (!this.canChangeConfig()) return null;
    }
    const index = this.log.lastIndex() + 1;
    this.#append({ term: this.term, index, kind, data });
    this.#maybeCommit();
    return index;
  }

  /** Ask for a read index; the answer comes out of `takeReads()` (index -1: retry later). */
  readIndex(ctx: number): void {
    const st = this.state;
    if (st.role === "leader") {
      this.#leaderRead(ctx, null);
    } else if (st.role === "follower" && st.leader !== null) {
      this.#reads.forwarded(ctx);
      this.#send(st.leader, { t: "ri", term: this.term, ctx });
    } else {
      this.#reads.fail(ctx);
    }
  }

  /** Hand leadership to `to` (an up-to-date voter): it campaigns at once. */
  transferTo(to: ServerId): boolean {
    if (this.state.role !== "leader" || !isVoter(this.config, to)) return false;
    const p = this.#progress.get(to);
    if (p === undefined || p.match !== this.log.lastIndex()) return false;
    this.#send(to, { t: "tn", term: this.term });
    return true;
  }

  step(from: ServerId, m: RaftMsg): void {
    if (m.term > this.term) {
      if (m.t === "rv" && !m.force && this.#inLease()) return; // a leader is alive: ignore the disruptor
      if (m.t === "rv" && m.pre) {
        // a pre-vote never changes our term
      } else if (m.t === "rvr" && m.pre && m.granted) {
        // granted for term + 1, which we have not started yet
      } else {
        const leads = m.t === "ae" || m.t === "hb" || m.t === "is";
        this.#become({ role: "follower", leader: leads ? from : null }, m.term);
      }
    } else if (m.term < this.term) {
      // A stale leader learns our term from the answer and steps down.
      if (m.t === "ae" || m.t === "hb" || m.t === "is") this.#send(from, { t: "aer", term: this.term, ok: false, index: 0 });
      else if (m.t === "rv" && m.pre) this.#send(from, { t: "rvr", term: this.term, pre: true, granted: false });
      return;
    }
    switch (m.t) {
      case "rv":
        return this.#onVote(from, m);
      case "rvr":
        return this.#onVoteReply(from, m);
      case "ae":
        return this.#onAppend(from, m);
      case "aer":
        return this.#onAppendReply(from, m);
      case "hb":
        return this.#onHeartbeat(from, m);
      case "hbr":
        return this.#onHeartbeatReply(from, m);
      case "is":
        return this.#onSnapshotChunk(from, m);
      case "isr":
        return this.#onSnapshotReply(from, m);
      case "tn":
        if (isVoter(this.config, this.id) && this.state.role !== "leader") this.#campaign(false, true);
        return;
      case "ri":
        if (this.state.role === "leader") this.#leaderRead(m.ctx, from);
        else this.#send(from, { t: "rir", term: this.term, ctx: m.ctx, index: -1 });
        return;
      case "rir":
        this.#reads.answered(m.ctx, m.index);
        return;
    }
  }

  /** The driver applied everything up to `index` and made `data` of it: drop that prefix. */
  compact(index: number, data: Uint8Array): void {
    const term = this.log.term(index);
    if (term === undefined || index > this.commit) throw new Error(`raft: cannot compact at ${index}`);
    const config = this.#configAt(index);
    this.#snapshot = { index, term, config, data };
    this.log.compact(index, term);
    this.#snapConfig = config;
    this.#configs = this.#configs.filter((c) => c.index > index);
  }

  // --- outputs ------------------------------------------------------------

  /** Messages to send, with appends and heartbeats built now (batched). */
  takeMessages(): Outbound[] {
    if (this.state.role === "leader") this.#flushLeader();
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Entries newly committed, in order, each once. */
  takeCommitted(): Entry[] {
    const from = this.#emitted + 1;
    if (from > this.commit) return [];
    const entries = this.log.slice(from, this.commit, Number.MAX_SAFE_INTEGER);
    this.#emitted = this.commit;
    return entries;
  }

  /** A snapshot to load into the state machine before the next committed entries. */
  takeSnapshot(): Snapshot | null {
    const s = this.#toInstall;
    this.#toInstall = null;
    return s;
  }

  takeReads(): ReadState[] {
    return this.#reads.take();
  }

  // --- roles --------------------------------------------------------------

  #become(next: RoleState, term: number): void {
    if (term > this.term) {
      this.term = term;
      this.votedFor = null;
    }
    const wasLeader = this.state.role === "leader";
    const oldLeader = this.leader();
    this.state = next;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#resetTimeout();
    if (wasLeader && next.role !== "leader") {
      this.#progress.clear();
      this.#reads.failLeader((to, ctx) => this.#send(to, { t: "rir", term: this.term, ctx, index: -1 }));
    }
    if (next.role !== "leader" && this.leader() !== oldLeader) this.#reads.failForwarded();
    if (next.role === "leader") {
      this.#progress.clear();
      for (const s of servers(this.config)) if (s.id !== this.id) this.#progress.set(s.id, newProgress(this.log.lastIndex() + 1));
      this.#append({ term: this.term, index: this.log.lastIndex() + 1, kind: ENTRY_NOOP, data: null });
      this.#heartbeatNow = true;
      this.#maybeCommit();
    }
  }

  #campaign(pre: boolean, force: boolean): void {
    const granted = new Set<ServerId>([this.id]);
    if (pre) {
      this.#become({ role: "precandidate", granted }, this.term);
    } else {
      this.#become({ role: "candidate", granted }, this.term + 1);
      this.votedFor = this.id;
    }
    if (granted.size >= quorum(this.config)) return this.#won(pre);
    const term = pre ? this.term + 1 : this.term;
    for (const v of this.config.voters) {
      if (v.id === this.id) continue;
      this.#send(v.id, { t: "rv", term, pre, lastIndex: this.log.lastIndex(), lastTerm: this.log.lastTerm(), force });
    }
  }

  #won(pre: boolean): void {
    if (pre) this.#campaign(false, false);
    else this.#become({ role: "leader" }, this.term);
  }

  #inLease(): boolean {
    const leader = this.leader();
    return leader !== null && this.#electionElapsed < this.#opts.electionTicks;
  }

  #resetTimeout(): void {
    const n = this.#opts.electionTicks;
    this.#timeout = n + Math.floor(this.#random.float() * n);
  }

  #quorumActive(): boolean {
    let active = isVoter(this.config, this.id) ? 1 : 0;
    for (const v of this.config.voters) {
      const p = this.#progress.get(v.id);
      if (p !== undefined && p.active) active++;
    }
    for (const p of this.#progress.values()) p.active = false;
    return active >= quorum(this.config);
  }

  // --- votes --------------------------------------------------------------

  #onVote(from: ServerId, m: Extract<RaftMsg, { t: "rv" }>): void {
    const leaderless = this.state.role !== "follower" || this.state.leader === null;
    const canVote = this.votedFor === from || (this.votedFor === null && leaderless) || (m.pre && m.term > this.term);
    const upToDate = m.lastTerm > this.log.lastTerm() || (m.lastTerm === this.log.lastTerm() && m.lastIndex >= this.log.lastIndex());
    const granted = canVote && upToDate;
    if (granted && !m.pre) {
      this.votedFor = from;
      this.#electionElapsed = 0;
    }
    this.#send(from, { t: "rvr", term: m.pre ? (granted ? m.term : this.term) : this.term, pre: m.pre, granted });
  }

  #onVoteReply(from: ServerId, m: Extract<RaftMsg, { t: "rvr" }>): void {
    const st = this.state;
    if (st.role !== (m.pre ? "precandidate" : "candidate") || !m.granted || !isVoter(this.config, from)) return;
    if (st.role !== "precandidate" && st.role !== "candidate") return;
    st.granted.add(from);
    if (st.granted.size >= quorum(this.config)) this.#won(m.pre);
  }

  // --- replication (follower side) -----------------------------------------

  #follow(from: ServerId): void {
    if (this.state.role !== "follower" || this.state.leader !== from) this.#become({ role: "follower", leader: from }, this.term);
    this.#electionElapsed = 0;
  }

  #onAppend(from: ServerId, m: Extract<RaftMsg, { t: "ae" }>): void {
    this.#follow(from);
    if (m.prev < this.commit) {
      // Partly already committed here: acknowledge what is, the rest comes again.
      const last = Math.min(this.commit, m.prev + m.entries.length);
      if (m.prev + m.entries.length <= this.commit) return this.#send(from, { t: "aer", term: this.term, ok: true, index: last });
      const skip = this.commit - m.prev;
      return this.#onAppend(from, { ...m, prev: this.commit, prevTerm: m.entries[skip - 1]![0], entries: m.entries.slice(skip) });
    }
    if (this.log.term(m.prev) !== m.prevTerm) {
      return this.#send(from, { t: "aer", term: this.term, ok: false, index: this.#hint(m.prev) });
    }
    let index = m.prev;
    for (const w of m.entries) {
      index++;
      const have = this.log.term(index);
      if (have === w[0]) continue;
      if (have !== undefined) this.#truncate(index);
      this.#append(fromWire(w, index));
    }
    const last = m.prev + m.entries.length;
    if (m.commit > this.commit) this.commit = Math.min(m.commit, last);
    this.#send(from, { t: "aer", term: this.term, ok: true, index: last });
  }

  /** Where a refused append should retry from: before the conflicting term. */
  #hint(prev: number): number {
    if (prev > this.log.lastIndex()) return this.log.lastIndex();
    const t = this.log.term(prev);
    let i = prev - 1;
    while (i > this.commit && this.log.term(i) === t) i--;
    return i;
  }

  #onHeartbeat(from: ServerId, m: Extract<RaftMsg, { t: "hb" }>): void {
    this.#follow(from);
    const c = Math.min(m.commit, this.log.lastIndex());
    if (c > this.commit) this.commit = c;
    this.#send(from, { t: "hbr", term: this.term, seq: m.seq });
  }

  #onSnapshotChunk(from: ServerId, m: Extract<RaftMsg, { t: "is" }>): void {
    this.#follow(from);
    if (m.index <= this.commit) return this.#send(from, { t: "aer", term: this.term, ok: true, index: this.commit });
    let inc = this.#incoming;
    if (inc === null || inc.index !== m.index) {
      if (m.offset !== 0) return this.#send(from, { t: "isr", term: this.term, index: m.index, offset: 0 });
      inc = this.#incoming = { index: m.index, chunks: [], received: 0 };
    }
    if (m.offset === inc.received) {
      inc.chunks.push(m.chunk);
      inc.received += m.chunk.length;
    }
    if (inc.received < m.size) return this.#send(from, { t: "isr", term: this.term, index: m.index, offset: inc.received });
    const data = new Uint8Array(m.size);
    let at = 0;
    for (const c of inc.chunks) {
      data.set(c, at);
      at += c.length;
    }
    this.#incoming = null;
    const snap: Snapshot = { index: m.index, term: m.snapTerm, config: m.config, data };
    this.log.reset(m.index, m.snapTerm);
    this.#snapshot = snap;
    this.#toInstall = snap;
    this.#snapConfig = m.config;
    this.#configs = [];
    this.config = m.config;
    this.commit = m.index;
    this.#emitted = m.index;
    this.#send(from, { t: "aer", term: this.term, ok: true, index: m.index });
  }

  // --- replication (leader side) -------------------------------------------

  #onAppendReply(from: ServerId, m: Extract<RaftMsg, { t: "aer" }>): void {
    if (this.state.role !== "leader") return;
    const p = this.#progress.get(from);
    if (p === undefined) return;
    p.active = true;
    p.quietTicks = 0;
    if (m.ok) {
      if (p.mode.kind === "snapshot" && m.index < p.mode.index) return;
      acked(p, m.index);
      this.#maybeCommit();
    } else if (m.index < p.next - 1 || p.mode.kind === "probe") {
      refused(p, m.index);
    }
  }

  #onHeartbeatReply(from: ServerId, m: Extract<RaftMsg, { t: "hbr" }>): void {
    if (this.state.role !== "leader") return;
    const p = this.#progress.get(from);
    if (p === undefined) return;
    p.active = true;
    if (m.seq > p.seqAck) p.seqAck = m.seq;
    if (p.mode.kind === "probe") p.mode.waiting = false;
    // Appends or a chunk lost with a dropped connection: nothing will answer them.
    if (p.quietTicks > this.#opts.heartbeatTicks * 2) {
      if (p.mode.kind === "snapshot") {
        p.mode.sentAt = -1; // resend the chunk at the acknowledged offset
        p.quietTicks = 0;
      } else if (p.match < this.log.lastIndex()) {
        rewind(p);
        p.quietTicks = 0;
      }
    }
    if (isVoter(this.config, from)) this.#confirmReads();
  }

  #onSnapshotReply(from: ServerId, m: Extract<RaftMsg, { t: "isr" }>): void {
    if (this.state.role !== "leader") return;
    const p = this.#progress.get(from);
    if (p === undefined || p.mode.kind !== "snapshot" || p.mode.index !== m.index) return;
    p.active = true;
    p.quietTicks = 0;
    p.mode.acked = m.offset;
    p.mode.sentAt = -1;
  }

  #maybeCommit(): void {
    if (this.state.role !== "leader") return;
    const matches: number[] = [];
    for (const v of this.config.voters) {
      matches.push(v.id === this.id ? this.log.lastIndex() : this.#progress.get(v.id)?.match ?? 0);
    }
    if (matches.length === 0) return;
    matches.sort((a, b) => b - a);
    const n = matches[quorum(this.config) - 1]!;
    if (n <= this.commit || this.log.term(n) !== this.term) return;
    this.commit = n;
    this.#confirmReads();
    // A leader the committed configuration no longer lists hands over.
    if (!isVoter(this.committedConfig(), this.id)) this.#become({ role: "follower", leader: null }, this.term);
  }

  #leaderRead(ctx: number, from: ServerId | null): void {
    this.#reads.add(ctx, from, this.commit);
    this.#heartbeatNow = true;
    this.#confirmReads();
  }

  /** Reads whose heartbeat round a quorum answered, once this term committed an entry. */
  #confirmReads(): void {
    if (this.log.term(this.commit) !== this.term) return;
    const acks: number[] = [];
    for (const v of this.config.voters) {
      acks.push(v.id === this.id ? Number.MAX_SAFE_INTEGER : this.#progress.get(v.id)?.seqAck ?? 0);
    }
    acks.sort((a, b) => b - a);
    const confirmed = acks[quorum(this.config) - 1] ?? 0;
    this.#reads.confirm(confirmed, this.commit, (to, ctx, index) => this.#send(to, { t: "rir", term: this.term, ctx, index }));
  }

  #flushLeader(): void {
    const last = this.log.lastIndex();
    const seq = this.#heartbeatNow ? this.#reads.nextRound() : 0;
    for (const [id, p] of this.#progress) {
      if (p.mode.kind === "snapshot") {
        this.#sendChunk(id, p);
      } else {
        while (p.next <= last && canSend(p, this.#opts.maxInflight)) {
          if (p.next <= this.log.snapshotIndex()) {
            p.mode = { kind: "snapshot", index: this.#snapshot!.index, acked: 0, sentAt: -1 };
            this.#sendChunk(id, p);
            break;
          }
          this.#sendAppend(id, p, last);
        }
        const told = Math.min(this.commit, p.match);
        if (told > p.sentCommit && canSend(p, this.#opts.maxInflight) && p.next > last) this.#sendAppend(id, p, last);
      }
      if (seq > 0) this.#send(id, { t: "hb", term: this.term, commit: Math.min(this.commit, p.match), seq });
    }
    this.#heartbeatNow = false;
    if (seq > 0) this.#confirmReads();
  }

  #sendAppend(to: ServerId, p: Progress, last: number): void {
    const prev = p.next - 1;
    const entries = this.log.slice(p.next, last, this.#opts.maxBatch);
    const sentTo = prev + entries.length;
    p.sentCommit = Math.min(this.commit, sentTo);
    this.#send(to, { t: "ae", term: this.term, prev, prevTerm: this.log.term(prev)!, entries: entries.map(toWire), commit: this.commit });
    sent(p, sentTo);
  }

  #sendChunk(to: ServerId, p: Progress): void {
    const snap = this.#snapshot;
    if (snap === null || p.mode.kind !== "snapshot") return;
    if (p.mode.index !== snap.index) p.mode = { kind: "snapshot", index: snap.index, acked: 0, sentAt: -1 };
    if (p.mode.sentAt === p.mode.acked) return;
    // Everything acknowledged but the final answer lost: the last chunk again makes the follower answer.
    const offset = p.mode.acked < snap.data.length ? p.mode.acked : Math.max(0, snap.data.length - this.#opts.chunkBytes);
    const chunk = snap.data.subarray(offset, Math.min(snap.data.length, offset + this.#opts.chunkBytes));
    p.mode.sentAt = p.mode.acked;
    this.#send(to, {
      t: "is", term: this.term, index: snap.index, snapTerm: snap.term, config: snap.config, offset, size: snap.data.length, chunk,
    });
  }

  // --- log and configuration ------------------------------------------------

  #append(e: Entry): void {
    this.log.append(e);
    if (e.kind === ENTRY_CONFIG) {
      const config = e.data as Configuration;
      this.#configs.push({ index: e.index, config });
      this.#setConfig(config);
    }
  }

  #truncate(from: number): void {
    if (from <= this.commit) throw new Error(`raft: truncating committed index ${from} (commit ${this.commit})`);
    this.log.truncateFrom(from);
    const before = this.#configs.length;
    this.#configs = this.#configs.filter((c) => c.index < from);
    if (this.#configs.length !== before) this.#setConfig(this.#configAt(this.log.lastIndex()));
  }

  #configAt(index: number): Configuration {
    let c = this.#snapConfig;
    for (const e of this.#configs) if (e.index <= index) c = e.config;
    return c;
  }

  #setConfig(config: Configuration): void {
    this.config = config;
    if (this.state.role !== "leader") return;
    for (const s of servers(config)) {
      if (s.id !== this.id && !this.#progress.has(s.id)) this.#progress.set(s.id, newProgress(this.log.lastIndex()));
    }
    for (const id of [...this.#progress.keys()]) if (!isMember(config, id)) this.#progress.delete(id);
  }

  #send(to: ServerId, msg: RaftMsg): void {
    this.#out.push({ to, msg });
  }
}
