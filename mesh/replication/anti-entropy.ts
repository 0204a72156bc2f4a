/**
 * Anti-entropy rounds: repair whatever the outboxes missed (a peer that was
 * down, partitioned, or joined late) by comparing digests level by level and
 * exchanging only the entries of the leaves that differ.
 *
 * Initiator -> {dg, bucket digest}. A responder whose outbox is busy sending
 * the initiator writes may decline a routine round {bz}. Otherwise: digests
 * equal -> {eq} (both sides record the equality, which tombstone GC relies
 * on); else {lf, the differing buckets' leaf digests}. The initiator compares
 * leaves and asks {lw} for the responder's entries of the differing leaves
 * that are non-empty there, sending {ls} the prints of its own entries in
 * those of them it fills too; the responder streams {ae} the entries the
 * prints lack (ae-answer.ts; stream.ts: lazily, a window of chunks, acked
 * {ak} as merged). The round is complete once every chunk is merged; then
 * the initiator streams back {ap, acked pk} its entries of those leaves
 * that the responder lacked or held older.
 *
 * Received chunks are merged one per event-loop turn (chunk-queue.ts). A
 * round without progress for roundTimeoutMs is abandoned (the next one
 * repairs what it missed; the next ask of that peer is for smaller chunks).
 * An urgent digest that comes while we are being filled waits until that
 * transfer is over (ae-deferred.ts).
 */
import { compareTs } from "../../core/crdt/hlc.ts";
import { type DeltaEntry, DIFFERS, LEAVES, THEIRS } from "../../core/crdt/lww-map.ts";
import { differingBuckets, splitWanted } from "./ae-leaves.ts";
import { type Address, type Random, randomInt } from "../types.ts";
import { Answers } from "./ae-answer.ts";
import { ChunkQueue } from "./chunk-queue.ts";
import { DeferredDigests } from "./ae-deferred.ts";
import { busyMsg, chunkAckMsg, digestMsg, eqMsg, type ReplMsg, leavesMsg, wantMsg } from "./messages.ts";
import type { AeCounters, AeHost, AePeer, Done, Round, RoundKind, Streamed } from "./ae-types.ts";
import { startPrints, startPush } from "./ae-push.ts";

export type { AeCounters, AeHost, AePeer, RoundKind } from "./ae-types.ts";

const MAX_CHUNK_SHIFT = 4;
const MAX_DECLINES = 4;
const MAX_SKIPS = 4;

export class AntiEntropy {
  readonly counters: AeCounters = {
    started: 0, completed: 0, declined: 0, equal: 0, timeouts: 0, entriesSent: 0, entriesReceived: 0, leavesDiffering: 0, chunksResent: 0, resumed: 0,
  };
  /** name -> identity of the last peer process we completed a pull from */
  readonly pulled = new Map<string, string>();
  private readonly rounds = new Map<number, Round>();
  private readonly byPeer = new Map<string, Round>();
  private readonly failures = new Map<string, number>();
  /** consecutive routine rounds we declined, per initiator */
  private readonly declined = new Map<string, number>();
  /** our answers (`ae`) to initiators, by name */
  private readonly answers: Answers;
  /** our push backs (`ap`) being streamed, by peer name */
  private readonly pushes = new Map<string, Streamed>();
  private readonly inbound: ChunkQueue;
  private readonly deferred = new DeferredDigests(); // urgent asks while we are being filled
  private nextRound = 0;
  /** routine ticks skipped in a row */
  private skips = 0;

  constructor(private readonly host: AeHost) {
    this.inbound = new ChunkQueue(host.clock, { piece: (_from, m, e) => this.mergePiece(m, e), merged: (from, m) => this.chunkMerged(from, m) }, host.nextTurn);
    this.answers = new Answers(host, (n) => void (this.counters.entriesSent += n));
  }

  /** The routine tick: a round with one live peer picked at random. */
  routine(peers: ReadonlyMap<string, AePeer & { inflight: { size: number } }>, random: Random): void {
    if (peers.size === 0) return;
    const link = [...peers.values()][randomInt(random, peers.size)]!;
    // While writes to a peer are in flight our digests differ anyway, and a
    // round would resend what the outbox is delivering; skip a few ticks
    // (never more than MAX_SKIPS in a row, so repairs still happen).
    if (link.inflight.size > 0 && this.skips < MAX_SKIPS) this.skips++;
    // Entries are streaming between us (either way): the digests differ by
    // what is on its way, and a round would compare a half-filled replica.
    else if (this.anyStreaming() || this.answers.has(link.name) || this.pushes.has(link.name)) return;
    else {
      this.skips = 0;
      this.start(link);
    }
  }

  /**
   * Pull from `peer`, joining a round already under way with it.
   * "periodic": a routine round, which a peer busy sending us writes may
   * decline. "urgent": the peer must answer (a member came back). "pull"
   * (catch-up): urgent, and a round whose digest has gone unanswered for
   * retransmitMs (it or the answer may be lost) is replaced by a new one,
   * which inherits its waiters; one already streaming is joined. "fresh"
   * (read barrier): never joins a round begun before (answered before the read).
   */
  start(peer: AePeer, done?: Done, kind: RoundKind = "periodic"): void {
    const h = this.host;
    const now = h.clock.now();
    let cur = this.byPeer.get(peer.name);
    const inherited: Done[] = [];
    if (cur !== undefined && cur.peer.id === peer.id) {
      // Fresh: after a transfer under way (replaced, reads could keep a big one from ending).
      if (kind === "fresh" && cur.want !== null) return void cur.done.push(() => this.start(peer, done, "fresh"));
      const stale = kind === "fresh" || (kind === "pull" && cur.want === null && !cur.parked && now - cur.progressAt >= h.config.retransmitMs);
      if (!stale && (kind === "periodic" || cur.urgent)) {
        if (done) cur.done.push(done);
        return;
      }
      this.rounds.delete(cur.r);
      inherited.push(...cur.done);
      cur = undefined;
    }
    if (done) inherited.push(done);
    const shift = Math.min(this.failures.get(peer.name) ?? 0, MAX_CHUNK_SHIFT);
    const round: Round = {
      r: ++this.nextRound,
      peer,
      urgent: kind !== "periodic",
      seq: h.arrivalSeq(),
      startedAt: now,
      progressAt: now,
      chunk: Math.max(1, h.config.chunkEntries >> shift),
      want: null,
      mine: 0,
      parked: false,
      ask: null,
      got: new Set(),
      last: -1,
      received: null,
      unmatched: null,
      prints: null,
      horizon: null,
      done: inherited,
    };
    this.rounds.set(round.r, round);
    this.byPeer.set(peer.name, round);
    this.counters.started++;
    h.send(peer.address, digestMsg(h.self, round.r, h.map.digest(), round.chunk, round.urgent));
    // A round with the peer's previous identity cannot complete; fail it only
    // now, so a callback that starts again joins the new round.
    if (cur !== undefined) this.finish(cur, false);
  }

  /** The replicator's tick: abandon rounds without progress, ask again for a lost `lw`, drive the streams' resends. */
  expire(now: number): void {
    const c = this.host.config;
    for (const round of [...this.rounds.values()]) {
      if (round.parked) round.progressAt = now; // waiting on a transfer that has its own timeout
      else if (now - round.progressAt >= c.roundTimeoutMs) {
        this.counters.timeouts++;
        this.failures.set(round.peer.name, (this.failures.get(round.peer.name) ?? 0) + 1);
        this.finish(round, false);
      } else if (round.ask !== null && round.got.size === 0 && now - round.progressAt >= c.retransmitMs) {
        this.host.send(round.peer.address, round.ask);
      }
    }
    for (const s of [...this.pushes.values()]) {
      const before = s.stream.resent;
      s.stream.tick(now);
      this.counters.chunksResent += s.stream.resent - before;
    }
    for (const round of this.rounds.values()) round.prints?.tick(now);
    const before = this.answers.resent;
    this.answers.tick(now);
    this.counters.chunksResent += this.answers.resent - before;
  }

  /** `name` left the live set: its round cannot complete, and nothing more goes to it. */
  peerGone(name: string): void {
    const round = this.byPeer.get(name);
    if (round !== undefined) this.finish(round, false);
    this.answers.abort(name);
    this.pushes.get(name)?.stream.abort();
    this.deferred.drop(name);
  }

  /** Fail every round and stop every stream (the replicator stops). */
  abortAll(): void {
    for (const round of [...this.rounds.values()]) this.finish(round, false);
    for (const s of [...this.pushes.values()]) s.stream.abort();
    this.answers.abortAll();
    this.inbound.clear();
  }

  private anyStreaming(): boolean {
    for (const r of this.rounds.values()) if (r.want !== null) return true;
    return false;
  }

  /** Whether our round with `name` is past the digests, exchanging entries. */
  streaming(name: string): boolean {
    const round = this.byPeer.get(name);
    return round !== undefined && round.want !== null;
  }

  /** Handle an anti-entropy message from `from`. */
  handle(from: Address, m: ReplMsg): void {
    switch (m.t) {
      case "dg":
        return this.answer(from, m);
      case "eq":
        return this.onEqual(m);
      case "bz": {
        const round = this.rounds.get(m.r);
        if (round !== undefined && answeredBy(round, m)) this.finish(round, false);
        return;
      }
      case "lf":
        return this.onLeaves(m);
      case "lw":
        // Our answer brings it our entries of every leaf it found differing:
        // a push back of ours to it (from our own round) would only repeat them.
        this.pushes.get(m.n)?.stream.abort();
        return this.answers.onWant(from, m);
      case "ls":
        return this.answers.onPrints(from, m);
      case "lk": {
        const round = this.byPeer.get(m.n);
        if (round === undefined || round.r !== m.r || !answeredBy(round, m)) return;
        round.progressAt = this.host.clock.now();
        round.prints?.ack(m.c);
        return;
      }
      case "ae":
      case "ap":
        this.inbound.push(from, m);
        return;
      case "ak":
        return this.answers.onAck(m);
      case "pk": {
        const s = this.pushes.get(m.n);
        if (s !== undefined && s.r === m.r) s.stream.ack(m.c);
        return;
      }
      default:
        return;
    }
  }

  private answer(from: Address, m: Extract<ReplMsg, { t: "dg" }>): void {
    const h = this.host;
    // A new round from this initiator: it gave up on any earlier one.
    this.answers.abort(m.n);
    if (m.u && this.anyStreaming()) return this.deferred.hold(from, m);
    // While our outbox is delivering writes to the initiator, a routine round
    // would mostly resend them, in bulk: decline it (a few times in a row at most).
    if (!m.u && h.sendingTo(m.n)) {
      const n = this.declined.get(m.n) ?? 0;
      if (n < MAX_DECLINES) {
        this.declined.set(m.n, n + 1);
        this.counters.declined++;
        h.send(from, busyMsg(h.self, m.r));
        return;
      }
    }
    // We are fetching entries (from anyone), or pushing ours to the
    // initiator: a routine round would pull our half-filled replica back.
    // Declined for as long as the transfer lasts; that transfer is the repair.
    if (!m.u && (this.anyStreaming() || this.pushes.has(m.n))) {
      this.counters.declined++;
      h.send(from, busyMsg(h.self, m.r));
      return;
    }
    this.declined.delete(m.n);
    const mine = h.map.digest();
    const { diff, empty } = differingBuckets(mine.h, m.digest.h, mine.buckets);
    if (diff.length + empty.length === 0) {
      h.equal(m.n, m.i, h.arrivalSeq());
      h.send(from, eqMsg(h.self, m.r));
      return;
    }
    h.send(from, leavesMsg(h.self, m.r, diff, h.map.leafDigest(diff), empty, h.map.horizon));
  }

  private onEqual(m: Extract<ReplMsg, { t: "eq" }>): void {
    const round = this.rounds.get(m.r);
    if (round === undefined || !answeredBy(round, m)) return;
    this.counters.equal++;
    this.host.equal(m.n, m.i, round.seq);
    this.complete(round);
  }

  /** The responder's leaf digests: ask for its entries of the differing leaves that are non-empty there. */
  private onLeaves(m: Extract<ReplMsg, { t: "lf" }>): void {
    const h = this.host;
    const round = this.rounds.get(m.r);
    if (round === undefined || !answeredBy(round, m) || round.want !== null || round.parked) return;
    round.progressAt = h.clock.now();
    // One transfer at a time: while another round streams entries to us,
    // this one waits, then starts over from a fresh digest (which by then
    // holds what the other brought: an empty node fetches the map once).
    if (this.anyStreaming()) {
      round.parked = true;
      return;
    }
    round.horizon = m.hz;
    const want = new Uint8Array(h.map.buckets * LEAVES);
    const n = h.map.diffLeaves(m.b, m.h, want);
    for (const b of m.e) want.fill(DIFFERS | THEIRS, b * LEAVES, (b + 1) * LEAVES);
    round.want = want;
    round.mine = n.mine;
    this.counters.leavesDiffering += n.differing + m.e.length * LEAVES;
    if (n.theirs === 0 && m.e.length === 0) return this.complete(round);
    // Which of their entries we already hold at least as new decides the push
    // back; nothing to decide when we hold nothing there (an empty joiner).
    if (n.mine > 0) round.received = new Map();
    const { full, printed, both } = splitWanted(want);
    round.ask = wantMsg(h.self, round.r, full, printed, round.chunk);
    h.send(round.peer.address, round.ask);
    if (both > 0) round.prints = startPrints(h, round, printed);
  }

  /** A piece of a received chunk (chunk-queue.ts merges a chunk over as many turns as it takes): merge it. */
  private mergePiece(m: Extract<ReplMsg, { t: "ae" | "ap" }>, e: DeltaEntry[]): boolean {
    this.counters.entriesReceived += e.length;
    const mine = this.roundOf(m);
    if (mine?.received) for (const x of e) mine.received.set(x.k, x.ts);
    // Valid entries are worth merging even for a round we gave up on.
    return this.host.mergeRemote({ e }, m); // false: not acked, resent, then abandoned
  }

  /** The round a chunk answers, if it is ours and still under way. */
  private roundOf(m: Extract<ReplMsg, { t: "ae" | "ap" }>): Round | undefined {
    const round = m.t === "ae" ? this.rounds.get(m.r) : undefined;
    return round !== undefined && answeredBy(round, m) ? round : undefined;
  }

  /** A received chunk, all merged: ack, and note it for its round. */
  private chunkMerged(from: Address, m: Extract<ReplMsg, { t: "ae" | "ap" }>): void {
    const h = this.host;
    const mine = this.roundOf(m);
    h.send(from, chunkAckMsg(m.t, h.self, m.r, m.c));
    if (mine === undefined || m.t !== "ae") return;
    mine.progressAt = h.clock.now();
    if (m.hz !== null && (mine.horizon === null || compareTs(m.hz, mine.horizon) > 0)) mine.horizon = m.hz;
    mine.got.add(m.c);
    if (m.l) {
      mine.last = m.c;
      mine.unmatched = m.u === null ? null : new Set(m.u);
    }
    if (mine.last >= 0 && mine.got.size >= mine.last + 1 && this.allUpTo(mine)) this.complete(mine);
  }

  /** No transfer left: the parked rounds start over, with our digest as it is now. */
  private resumeParked(): void {
    const h = this.host;
    if (this.anyStreaming()) return;
    this.deferred.release((from, m) => this.answer(from, m));
    for (const r of this.rounds.values()) {
      if (!r.parked) continue;
      r.parked = false;
      r.progressAt = h.clock.now();
      r.seq = h.arrivalSeq();
      h.send(r.peer.address, digestMsg(h.self, r.r, h.map.digest(), r.chunk, r.urgent));
      this.counters.resumed++;
    }
  }

  private allUpTo(round: Round): boolean {
    for (let c = 0; c <= round.last; c++) if (!round.got.has(c)) return false;
    return true;
  }

  /** We hold everything the responder had in the differing leaves: done, then push back. */
  private complete(round: Round): void {
    this.pulled.set(round.peer.name, round.peer.id);
    this.failures.delete(round.peer.name);
    this.finish(round, true);
    if (round.want !== null && round.mine > 0) this.pushBack(round, round.want);
  }

  /** Push back to the responder what it lacks, unless it is pulling from us: our answer brings it all of ours that it lacks. */
  private pushBack(round: Round, want: Uint8Array): void {
    const name = round.peer.name;
    this.pushes.get(name)?.stream.abort();
    if (this.answers.has(name)) return;
    const entry: Streamed = {
      r: round.r,
      stream: startPush(this.host, round, want, (n) => void (this.counters.entriesSent += n), () => {
        if (this.pushes.get(name) === entry) this.pushes.delete(name);
      }),
    };
    this.pushes.set(name, entry);
  }

  private finish(round: Round, ok: boolean): void {
    this.rounds.delete(round.r);
    round.prints?.abort();
    if (this.byPeer.get(round.peer.name) === round) this.byPeer.delete(round.peer.name);
    if (ok) this.counters.completed++;
    if (round.want !== null) this.resumeParked();
    for (const fn of round.done) {
      try {
        fn(ok);
      } catch (err) {
        this.host.logger.error("replication: anti-entropy callback failed", { error: String(err) });
      }
    }
  }
}

/** A reply counts for a round only from the process it was started with (restarted at that address, a peer answers as another, maybe empty one). */
const answeredBy = (round: Round, m: { n: string; i: string }): boolean => round.peer.name === m.n && round.peer.id === m.i;
