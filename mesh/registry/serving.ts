/**
 * This node's right to serve, per committed configuration (holders.ts). One
 * state at a time, every transition in `become` and the handlers below:
 *
 *   outside   no committed configuration yet, or this node is not a holder
 *             of it: it owns nothing and serves nothing
 *   fencing   a new epoch E: ask the holders to adopt fence E (from then on
 *             they refuse writes stamped older) and to say how long a lease
 *             they granted under an older epoch may still be counted on;
 *             wait for a majority (self included)
 *   pulling   catch up once from exactly those holders: every write a
 *             majority acknowledged before they adopted E is among them
 *             (two majorities intersect), and none stamped older can be
 *             acknowledged after
 *   waiting   the longest of those old leases runs out: no node left behind
 *             at an older epoch can still be serving what moved here. The
 *             holders are asked again every retryMs: a lease they reported
 *             stops counting as soon as its holder pings at the new epoch
 *             (every node pings at once when it learns one), so a change
 *             among live nodes waits a round trip, not a whole lease
 *   serving   every name this node owns under E is served, with no further
 *             round trip per name, until the next epoch
 *
 * During a transition the names this node has owned without a break since
 * it last served keep being served (nobody else could have written them).
 * A lapse of the lease (a pause, a busy loop) changes nothing here.
 */
import { ownerOf } from "../../core/placement.ts";
import type { Address, Clock, Logger, Timer, Transport } from "../types.ts";
import { type HolderConfig, holderNames, isHolder, isNewer, majorityOf } from "./holders.ts";
import type { QuorumLease } from "./lease.ts";
import type { FenceQueryMsg, FenceReplyMsg } from "./messages.ts";
import type { Owners } from "./owners.ts";

export type ServingState =
  | { kind: "outside"; cfg: HolderConfig | null }
  | { kind: "fencing"; cfg: HolderConfig; q: number; replies: Map<string, number> }
  | { kind: "pulling"; cfg: HolderConfig; wait: number }
  | { kind: "waiting"; cfg: HolderConfig; until: number; q: number; replies: Map<string, number> }
  | { kind: "serving"; cfg: HolderConfig };

/** What serving needs of the replicator: stamps, fences and a pull from chosen peers. */
export interface FencingReplicator {
  setEpoch(epoch: number, holders: readonly string[]): void;
  adoptFence(epoch: number): void;
  /** The fence now (at least the epoch). */
  fence(): number;
  /** A new generation starts its epochs over: the fence goes back to `epoch`. */
  resetFence?(epoch: number): void;
  catchUpFrom(peers: readonly string[], need: number, timeoutMs: number): Promise<string[]>;
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
}

export class ServingRights {
  #state: ServingState = { kind: "outside", cfg: null };
  /** The last configuration this node reached `serving` in, and the ones after it (consecutive). */
  #served: HolderConfig | null = null;
  #chain: HolderConfig[] = [];
  #q = 0;
  #timer: Timer | undefined;
  #listeners: (() => void)[] = [];
  /** Fence rounds and catch-ups run, for stats. */
  readonly counts = { fenceRounds: 0, catchUps: 0, catchUpFailures: 0 };
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
    if (ownerOf(name, holderNames(this.#served)) !== self) return false;
    for (const c of this.#chain) if (ownerOf(name, holderNames(c)) !== self) return false;
    return true;
  }

  /** Called whenever serving rights may have grown (a process may start, parked calls may run). */
  onChange(fn: () => void): void {
    this.#listeners.push(fn);
  }

  onConfig(c: HolderConfig): void {
    if (this.#stopped || !isNewer(this.#state.cfg, c)) return;
    const prev = this.#state.cfg;
    const { replicator, owners, self } = this.o;
    const names = holderNames(c);
    if (prev !== null && prev.generation !== c.generation) {
      // Another log: nothing of the last one's epochs carries over.
      replicator.resetFence?.(c.epoch);
      this.#served = null;
      this.#chain = [];
    }
    replicator.setEpoch(c.epoch, names);
    owners.setConfig(c);
    if (this.#served !== null) {
      const last = this.#chain.length > 0 ? this.#chain[this.#chain.length - 1]! : this.#served;
      // A gap (configurations learned through a snapshot): continuity cannot be shown.
      if (c.epoch === last.epoch + 1) this.#chain.push(c);
      else {
        this.#served = null;
        this.#chain = [];
      }
    }
    if (!isHolder(c, self.name, self.id)) this.become({ kind: "outside", cfg: c });
    else this.startFencing(c);
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
      this.o.logger.info("serving", { generation: s.cfg.generation, epoch: s.cfg.epoch, holders: holderNames(s.cfg) });
      // The configuration's leader waits for a majority to get here before the next change.
      this.o.lease.pingNow();
    }
    for (const fn of this.#listeners) fn();
  }

  private startFencing(c: HolderConfig): void {
    const need = majorityOf(c) - 1;
    this.counts.fenceRounds++;
    if (need <= 0) return this.pull(c, [], 0);
    this.become({ kind: "fencing", cfg: c, q: ++this.#q, replies: new Map() });
    this.askFence();
  }

  private askFence(): void {
    const s = this.#state;
    if (s.kind !== "fencing") return;
    const { owners, transport } = this.o;
    const msg: FenceQueryMsg = { t: "fq", q: s.q, g: s.cfg.generation, e: s.cfg.epoch };
    for (const h of s.cfg.holders) {
      if (h.name === this.o.self.name || s.replies.has(h.name) || owners.idOf(h.name) !== h.id) continue;
      const addr = owners.addressOf(h.name);
      if (addr !== undefined) transport.send(addr, msg);
    }
    this.#timer = this.o.clock.setTimer(this.o.retryMs, () => this.askFence());
  }

  /** A peer asks us to adopt its epoch. */
  onFenceQuery(from: Address, m: FenceQueryMsg): void {
    const mine = this.#state.cfg;
    // Another generation's epochs mean nothing here.
    if (this.#stopped || (mine !== null && mine.generation !== m.g)) return;
    this.o.replicator.adoptFence(m.e);
    // The asker's own old lease does not count: it knows the new epoch.
    const asker = this.o.owners.nameOf(from);
    const reply: FenceReplyMsg = { t: "fr", q: m.q, g: m.g, e: m.e, w: this.o.lease.staleFor({ g: m.g, e: m.e }, asker) };
    this.o.transport.send(from, reply);
  }

  onFenceReply(from: Address, m: FenceReplyMsg): void {
    const s = this.#state;
    if ((s.kind !== "fencing" && s.kind !== "waiting") || m.q !== s.q || m.g !== s.cfg.generation || m.e !== s.cfg.epoch) return;
    const name = this.o.owners.nameOf(from);
    const h = s.cfg.holders.find((x) => x.name === name);
    // Only a holder of this configuration, in the incarnation it holds, counts.
    if (name === undefined || h === undefined || this.o.owners.idOf(name) !== h.id) return;
    s.replies.set(name, Math.max(0, m.w));
    if (s.replies.size < majorityOf(s.cfg) - 1) return;
    const wait = Math.max(...s.replies.values());
    if (s.kind === "fencing") return this.pull(s.cfg, [...s.replies.keys()], wait);
    // Asked again while waiting: a majority says the old leases are over sooner.
    s.until = Math.min(s.until, this.o.clock.now() + wait);
    if (this.o.clock.now() >= s.until) this.become({ kind: "serving", cfg: s.cfg });
  }

  /** Waiting: ask the holders again (new round) and check the clock. */
  private waitOrAsk(): void {
    const s = this.#state;
    if (s.kind !== "waiting") return;
    if (this.o.clock.now() >= s.until) return this.become({ kind: "serving", cfg: s.cfg });
    s.q = ++this.#q;
    s.replies = new Map();
    const msg: FenceQueryMsg = { t: "fq", q: s.q, g: s.cfg.generation, e: s.cfg.epoch };
    for (const h of s.cfg.holders) {
      if (h.name === this.o.self.name || this.o.owners.idOf(h.name) !== h.id) continue;
      const addr = this.o.owners.addressOf(h.name);
      if (addr !== undefined) this.o.transport.send(addr, msg);
    }
    this.#timer = this.o.clock.setTimer(Math.min(this.o.retryMs, s.until - this.o.clock.now()), () => this.waitOrAsk());
  }

  private pull(c: HolderConfig, from: string[], wait: number): void {
    const startedAt = this.o.clock.now();
    this.become({ kind: "pulling", cfg: c, wait });
    this.counts.catchUps++;
    const done = (): void => {
      if (this.#state.kind !== "pulling" || this.#state.cfg !== c) return;
      const until = startedAt + wait;
      if (this.o.clock.now() >= until) return this.become({ kind: "serving", cfg: c });
      this.become({ kind: "waiting", cfg: c, until, q: this.#q, replies: new Map() });
      this.waitOrAsk();
    };
    if (from.length === 0) return done();
    this.o.replicator.catchUpFrom(from, from.length, this.o.catchUpTimeoutMs).then(done, (err: unknown) => {
      if (this.#state.kind !== "pulling" || this.#state.cfg !== c) return;
      this.counts.catchUpFailures++;
      this.o.logger.warn("catch-up for a new epoch failed; fencing again", { epoch: c.epoch, error: String(err) });
      this.#timer = this.o.clock.setTimer(this.o.retryMs, () => {
        if (this.#state.kind === "pulling" && this.#state.cfg === c) this.startFencing(c);
      });
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }
}
