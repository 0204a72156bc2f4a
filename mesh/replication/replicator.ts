/**
 * The replicator of a cluster: every local write goes to every live peer
 * (batched per turn, acknowledged, re-sent until held), resolves once its
 * write concern holds, and anti-entropy repairs whatever that missed.
 * Tombstones are collected once every member provably holds them.
 *
 * Parts: acks.ts (pending writes), outbox.ts (batching, window, retransmit),
 * data-inbox.ts (received writes, merged over turns), anti-entropy.ts,
 * tombstone-gc.ts, concern.ts, messages.ts (wire + checks), fence.ts,
 * catch-up.ts, peer-sync.ts, flush-waiters.ts, periodic.ts, stats.ts,
 * inbound.ts, answers.ts (acks), barriers.ts (the read and write barriers,
 * the read leases), held-batch.ts, merge-remote.ts.
 */
import { HELD } from "./held.ts";
import { RoomyError } from "../../core/errors.ts";
import type { Timestamp } from "../../core/crdt/hlc.ts";
import type { Change, Delta, LwwMap } from "../../core/crdt/lww-map.ts";
import type { MemberEvent, MembershipView } from "../membership/types.ts";
import { type Address, type Clock, type Logger, type Message, type Random, silentLogger, type Transport } from "../types.ts";
import { type PendingWrite, PendingWrites } from "./acks.ts";
import { AntiEntropy, type AeHost } from "./anti-entropy.ts";
import type { ClusterReplicationStats, ClusterReplicator, ClusterReplicatorOptions } from "./api.ts";
import { pullFromEveryLivePeer, pullFromSome, type PulledFrom } from "./catch-up.ts";
import { countingHolders, isWriteConcern, type Quorum, quorumOf, requiredNow, sameQuorum, selfSuffices, StickyNames } from "./concern.ts";
import { type ReplicationConfig, resolveConfig } from "./config.ts";
import { EpochFence } from "./fence.ts";
import { FlushWaiters } from "./flush-waiters.ts";
import type { Sender } from "./messages.ts";
import { DataInbox } from "./data-inbox.ts";
import { Outbox } from "./outbox.ts";
import { reconcileLinks } from "./peer-sync.ts";
import { Periodic } from "./periodic.ts";
import { clusterStats, type MessageCounts } from "./stats.ts";
import { ChangeListeners } from "./listeners.ts";
import { TombstoneGc } from "./tombstone-gc.ts";
import type { WriteConcern } from "./types.ts";
import { atEndOfTurn } from "../../adapter/defer.ts";
import { Barriers } from "./barriers.ts";
import type { DataMessage } from "./data-inbox.ts";
import { HeldBatch } from "./held-batch.ts";
import { type AnswerHost, retireIfDone } from "./answers.ts";
import { type InboundHost, receive } from "./inbound.ts";
import { type MergeHost, mergeRemote } from "./merge-remote.ts";
import { type ReaderList, ReaderWaits } from "./lease-grants.ts";
import { RENEW_MS } from "./read-lease.ts";

export type { ClusterReplicationStats, ClusterReplicator, ClusterReplicatorOptions } from "./api.ts";
export type { ReplicationConfig } from "./config.ts";
export { DEFAULT_REPLICATION_CONFIG } from "./config.ts";

export function createClusterReplicator(opts: ClusterReplicatorOptions): ClusterReplicator {
  return new ClusterReplicatorImpl(opts);
}

class ClusterReplicatorImpl implements ClusterReplicator, AeHost {
  readonly map: LwwMap;
  readonly clock: Clock;
  readonly config: ReplicationConfig;
  readonly logger: Logger;
  readonly self: Sender;
  private readonly observe: (ts: Timestamp) => void;
  private readonly membership: MembershipView;
  private readonly transport: Transport;
  private readonly random: Random;
  private readonly concern: WriteConcern;
  private readonly pending: PendingWrites;
  private readonly outbox: Outbox;
  private readonly ae: AntiEntropy;
  private readonly inbox: DataInbox;
  /** the read barrier by covers and the write barrier by clocks (barriers.ts) */
  private readonly barriers: Barriers;
  /** a received batch's changes, told once it is whole (held-batch.ts) */
  private readonly held: HeldBatch;
  private readonly merging: MergeHost;
  private readonly answers: AnswerHost;
  /** readers holding read leases, whom a write waits for too (lease-grants.ts) */
  private readonly readers: ReaderWaits;
  private readonly gc: TombstoneGc;
  /** Members seen and not known to have left, kept after membership reaps them. */
  private readonly knownNames = new StickyNames();
  private readonly listeners: ChangeListeners;
  private readonly flushes: FlushWaiters;
  private readonly fencing = new EpochFence();
  private readonly periodic: Periodic;
  private readonly unsubscribe: () => void;
  private quorum: Quorum = { required: 1, holders: null, selfCounts: true };
  private flushScheduled = false;
  private readonly defer: (fn: () => void) => void;
  readonly nextTurn: ((fn: () => void) => void) | undefined; // the runtime's, if given: streams go on with it (stream.ts)
  /** When tick() last ran (-1: never). */
  private lastTickAt = -1;
  /** Entries queued since the outboxes were last pumped. */
  private unpumped = 0;
  private caughtUp = false;
  private stopped = false;
  private readonly n: MessageCounts = { sent: 0, received: 0, deltasReceived: 0, malformed: 0, refused: 0 };

  constructor(o: ClusterReplicatorOptions) {
    const concern = o.concern ?? 2;
    if (!isWriteConcern(concern)) throw new RangeError(`replication: unknown write concern ${String(concern)}`);
    this.concern = concern;
    this.map = o.map;
    this.observe = o.observe;
    this.membership = o.membership;
    this.transport = o.transport;
    this.clock = o.clock;
    this.random = o.random;
    this.logger = o.logger ?? silentLogger;
    this.listeners = new ChangeListeners(this.logger);
    this.config = resolveConfig(o.config);
    this.defer = o.defer ?? atEndOfTurn;
    this.nextTurn = o.defer;
    this.flushes = new FlushWaiters(this.clock, this.logger, () => this.pending.size);
    this.periodic = new Periodic(this.clock, this.logger);
    const me = o.membership.self();
    this.self = { n: me.name, i: me.id };
    this.pending = new PendingWrites(this.clock, this.config.ackTimeoutMs, (expired) => this.retireDone(expired));
    this.outbox = new Outbox(this.self, this.pending, (to, msg) => this.send(to, msg), this.clock, this.config, () => this.scheduleFlush());
    this.gc = new TombstoneGc(this.map, this.config.tombstoneMinAgeMs, (keys) => {
      if (this.pending.size > 0 && this.pending.prune(keys())) this.outbox.forgetBuilt();
    });
    this.ae = new AntiEntropy(this);
    this.inbox = new DataInbox(this, this.fencing);
    this.held = new HeldBatch((changes) => this.listeners.notify(changes));
    const mergeQuiet = (delta: Delta): Change[] => {
      const changes = this.listeners.merge(this.map, delta);
      this.gc.noteMerged(delta);
      return changes;
    };
    this.merging = { map: this.map, logger: this.logger, n: this.n, held: this.held, observe: (ts) => this.observe(ts), mergeQuiet, apply: (delta) => this.applyLocal(delta) };
    const { clock, self, logger } = this;
    const leases = (): boolean => this.concern === "majority" && this.fencing.holders !== null;
    this.barriers = new Barriers({ clock, self, logger, peers: this.outbox.peers, retransmitMs: this.config.retransmitMs, lastSeq: () => this.pending.lastSeq, ...(o.last === undefined ? {} : { last: o.last }), observe: (ts) => this.observe(ts), send: (to, msg) => this.send(to, msg), freshRound: (link, done) => this.ae.start(link, done, "fresh"), stopped: () => this.stopped, malformed: () => void this.n.malformed++, leases });
    this.readers = this.pending.readers = new ReaderWaits(clock, self, this.barriers.lease.grants, (n) => this.outbox.peers.get(n)?.id, () => this.resettle(), (w) => this.barriers.complain(w));
    this.answers = { outbox: this.outbox, pending: this.pending, clock, quorum: () => this.quorum, readers: this.readers, isMember: (n, i) => this.isMember(n, i), checkFlush: () => this.checkFlush() };
    const inbound: InboundHost = { stopped: () => this.stopped, n: this.n, buckets: this.map.buckets, self, logger, barriers: this.barriers, inbox: this.inbox, answers: this.answers, ae: this.ae };
    this.transport.onMessage((from, msg) => receive(inbound, from, msg));
    this.unsubscribe = this.membership.subscribe((ev) => this.onMember(ev));
    this.syncPeers();
    this.periodic.every(this.config.retransmitMs, () => this.tick());
    this.periodic.every(RENEW_MS, () => this.barriers.lease.tick());
    this.periodic.every(this.config.antiEntropyMs, () => {
      this.ae.routine(this.outbox.peers, this.random);
      this.collectTombstones();
    });
  }

  // ---- Replicator ----

  write(delta: Delta): Promise<void> {
    if (this.stopped) return Promise.reject(new RoomyError("unavailable", "replicator stopped"));
    this.applyLocal(delta);
    if (delta.e.length === 0) return HELD;
    // A reader holding a read lease must hold it too: never held at once then.
    const alone = selfSuffices(this.quorum) && !this.readers.any(this.clock.now());
    if (this.outbox.peers.size === 0 && alone) {
      // Alone with a concern this node meets by itself (a cluster of one):
      // held as soon as merged, and there is no one to send it to; a peer
      // that comes later gets it by anti-entropy, as it would have anyway
      // once the write was retired. No seq, promise or timer.
      this.pending.settledAtOnce();
      return HELD;
    }
    const { pw, done } = this.pending.add(delta, this.fencing.epoch, alone);
    if (this.outbox.peers.size === 0) this.retireDone([pw]);
    else {
      this.outbox.enqueue(pw.seq);
      this.unpumped += pw.entries;
      // A burst that already fills a message sends it now, so peers start
      // merging while the writer is still writing (pipelining), instead of
      // everything leaving at the end of the tick.
      if (this.unpumped >= this.config.maxBatchEntries) this.pumpNow();
      else this.scheduleFlush();
    }
    return done;
  }

  onChange(fn: (changes: Change[]) => void): () => void {
    return this.listeners.add(fn);
  }

  flush(timeoutMs: number = this.config.ackTimeoutMs): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.syncPeers();
    this.outbox.pumpAll();
    if (this.outbox.drained()) return Promise.resolve();
    return this.flushes.wait(timeoutMs);
  }

  catchUp(timeoutMs: number = 2 * this.config.ackTimeoutMs): Promise<void> {
    if (this.stopped) return Promise.reject(new RoomyError("unavailable", "replicator stopped"));
    this.syncPeers();
    return pullFromEveryLivePeer(this.outbox.peers, this.ae, this.clock, () => this.stopped, timeoutMs).then(() => {
      this.isCaughtUp();
    });
  }

  catchUpFrom(peers: readonly string[], need: number, timeoutMs: number, fresh = false): Promise<PulledFrom[]> {
    if (this.stopped) return Promise.reject(new RoomyError("unavailable", "replicator stopped"));
    this.syncPeers();
    const host = { peers: this.outbox.peers, ae: this.ae, clock: this.clock, self: { name: this.self.n, id: this.self.i }, pollMs: this.config.retransmitMs };
    return pullFromSome({ ...host, stopped: () => this.stopped }, peers, need, timeoutMs, fresh ? "fresh" : "pull");
  }

  // The barriers' pulls run per read and per write: no syncPeers() here (membership events keep the links in sync).
  barrierFrom(peers: readonly string[], need: number, timeoutMs: number): Promise<PulledFrom[]> {
    if (this.stopped) return Promise.reject(new RoomyError("unavailable", "replicator stopped"));
    return this.barriers.readPull(peers, need, timeoutMs);
  }

  readLease = (holders: readonly { name: string; id: string }[]): boolean => !this.stopped && this.barriers.lease.holds(holders);

  ordersWrites(): boolean {
    return this.concern === "majority";
  }

  clockFrom(peers: readonly string[], need: number, timeoutMs: number): Promise<PulledFrom[]> {
    if (this.stopped) return Promise.reject(new RoomyError("unavailable", "replicator stopped"));
    return this.barriers.writePull(peers, need, timeoutMs);
  }

  setEpoch(epoch: number, holders: readonly string[], ids?: ReadonlyMap<string, string>): void {
    if (this.fencing.set(epoch, holders, ids) && !this.stopped) this.syncPeers();
  }

  adoptFence(epoch: number): void {
    this.fencing.adopt(epoch);
  }

  resetFence(epoch: number): void {
    this.fencing.reset(epoch);
  }

  fence = (): number => this.fencing.fence;
  epoch = (): number => this.fencing.epoch;

  isCaughtUp(): boolean {
    if (this.caughtUp) return true;
    for (const link of this.outbox.peers.values()) if (this.ae.pulled.get(link.name) !== link.id) return false;
    this.caughtUp = true;
    return true;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.periodic.stop();
    this.readers.stop();
    this.unsubscribe();
    this.transport.onMessage(() => {});
    this.ae.abortAll();
    this.barriers.abortAll();
    this.inbox.stop();
    this.pending.rejectAll("replicator stopped");
    this.flushes.releaseAll();
  }

  stats(): ClusterReplicationStats {
    return clusterStats(this.map, this.outbox, this.ae, this.pending, this.gc, this.n, this.fencing, this.barriers.lease, this.readers, this.clock.now());
  }

  // ---- AeHost ----

  send(to: Address, msg: Message): boolean {
    this.n.sent++;
    return this.transport.send(to, msg);
  }

  ackReaders = (): ReaderList | undefined => this.barriers.lease.grants.list(this.clock.now());

  mergeRemote(delta: Delta, from: Sender): boolean {
    return mergeRemote(this.merging, delta, from);
  }

  merged(m: DataMessage): void {
    if (this.held.message === m) this.held.release();
    this.barriers.merged(m);
  }

  equal(name: string, id: string, seq: number): void {
    this.gc.recordEqual(name, id, seq);
    this.collectTombstones();
  }

  arrivalSeq(): number {
    return this.gc.seq;
  }

  forget(keys: string[]): void {
    const n = this.gc.forget(keys);
    if (n > 0) this.logger.debug("replication: tombstones a peer collected, forgotten here too", { count: n });
  }

  sendingTo(name: string): boolean {
    const link = this.outbox.peers.get(name);
    return link !== undefined && (link.inflight.size > 0 || link.queue.length > 0);
  }

  // ---- inbound ----

  private isMember(name: string, id: string): boolean {
    return this.membership.members().some((x) => x.name === name && x.id === id);
  }

  // ---- membership ----

  private onMember(ev: MemberEvent): void {
    if (this.stopped) return;
    this.syncPeers();
    if ((ev.type === "up" || ev.type === "alive") && ev.member.name !== this.self.n) {
      const link = this.outbox.peers.get(ev.member.name);
      if (link !== undefined) this.ae.start(link, undefined, "urgent");
    }
    this.collectTombstones();
  }

  /** Reconcile the outboxes with the live set; on any change re-evaluate pending writes. */
  private syncPeers(): void {
    const { changed: linksChanged, opened } = reconcileLinks(this.membership.live(), this.self.n, this.outbox, this.ae);
    const required = requiredNow(this.concern, this.membership, this.knownNames);
    const h = this.fencing.holders;
    const counting = h === null ? undefined : countingHolders(h, this.fencing.ids, (name) => (name === this.self.n ? this.self.i : this.outbox.peers.get(name)?.id));
    const quorum = quorumOf(this.concern, required, h, this.self.n, counting);
    const changed = linksChanged || !sameQuorum(quorum, this.quorum);
    this.quorum = quorum;
    if (!changed) return;
    this.resettle();
    for (const link of opened) {
      this.outbox.pump(link);
      this.ae.start(link, undefined, "urgent");
    }
    this.checkFlush();
  }

  // ---- helpers ----

  /** A write may be held now (the quorum or the readers changed), or need more acks than it has. */
  private resettle(): void {
    for (const pw of this.pending.bySeq.values()) {
      this.pending.settleIfHeld(pw, this.quorum);
      retireIfDone(this.answers, pw);
    }
    this.checkFlush();
  }

  private applyLocal(delta: Delta): void {
    // A held batch this touches: the rest of it merged first (whole, merged() tells it); else told as it is.
    if (this.held.touches(delta) && !this.inbox.finish(this.held.message!)) this.held.release();
    this.listeners.notify(this.merging.mergeQuiet(delta));
  }

  private retireDone(pws: PendingWrite[]): void {
    for (const pw of pws) retireIfDone(this.answers, pw);
    this.checkFlush();
  }

  private checkFlush(): void {
    if (this.flushes.size > 0 && this.outbox.drained()) this.flushes.releaseAll();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Once per turn: every write of the turn leaves in the same messages.
    this.defer(() => {
      this.flushScheduled = false;
      if (!this.stopped) this.pumpNow();
    });
  }

  private pumpNow(): void {
    this.unpumped = 0;
    this.outbox.pumpAll();
  }

  private tick(): void {
    const now = this.clock.now();
    // A tick much later than due means this process was busy (a long burst
    // of writes, a GC pause): the acks of what it sent may be waiting unread
    // on its sockets. Re-send only once those are read (a zero timer runs
    // after pending input), not what the peers already hold.
    const stalled = this.lastTickAt >= 0 && now - this.lastTickAt > 1.5 * this.config.retransmitMs;
    this.lastTickAt = now;
    // A batch held back but no longer being merged (refused midway by a raised fence): tell what is in the map.
    if (this.inbox.size === 0) this.held.release();
    this.syncPeers();
    if (!stalled) this.outbox.retransmit();
    else this.clock.setTimer(0, () => void (this.stopped || this.outbox.retransmit()));
    this.ae.expire(now);
    this.checkFlush();
  }

  private collectTombstones(): void {
    const n = this.gc.collect(this.self.n, this.membership.members(), this.clock.now());
    if (n > 0) this.logger.debug("replication: tombstones collected", { count: n });
  }
}
