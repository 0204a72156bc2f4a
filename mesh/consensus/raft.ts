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
 * goes through `become()`. The class holds the state and the inputs; the
 * rules live beside it by concern: election.ts, follower.ts, leader.ts,
 * reads.ts, progress.ts. Fields below the public ones are internal to this
 * folder (those files read and write them); outside it, use the methods.
 */
import type { Random } from "../types.ts";
import { RaftLog } from "./log.ts";
import type { Outbound, RaftMsg } from "./messages.ts";
import { newProgress, type Progress } from "./progress.ts";
import { ReadQueue } from "./reads.ts";
import { campaign, inLease, onVote, onVoteReply, quorumActive, resetTimeout } from "./election.ts";
import { onAppend, onHeartbeat, onSnapshotChunk } from "./follower.ts";
import { flushLeader, leaderRead, maybeCommit, onAppendReply, onHeartbeatReply, onSnapshotReply } from "./leader.ts";
import {
  type Configuration,
  ENTRY_CONFIG,
  ENTRY_NOOP,
  type LogEntry,
  type EntryKind,
  isMember,
  isVoter,
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

/** Only a leader sends these: appends, heartbeats, snapshot chunks. */
function fromLeader(m: RaftMsg): boolean {
  return m.t === "ae" || m.t === "hb" || m.t === "is";
}

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
  // --- internal to mesh/consensus ---
  opts: RaftOptions;
  random: Random;
  /** Configuration entries above the snapshot, in log order. */
  configs: { index: number; config: Configuration }[] = [];
  snapConfig: Configuration = EMPTY_CONFIG;
  /** The last term this node led (0: never): entries of that term are its own. */
  ledTerm = 0;
  snapshot: Snapshot | null = null;
  /** A snapshot received whole, for the driver to install. */
  toInstall: Snapshot | null = null;
  incoming: { index: number; chunks: Uint8Array[]; received: number } | null = null;
  emitted = 0;
  progress = new Map<ServerId, Progress>();
  electionElapsed = 0;
  heartbeatElapsed = 0;
  timeout = 0;
  out: Outbound[] = [];
  reads = new ReadQueue();
  heartbeatNow = false;

  constructor(opts: RaftOptions) {
    this.id = opts.id;
    this.opts = opts;
    this.random = opts.random;
    resetTimeout(this);
  }

  /** Start a new cluster with `config` (its first entry, committed at once). */
  bootstrap(config: Configuration): void {
    if (this.log.lastIndex() !== 0) throw new Error("raft: bootstrap of a non-empty log");
    this.term = 1;
    this.log.append({ term: 1, index: 1, kind: ENTRY_CONFIG, data: config });
    this.configs.push({ index: 1, config });
    this.config = config;
    this.commit = 1;
  }

  /** Campaign at once (a node that just bootstrapped alone need not wait out a timeout). */
  campaignNow(): void {
    if (isVoter(this.config, this.id) && this.state.role !== "leader") campaign(this, false, true);
  }

  /** Ticks since this follower last heard from its leader; 0 for the leader; null with no leader known. */
  leaderQuietTicks(): number | null {
    return this.state.role === "leader" ? 0 : this.state.role === "follower" && this.state.leader !== null ? this.electionElapsed : null;
  }

  leader(): ServerId | null {
    return this.state.role === "leader" ? this.id : this.state.role === "follower" ? this.state.leader : null;
  }

  /** The last configuration entry at or below the commit index. */
  committedConfig(): Configuration {
    let c = this.snapConfig;
    for (const e of this.configs) if (e.index <= this.commit) c = e.config;
    return c;
  }

  /** A configuration change may be proposed now (one at a time, after a commit in this term). */
  canChangeConfig(): boolean {
    if (this.state.role !== "leader" || this.log.term(this.commit) !== this.term) return false;
    const last = this.configs[this.configs.length - 1];
    return last === undefined || last.index <= this.commit;
  }

  progressOf(id: ServerId): Readonly<Progress> | undefined {
    return this.progress.get(id);
  }

  /** Leader: whether `id` answered within about three heartbeat intervals (so it is up, whatever else says it died). */
  heardLately(id: ServerId): boolean {
    const p = this.progress.get(id);
    return this.state.role === "leader" && p !== undefined && p.heardTicks <= 3 * this.opts.heartbeatTicks;
  }

  // --- inputs -------------------------------------------------------------

  tick(): void {
    this.electionElapsed++;
    if (this.state.role === "leader") {
      for (const p of this.progress.values()) {
        p.quietTicks++;
        p.heardTicks++;
      }
      if (++this.heartbeatElapsed >= this.opts.heartbeatTicks) {
        this.heartbeatElapsed = 0;
        this.heartbeatNow = true;
      }
      if (this.electionElapsed >= this.opts.electionTicks) {
        this.electionElapsed = 0;
        if (!quorumActive(this)) {
          this.become({ role: "follower", leader: null }, this.term);
          return;
        }
      }
      return;
    }
    if (this.electionElapsed >= this.timeout && isVoter(this.config, this.id)) campaign(this, true, false);
  }

  /** Append a command (leader only). Its index, or null when not the leader. */
  propose(data: unknown, kind: EntryKind = 1): number | null {
    if (this.state.role !== "leader") return null;
    if (kind === ENTRY_CONFIG) {
      if (!this.canChangeConfig()) return null;
    }
    const index = this.log.lastIndex() + 1;
    this.append({ term: this.term, index, kind, data });
    maybeCommit(this);
    return index;
  }

  /** Ask for a read index; the answer comes out of `takeReads()` (index -1: retry later). */
  readIndex(ctx: number): void {
    const st = this.state;
    if (st.role === "leader") {
      leaderRead(this, ctx, null);
    } else if (st.role === "follower" && st.leader !== null) {
      this.reads.forwarded(ctx);
      this.send(st.leader, { t: "ri", term: this.term, ctx });
    } else {
      this.reads.fail(ctx);
    }
  }

  /** Hand leadership to `to` (an up-to-date voter): it campaigns at once. */
  transferTo(to: ServerId): boolean {
    if (this.state.role !== "leader" || !isVoter(this.config, to)) return false;
    const p = this.progress.get(to);
    if (p === undefined || p.match !== this.log.lastIndex()) return false;
    this.send(to, { t: "tn", term: this.term });
    return true;
  }

  /** Hand leadership to the first up-to-date voter (false: none is, yet). */
  handOver(): boolean {
    for (const v of this.config.voters) if (v.id !== this.id && this.transferTo(v.id)) return true;
    return false;
  }

  step(from: ServerId, m: RaftMsg): void {
    if (m.term > this.term) {
      if (m.t === "rv" && !m.force && inLease(this)) return; // a leader is alive: ignore the disruptor
      if (m.t === "rv" && m.pre) {
        // a pre-vote never changes our term
      } else if (m.t === "rvr" && m.pre && m.granted) {
        // granted for term + 1, which we have not started yet
      } else {
        this.become({ role: "follower", leader: fromLeader(m) ? from : null }, m.term);
      }
    } else if (m.term < this.term) {
      // A stale leader learns our term from the answer and steps down.
      if (fromLeader(m)) this.send(from, { t: "aer", term: this.term, ok: false, index: 0 });
      else if (m.t === "rv" && m.pre) this.send(from, { t: "rvr", term: this.term, pre: true, granted: false });
      return;
    }
    switch (m.t) {
      case "rv":
        return onVote(this, from, m);
      case "rvr":
        return onVoteReply(this, from, m);
      case "ae":
        return onAppend(this, from, m);
      case "aer":
        return onAppendReply(this, from, m);
      case "hb":
        return onHeartbeat(this, from, m);
      case "hbr":
        return onHeartbeatReply(this, from, m);
      case "is":
        return onSnapshotChunk(this, from, m);
      case "isr":
        return onSnapshotReply(this, from, m);
      case "tn":
        if (isVoter(this.config, this.id) && this.state.role !== "leader") campaign(this, false, true);
        return;
      case "ri":
        if (this.state.role === "leader") leaderRead(this, m.ctx, from);
        else this.send(from, { t: "rir", term: this.term, ctx: m.ctx, index: -1 });
        return;
      case "rir":
        this.reads.answered(m.ctx, m.index);
        return;
    }
  }

  /** The driver applied everything up to `index` and made `data` of it: drop that prefix. */
  compact(index: number, data: Uint8Array): void {
    const term = this.log.term(index);
    if (term === undefined || index > this.commit) throw new Error(`raft: cannot compact at ${index}`);
    const config = this.configAt(index);
    this.snapshot = { index, term, config, data };
    this.log.compact(index, term);
    this.snapConfig = config;
    this.configs = this.configs.filter((c) => c.index > index);
  }

  // --- outputs ------------------------------------------------------------

  /** Messages to send, with appends and heartbeats built now (batched). */
  takeMessages(): Outbound[] {
    if (this.state.role === "leader") flushLeader(this);
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Entries newly committed, in order, each once. */
  takeCommitted(): LogEntry[] {
    const from = this.emitted + 1;
    if (from > this.commit) return [];
    const entries = this.log.slice(from, this.commit, Number.MAX_SAFE_INTEGER);
    this.emitted = this.commit;
    return entries;
  }

  /** A snapshot to load into the state machine before the next committed entries. */
  takeSnapshot(): Snapshot | null {
    const s = this.toInstall;
    this.toInstall = null;
    return s;
  }

  takeReads(): ReadState[] {
    return this.reads.take();
  }

  // --- roles --------------------------------------------------------------

  become(next: RoleState, term: number): void {
    if (term > this.term) {
      this.term = term;
      this.votedFor = null;
    }
    const wasLeader = this.state.role === "leader";
    const oldLeader = this.leader();
    this.state = next;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    resetTimeout(this);
    if (wasLeader && next.role !== "leader") {
      this.progress.clear();
      this.reads.failLeader((to, ctx) => this.send(to, { t: "rir", term: this.term, ctx, index: -1 }));
    }
    if (next.role !== "leader" && this.leader() !== oldLeader) this.reads.failForwarded();
    if (next.role === "leader") {
      this.ledTerm = this.term;
      this.progress.clear();
      for (const s of servers(this.config)) if (s.id !== this.id) this.progress.set(s.id, newProgress(this.log.lastIndex() + 1));
      this.append({ term: this.term, index: this.log.lastIndex() + 1, kind: ENTRY_NOOP, data: null });
      this.heartbeatNow = true;
      maybeCommit(this);
    }
  }

  // --- log and configuration ------------------------------------------------

  append(e: LogEntry): void {
    this.log.append(e);
    if (e.kind === ENTRY_CONFIG) {
      const config = e.data as Configuration;
      this.configs.push({ index: e.index, config });
      this.setConfig(config);
    }
  }

  truncate(from: number): void {
    if (from <= this.commit) throw new Error(`raft: truncating committed index ${from} (commit ${this.commit})`);
    this.log.truncateFrom(from);
    const before = this.configs.length;
    this.configs = this.configs.filter((c) => c.index < from);
    if (this.configs.length !== before) this.setConfig(this.configAt(this.log.lastIndex()));
  }

  /**
   * Give up the configuration in force, not committed here, that this node
   * appended as leader, with everything after it (this log holds no later
   * term): the caller found it can never commit (most of its voters
   * restarted: stuck-change.ts). No committed entry is lost. This node never
   * counted a majority for what it gives up. A later leader may have, with a
   * majority M of that configuration without this node (voters restarted
   * since); it keeps them, and M's live members refuse this node's shorter
   * log, so under the configuration before (one server more or fewer) this
   * node and any other outside M gather fewer votes than its majority:
   * nobody commits anything conflicting. Refused otherwise.
   */
  abandonConfig(): boolean {
    const last = this.configs[this.configs.length - 1];
    if (last === undefined || last.index <= this.commit) return false;
    if (this.ledTerm === 0 || this.log.term(last.index) !== this.ledTerm || this.log.lastTerm() !== this.ledTerm) return false;
    // A leader steps down, a candidate drops the votes it counted under it.
    if (this.state.role !== "follower") this.become({ role: "follower", leader: null }, this.term);
    this.truncate(last.index);
    return true;
  }

  configAt(index: number): Configuration {
    let c = this.snapConfig;
    for (const e of this.configs) if (e.index <= index) c = e.config;
    return c;
  }

  setConfig(config: Configuration): void {
    this.config = config;
    if (this.state.role !== "leader") return;
    for (const s of servers(config)) {
      if (s.id !== this.id && !this.progress.has(s.id)) this.progress.set(s.id, newProgress(this.log.lastIndex()));
    }
    for (const id of [...this.progress.keys()]) if (!isMember(config, id)) this.progress.delete(id);
  }

  send(to: ServerId, msg: RaftMsg): void {
    this.out.push({ to, msg });
  }
}
