/**
 * This node's right to serve, per committed configuration (holders.ts). One
 * state at a time, every transition in `become` and the handlers below:
 *
 *   outside   no committed configuration yet, or this node is not a holder
 *             of it: it owns nothing and serves nothing
 *   waiting   a new epoch E: ask a majority of the holders how long a lease
 *             they granted a node still at an older epoch may be counted on
 *             (from the question on they stamp their pongs with E, so no
 *             such lease is renewed), and wait that out, asking again every
 *             retryMs (a lease stops counting as soon as its node pings at
 *             E; every node pings when it learns an epoch), so a change among
 *             live nodes waits a round trip, not a lease. An old owner's
 *             writes made under its lease meanwhile are still accepted
 *   fencing   ask the holders to adopt fence E (from then on they refuse
 *             writes stamped older); wait for a majority (self included)
 *   pulling   catch up once from exactly those holders: every write a
 *             majority acknowledged before they adopted E is among them
 *             (two majorities intersect), and none stamped older can be
 *             acknowledged after
 *   serving   every name this node owns under E is served, with no further
 *             round trip per name, until the next epoch
 *
 * Waiting comes before fencing so that an old owner still inside its lease
 * is not refused a write it already applied on its own replica (such an
 * orphan would spread later by anti-entropy). During a transition the names
 * this node has owned without a break since it last served keep being
 * served (nobody else could have written them). A lapse of the lease (a
 * pause, a busy loop) changes nothing here. The epoch here is the Raft
 * configuration's `placed`: a promotion or a demotion keeps the holders, so
 * it is no new epoch for serving, stamps or fences.
 */
import { ownerOf } from "../../core/placement.ts";
import type { PulledFrom } from "../replication/api.ts";
import type { Address, Clock, Logger, Timer, Transport } from "../types.ts";
import { type HolderConfig, holderIds, holderNames, isHolder, isNewer, majorityOf } from "./holders.ts";
import type { QuorumLease } from "./lease.ts";
import type { FenceQueryMsg, FenceReplyMsg } from "./messages.ts";
import type { Owners } from "./owners.ts";

/** How long a fencing node waits for a holder that has served, before it pulls from one that never did. */
export const FENCE_GRACE_MS = 300;
/** How often a waiting node recounts with its own vouches (local work, no message). */
const RECOUNT_MS = 10;

export type ServingState =
  | { kind: "outside"; cfg: HolderConfig | null }
  | {
      kind: "waiting";
      cfg: HolderConfig;
      until: number;
      /** Not before then: what an unfinished wait at an earlier epoch still had to wait out (its holders' vouches may not be this epoch's). */
      floor: number;
      q: number;
      first: number;
      askedAt: number;
      replies: Map<string, number>;
      atEpoch: Set<string>;
    }
  | {
      kind: "fencing";
      cfg: HolderConfig;
      q: number;
      /** holder -> the latest epoch it said it served at (-1: none) */
      replies: Map<string, number>;
      /** when enough had adopted, some of them never having served (the wait for others began) */
      since: number | null;
    }
  | { kind: "pulling"; cfg: HolderConfig }
  | { kind: "serving"; cfg: HolderConfig };

/** What serving needs of the replicator: stamps, fences and a pull from chosen peers (reporting which process answered each). */
export interface FencingReplicator {
  setEpoch(epoch: number, holders: readonly string[], ids?: ReadonlyMap<string, string>): void;
  adoptFence(epoch: number): void;
  fence(): number; // the fence now (at least the epoch)
  resetFence?(epoch: number): void; // a new generation starts its epochs over
  catchUpFrom(peers: readonly string[], need: number, timeoutMs: number, fresh?: boolean): Promise<readonly PulledFrom[]>;
  /** A read barrier's pull by covers (replication api.ts); absent: catchUpFrom(..., true). */
  barrierFrom?(peers: readonly string[], need: number, timeoutMs: number): Promise<readonly PulledFrom[]>;
  /** A write barrier's pull by clocks (replication api.ts); absent: the read barrier's. */
  clockFrom?(peers: readonly string[], need: number, timeoutMs: number): Promise<readonly PulledFrom[]>;
  /** Both as in replication api.ts. */
  ordersWrites?(): boolean;
  readLease?(holders: readonly { name: string; id: string }[]): boolean;
}

export interface ServingOptions {
  self: { name: string; id: string };
  clock: Clock;
  transport: Transport;
  logger: Logger;
  owners: Owners;
  lease: QuorumLease;
  replicator: FencingReplicator;
  retryMs: number;
  catchUpTimeoutMs: number;
  /** How long a vouch lasts: an unfinished wait carried into the next epoch lasts at most this from then. */
  leaseMs: number;
  /** No transport reaches this node (the in-process cluster of one): see startWaiting. */
  isolated?: boolean;
}

export class ServingRights {
  #state: ServingState = { kind: "outside", cfg: null };
  /** The last configuration this node reached `serving` in, and the ones after it (consecutive). */
  #served: HolderConfig | null = null;
  #chain: HolderConfig[] = [];
  /** Holder names of #served and #chain, made on first need (calls during a transition ask for each). */
  #placements: string[][] | undefined;
  #q = 0;
  /** The highest epoch a peer asked about (our pongs carry at least it). */
  #heard = 0;
  #timer: Timer | undefined;
  #listeners: (() => void)[] = [];
  /** Catch-ups run, and those that failed, for stats. */
  readonly counts = { catchUps: 0, catchUpFailures: 0 };
  #stopped = false;

  constructor(private readonly o: ServingOptions) {}

  get state(): ServingState {
    return this.#state;
  }

  /** The committed generation and epoch this node is at (0/0 before any). */
  stamp(): { g: number; e: number } {
    const c = this.#state.cfg;
    return c === null ? { g: 0, e: 0 } : { g: c.generation, e: c.epoch };
  }

  /** The latest epoch of this generation this node reached `serving` at, or -1. */
  servedEpoch(): number {
    return this.#served?.epoch ?? -1;
  }

  /** Holds every write a majority acknowledged before it joined, and is a holder now. */
  ready(): boolean {
    return this.#served !== null && this.#state.kind !== "outside";
  }

  /** Whether a call for `name`, which this node owns under its configuration, may run here now. */
  mayServe(name: string): boolean {
    const s = this.#state;
    if (s.kind === "serving") return true;
    if (s.kind === "outside" || this.#served === null) return false;
    // Owned here without a break since the last epoch this node served in.
    const self = this.o.self.name;
    this.#placements ??= [this.#served, ...this.#chain].map(holderNames);
    for (const members of this.#placements) if (ownerOf(name, members) !== self) return false;
    return true;
  }

  /** Called whenever serving rights may have grown (a process may start, parked calls may run). */
  onChange(fn: () => void): void {
    this.#listeners.push(fn);
  }

  onConfig(c: HolderConfig): void {
    const cur = this.#state.cfg;
    // A promotion or demotion keeps the placement's epoch: not newer, nothing moves.
    if (this.#stopped || !isNewer(cur, c)) return;
    const sameGeneration = cur !== null && cur.generation === c.generation;
    // No placement came between the one this node holds and this one.
    const follows = sameGeneration && c.previous === cur.epoch;
    const { replicator, owners, self } = this.o;
    if (cur !== null && !sameGeneration) {
      // Another log: nothing of the last one's epochs carries over.
      replicator.resetFence?.(c.epoch);
      this.#served = null;
      this.#chain = [];
      this.#placements = undefined;
      this.#heard = 0;
    }
    replicator.setEpoch(c.epoch, holderNames(c), holderIds(c));
    owners.setConfig(c, follows);
    if (this.#served !== null) {
      // A gap (configurations learned through a snapshot, or a notice): continuity cannot be shown.
      if (follows) {
        this.#chain.push(c);
        this.#placements = undefined;
      }
      else {
        this.#served = null;
        this.#chain = [];
        this.#placements = undefined;
      }
    }
    if (!isHolder(c, self.name, self.id)) this.become({ kind: "outside", cfg: c });
    else this.startWaiting(c);
    // After the state holds the new configuration: pings carry the new stamp.
    this.o.lease.recompute();
    this.o.lease.pingNow();
  }

  private become(s: ServingState): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#state = s;
    if (s.kind === "serving") {
      this.#served = s.cfg;
      this.#chain = [];
      this.#placements = undefined;
      this.o.logger.info("serving", { generation: s.cfg.generation, epoch: s.cfg.epoch, holders: holderNames(s.cfg) });
      // The configuration's leader waits for a majority to get here before the next change.
      this.o.lease.pingNow();
    }
    for (const fn of this.#listeners) fn();
  }

  /** Send a question of round `q` to every holder of `c` (but self) in the incarnation it holds, not yet in `skip`. */
  private ask(c: HolderConfig, q: number, adopt: boolean, skip: ReadonlyMap<string, number>): void {
    const { owners, transport } = this.o;
    const msg: FenceQueryMsg = { t: "fq", q, g: c.generation, e: c.epoch };
    if (adopt) msg.a = true;
    for (const h of c.holders) {
      if (h.name === this.o.self.name || skip.has(h.name) || owners.idOf(h.name) !== h.id) continue;
      const addr = owners.addressOf(h.name);
      if (addr !== undefined) transport.send(addr, msg);
    }
  }

  private startWaiting(c: HolderConfig): void {
    // An epoch that comes while this node still waits out old leases for the last one
    // carries that wait over: the old holders (not all of them holders now) may have
    // vouched for an old owner, and only they could say for how long. Unknown yet
    // (not enough answers): every vouch given so far ends within a lease from now.
    const prev = this.#state;
    const now = this.o.clock.now();
    const floor = prev.kind === "waiting" && prev.cfg.generation === c.generation ? Math.max(prev.floor, Math.min(prev.until, now + this.o.leaseMs)) : -Infinity;
    if (majorityOf(c) - 1 <= 0) {
      // Alone (the first node of a generation): nobody to ask, but its own vouches count,
      // an earlier life's included (restarted nodes starting a new generation while a
      // survivor of the old one may still hold a lease they gave it). An isolated node
      // answers for no earlier life: no peer can reach it, so its replica is its own and
      // no lease anywhere, given by any life under its name, covers a name it serves.
      const own = Math.max(this.o.lease.staleFor({ g: c.generation, e: c.epoch }, undefined, this.o.isolated !== true), floor - now);
      if (own <= 0) return this.startFencing(c);
      this.become({ kind: "waiting", cfg: c, until: now + own, floor, q: this.#q, first: this.#q + 1, askedAt: Infinity, replies: new Map(), atEpoch: new Set() });
      this.#timer = this.o.clock.setTimer(own, () => {
        if (this.#state.kind === "waiting" && this.#state.cfg === c) this.startFencing(c);
      });
      return;
    }
    const q = ++this.#q;
    this.become({ kind: "waiting", cfg: c, until: Infinity, floor, q, first: q, askedAt: -Infinity, replies: new Map(), atEpoch: new Set() });
    this.waitOrAsk();
  }

  /**
   * Waiting: ask the holders again (a new round each retryMs; a late answer
   * to an earlier round still counts), and every few ms recount with this
   * node's own vouches (a peer's ping at the new epoch frees it at once).
   */
  private waitOrAsk(): void {
    const s = this.#state;
    if (s.kind !== "waiting") return;
    const now = this.o.clock.now();
    this.recount(s, now);
    if (now >= s.until) return this.startFencing(s.cfg);
    if (now - s.askedAt >= this.o.retryMs) {
      s.q = ++this.#q;
      s.askedAt = now;
      this.ask(s.cfg, s.q, false, new Map());
    }
    const next = Math.max(1, Math.min(RECOUNT_MS, this.o.retryMs, s.until - now));
    this.#timer = this.o.clock.setTimer(next, () => this.waitOrAsk());
  }

  /** Until when old leases may count: this node's own vouches and the `need` holders that answered with the earliest ends. */
  private recount(s: Extract<ServingState, { kind: "waiting" }>, now: number): void {
    const need = majorityOf(s.cfg) - 1;
    if (s.replies.size < need) return;
    const ends = [...s.replies.values()].sort((a, b) => a - b);
    const own = now + this.o.lease.staleFor({ g: s.cfg.generation, e: s.cfg.epoch }, s.atEpoch);
    // Two majorities meet: this node and those `need` holders cover every old lease.
    s.until = Math.min(s.until, Math.max(own, ends[need - 1]!, s.floor));
  }

  private startFencing(c: HolderConfig): void {
    if (majorityOf(c) - 1 <= 0) return this.pull(c, []);
    this.become({ kind: "fencing", cfg: c, q: ++this.#q, replies: new Map(), since: null });
    this.askFence();
  }

  private askFence(): void {
    const s = this.#state;
    if (s.kind !== "fencing") return;
    this.ask(s.cfg, s.q, true, s.replies);
    this.#timer = this.o.clock.setTimer(this.o.retryMs, () => {
      if (this.#state === s) this.pullIfEnough(s);
      this.askFence();
    });
  }

  /**
   * Enough holders adopted the fence: pull from a majority of them, those
   * that have served in this generation first. Any majority of adopters
   * would do (each one's writes are fenced, and a majority meets every
   * majority that acknowledged a write); but one that never served, a
   * restarted node still catching up, holds little and is busy, and the
   * pull waited for its catch-up to end (hostile-rejoin-write-stall: 19 s
   * at 1M people). So it is taken only when every holder answered, or no
   * other answered within FENCE_GRACE_MS.
   */
  private pullIfEnough(s: Extract<ServingState, { kind: "fencing" }>): void {
    const need = majorityOf(s.cfg) - 1;
    if (s.replies.size < need) return;
    const names = [...s.replies.keys()];
    const served = names.filter((n) => s.replies.get(n)! >= 0);
    const now = this.o.clock.now();
    s.since ??= now;
    const everyone = s.replies.size >= s.cfg.holders.filter((h) => h.name !== this.o.self.name).length;
    if (served.length < need && !everyone && now - s.since < FENCE_GRACE_MS) return;
    this.#timer?.cancel();
    this.pull(s.cfg, [...served, ...names.filter((n) => s.replies.get(n)! < 0)].slice(0, need));
  }

  /** A peer at epoch `m.e` asks: say how long old leases may count; with `a`, adopt the fence too. */
  onFenceQuery(from: Address, m: FenceQueryMsg): void {
    const mine = this.#state.cfg;
    // Another generation's epochs mean nothing here.
    if (this.#stopped || (mine !== null && mine.generation !== m.g)) return;
    // From now on our pongs say this epoch: no node left at an older one renews its lease with them.
    if (mine !== null) this.#heard = Math.max(this.#heard, m.e);
    if (m.a === true) this.o.replicator.adoptFence(m.e);
    // Old leases: those we vouched for (the asker's own does not count: it knows the new epoch), and our own if
    // we serve under an older one: the asker counts us in a majority meeting every old lease's (SOAK seed 13630).
    const until = mine !== null && mine.epoch < m.e ? this.o.lease.servingUntil() : -Infinity;
    const w = Math.max(this.o.lease.staleFor({ g: m.g, e: m.e }, this.o.owners.nameOf(from), true), until === Infinity ? this.o.leaseMs : Math.ceil(until - this.o.clock.now()));
    const served = mine !== null && mine.generation === m.g ? this.servedEpoch() : -1;
    const reply: FenceReplyMsg = { t: "fr", q: m.q, g: m.g, e: m.e, w, c: this.stamp().e, s: served };
    this.o.transport.send(from, reply);
  }

  /** The highest epoch of this generation this node has heard of (pongs carry it). */
  heardEpoch(): number {
    return Math.max(this.#heard, this.#state.cfg?.epoch ?? 0);
  }

  onFenceReply(from: Address, m: FenceReplyMsg): void {
    const s = this.#state;
    if (s.kind !== "fencing" && s.kind !== "waiting") return;
    if (m.g !== s.cfg.generation || m.e !== s.cfg.epoch) return;
    // Fencing counts its own round only; waiting, any round it asked (replies may come late).
    if (s.kind === "fencing" ? m.q !== s.q : m.q < s.first || m.q > s.q) return;
    const name = this.o.owners.nameOf(from);
    // Only a holder of this configuration, in the incarnation it holds, counts (by name and id: it may list an older one too).
    if (name === undefined || !s.cfg.holders.some((x) => x.name === name && x.id === this.o.owners.idOf(name))) return;
    const need = majorityOf(s.cfg) - 1;
    if (s.kind === "fencing") {
      // A node from before `s` said nothing of it: taken as one that served.
      s.replies.set(name, m.s ?? 0);
      this.pullIfEnough(s);
      return;
    }
    // Waiting: each holder's latest word, as the local time its leases run out.
    const now = this.o.clock.now();
    s.replies.set(name, now + Math.max(0, m.w));
    // A holder already at this epoch routes by it: a lease this node gave it under an older one no longer matters.
    if (m.c !== undefined && m.c >= s.cfg.epoch) s.atEpoch.add(name);
    this.recount(s, now);
    if (now >= s.until) this.startFencing(s.cfg);
  }

  private pull(c: HolderConfig, from: string[]): void {
    this.become({ kind: "pulling", cfg: c });
    this.counts.catchUps++;
    const failed = (err: unknown): void => {
      if (this.#state.kind !== "pulling" || this.#state.cfg !== c) return;
      this.counts.catchUpFailures++;
      this.o.logger.warn("catch-up for a new epoch failed; fencing again", { epoch: c.epoch, error: String(err) });
      this.#timer = this.o.clock.setTimer(this.o.retryMs, () => {
        if (this.#state.kind === "pulling" && this.#state.cfg === c) this.startFencing(c);
      });
    };
    const done = (pulled: readonly PulledFrom[]): void => {
      if (this.#state.kind !== "pulling" || this.#state.cfg !== c) return;
      // The replicator pulls by name and address: a holder that restarted
      // meanwhile answers in its new incarnation, which may hold nothing yet
      // (soak seed 786: n1 caught up from the restarted, half-filled n2 and
      // served rooms it lacked as unknown). Only a round answered by the
      // incarnation the configuration holds (the one whose fence answer
      // counted) counts, whether this node sees it live now or not: what
      // the view says at the end cannot tell whom the pull reached.
      const by = new Map(pulled.map((p) => [p.name, p.id]));
      const other = from.filter((n) => !c.holders.some((h) => h.name === n && h.id === by.get(n)));
      if (other.length > 0) return failed(`not pulled from the configuration's incarnation of ${other.join(", ")}`);
      this.become({ kind: "serving", cfg: c });
    };
    if (from.length === 0) return done([]);
    // Fresh rounds: one begun before a holder adopted the fence may have been answered before it did.
    this.o.replicator.catchUpFrom(from, from.length, this.o.catchUpTimeoutMs, true).then(done, failed);
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }
}
