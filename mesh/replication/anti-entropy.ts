/**
 * Anti-entropy rounds: repair whatever the outboxes missed (a peer that was
 * down, partitioned, or joined late) by comparing digests and exchanging
 * only the buckets that differ.
 *
 * Initiator -> {dg, digest}. A responder whose outbox is busy sending the
 * initiator writes may decline a routine round {bz}. Otherwise it diffs the
 * digest with its own: equal ->
 * {eq} (both sides record the equality, which tombstone GC relies on);
 * else it sends its entries of the differing buckets in chunks {ae}. Once the
 * initiator holds every chunk it sends back {ap} only its entries the
 * responder lacked or held older. A round that does not complete within
 * roundTimeoutMs is abandoned (the next one repairs what it missed), and the
 * next request to that peer asks for smaller chunks in case size was the cause.
 */
import { compareTs, type Timestamp } from "../../core/hlc.ts";
import { type Delta, type DeltaEntry, diffBuckets, type LwwMap } from "../../core/lww-map.ts";
import type { Address, Clock, Logger, Message, Random } from "../types.ts";
import { randomInt } from "../types.ts";
import type { ReplicationConfig } from "./config.ts";
import { aeMsg, busyMsg, digestMsg, eqMsg, pushMsg, type Inbound, type Sender } from "./messages.ts";

export interface AePeer {
  name: string;
  id: string;
  address: Address;
}

/** What anti-entropy needs from the replicator around it. */
export interface AeHost {
  readonly self: Sender;
  readonly map: LwwMap;
  readonly clock: Clock;
  readonly config: ReplicationConfig;
  readonly logger: Logger;
  send(to: Address, msg: Message): boolean;
  /** Merge remote entries (observe their timestamps, emit changes). False if refused. */
  mergeRemote(delta: Delta, from: Sender): boolean;
  /** Our digest equalled (name, id)'s while our tombstone arrival counter was `seq`. */
  equal(name: string, id: string, seq: number): void;
  /** The tombstone arrival counter now. */
  arrivalSeq(): number;
  /** Drop these tombstones: a peer proved they are everywhere by collecting them. */
  forget(keys: string[]): void;
  /** Whether writes to `name` are in flight (its digest differs from ours anyway). */
  sendingTo(name: string): boolean;
}

type Done = (ok: boolean) => void;

export type RoundKind = "periodic" | "urgent" | "pull";

interface Round {
  r: number;
  peer: AePeer;
  /** the responder may not decline it */
  urgent: boolean;
  /** arrival seq when our digest was taken */
  seq: number;
  startedAt: number;
  chunk: number;
  of: number;
  got: Set<number>;
  buckets: number[];
  received: Map<string, Timestamp>;
  /** the responder's collection horizon, as its answer said */
  horizon: Timestamp | null;
  done: Done[];
}

export interface AeCounters {
  started: number;
  completed: number;
  declined: number;
  equal: number;
  timeouts: number;
  entriesSent: number;
  entriesReceived: number;
}

const MAX_CHUNK_SHIFT = 4;
const MAX_DECLINES = 4;
const MAX_SKIPS = 4;

export class AntiEntropy {
  readonly counters: AeCounters = { started: 0, completed: 0, declined: 0, equal: 0, timeouts: 0, entriesSent: 0, entriesReceived: 0 };
  /** name -> identity of the last peer process we completed a pull from */
  readonly pulled = new Map<string, string>();
  private readonly rounds = new Map<number, Round>();
  private readonly byPeer = new Map<string, Round>();
  private readonly failures = new Map<string, number>();
  /** consecutive routine rounds we declined, per initiator */
  private readonly declined = new Map<string, number>();
  private nextRound = 0;
  /** routine ticks skipped in a row */
  private skips = 0;

  constructor(private readonly host: AeHost) {}

  /** The routine tick: a round with one live peer picked at random. */
  routine(peers: ReadonlyMap<string, AePeer & { inflight: { size: number } }>, random: Random): void {
    if (peers.size === 0) return;
    const link = [...peers.values()][randomInt(random, peers.size)]!;
    // While writes to a peer are in flight our digests differ anyway, and a
    // round would resend what the outbox is delivering; skip a few ticks
    // (never more than MAX_SKIPS in a row, so repairs still happen).
    if (link.inflight.size > 0 && this.skips < MAX_SKIPS) this.skips++;
    else {
      this.skips = 0;
      this.start(link);
    }
  }

  /**
   * Pull from `peer`, joining a round already under way with it.
   * "periodic": a routine round, which a peer busy sending us writes may
   * decline. "urgent": the peer must answer (a member came back). "pull"
   * (catch-up): urgent, and a round that has waited longer than
   * retransmitMs (its digest or answer may be lost) is replaced by a new
   * one, which inherits its waiters.
   */
  start(peer: AePeer, done?: Done, kind: RoundKind = "periodic"): void {
    const h = this.host;
    let cur = this.byPeer.get(peer.name);
    const inherited: Done[] = [];
    if (cur !== undefined && cur.peer.id === peer.id) {
      const stale = kind === "pull" && h.clock.now() - cur.startedAt >= h.config.retransmitMs;
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
      startedAt: h.clock.now(),
      chunk: Math.max(1, h.config.chunkEntries >> shift),
      of: 0,
      got: new Set(),
      buckets: [],
      received: new Map(),
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

  /** Abandon rounds past their timeout. */
  expire(now: number): void {
    for (const round of [...this.rounds.values()]) {
      if (now - round.startedAt < this.host.config.roundTimeoutMs) continue;
      this.counters.timeouts++;
      this.failures.set(round.peer.name, (this.failures.get(round.peer.name) ?? 0) + 1);
      this.finish(round, false);
    }
  }

  /** `name` left the live set: its round cannot complete. */
  peerGone(name: string): void {
    const round = this.byPeer.get(name);
    if (round !== undefined) this.finish(round, false);
  }

  /** Fail every round (the replicator stops). */
  abortAll(): void {
    for (const round of [...this.rounds.values()]) this.finish(round, false);
  }

  /** Handle dg / eq / ae / ap from `from`. */
  handle(from: Address, m: Inbound): void {
    switch (m.t) {
      case "dg":
        return this.answer(from, m);
      case "eq":
        return this.onEqual(m);
      case "bz": {
        const round = this.rounds.get(m.r);
        if (round !== undefined && round.peer.name === m.n) this.finish(round, false);
        return;
      }
      case "ae":
        return this.onEntries(m);
      case "ap":
        this.counters.entriesReceived += m.delta.e.length;
        this.host.mergeRemote(m.delta, m);
        return;
      default:
        return;
    }
  }

  private answer(from: Address, m: Extract<Inbound, { t: "dg" }>): void {
    const h = this.host;
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
    this.declined.delete(m.n);
    const diff = diffBuckets(h.map.digest(), m.digest);
    if (diff.length === 0) {
      h.equal(m.n, m.i, h.arrivalSeq());
      h.send(from, eqMsg(h.self, m.r));
      return;
    }
    const entries = h.map.entriesIn(diff).e;
    const chunks = split(entries, Math.min(m.z, h.config.chunkEntries));
    chunks.forEach((part, c) => {
      this.counters.entriesSent += part.length;
      h.send(from, aeMsg(h.self, m.r, diff, c, chunks.length, { e: part }, h.map.horizon));
    });
  }

  private onEqual(m: Extract<Inbound, { t: "eq" }>): void {
    const round = this.rounds.get(m.r);
    if (round === undefined || round.peer.name !== m.n) return;
    this.counters.equal++;
    this.host.equal(m.n, m.i, round.seq);
    this.pulled.set(m.n, m.i);
    this.finish(round, true);
  }

  private onEntries(m: Extract<Inbound, { t: "ae" }>): void {
    this.counters.entriesReceived += m.delta.e.length;
    // Valid entries are worth merging even for a round we gave up on.
    if (!this.host.mergeRemote(m.delta, m)) return;
    const round = this.rounds.get(m.r);
    if (round === undefined || round.peer.name !== m.n) return;
    if (round.of === 0) {
      round.of = m.of;
      round.buckets = m.b;
    } else if (round.of !== m.of) {
      return; // inconsistent chunking: let the round time out
    }
    if (round.got.has(m.c)) return;
    round.got.add(m.c);
    for (const e of m.delta.e) round.received.set(e.k, e.ts);
    if (m.hz !== null && (round.horizon === null || compareTs(m.hz, round.horizon) > 0)) round.horizon = m.hz;
    if (round.got.size < round.of) return;
    this.pushBack(round);
    this.pulled.set(m.n, m.i);
    this.failures.delete(m.n);
    this.finish(round, true);
  }

  /**
   * Send the responder our entries of the differing buckets that it lacks or
   * holds older. A tombstone it lacks at or below its horizon is one it
   * collected, which it did only once every member held it: we forget it too
   * (else our digests would differ for good and our own proof would never come).
   */
  private pushBack(round: Round): void {
    const h = this.host;
    const mine = h.map.entriesIn(round.buckets).e;
    const theirsLack: DeltaEntry[] = [];
    const collectedThere: string[] = [];
    for (const e of mine) {
      const ts = round.received.get(e.k);
      if (ts !== undefined && compareTs(e.ts, ts) <= 0) continue;
      if (ts === undefined && e.d === true && round.horizon !== null && compareTs(e.ts, round.horizon) <= 0) collectedThere.push(e.k);
      else theirsLack.push(e);
    }
    if (collectedThere.length > 0) h.forget(collectedThere);
    if (theirsLack.length === 0) return;
    const chunks = split(theirsLack, round.chunk);
    chunks.forEach((part, c) => {
      this.counters.entriesSent += part.length;
      h.send(round.peer.address, pushMsg(h.self, round.r, c, chunks.length, { e: part }));
    });
  }

  private finish(round: Round, ok: boolean): void {
    this.rounds.delete(round.r);
    if (this.byPeer.get(round.peer.name) === round) this.byPeer.delete(round.peer.name);
    if (ok) this.counters.completed++;
    for (const fn of round.done) {
      try {
        fn(ok);
      } catch (err) {
        this.host.logger.error("replication: anti-entropy callback failed", { error: String(err) });
      }
    }
  }
}

/** `items` in consecutive parts of at most `size` (one empty part if none). */
function split<T>(items: T[], size: number): T[][] {
  if (items.length <= size) return [items];
  const out: T[][] = [];
  for (let k = 0; k < items.length; k += size) out.push(items.slice(k, k + size));
  return out;
}
