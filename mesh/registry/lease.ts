/**
 * Quorum lease: this node may serve process calls only while it has heard,
 * within `leaseMs`, from a majority of the holders of its committed
 * configuration (itself included), each AT THE SAME generation and epoch. A
 * holder that moved to a newer epoch stops counting at once, so a node left
 * behind (cut off, or slow to learn the change) stops serving within
 * `leaseMs`; the majority needs longer than that to declare it dead and
 * commit a configuration without it.
 *
 * "Heard" is measured from when our ping was SENT (the pong echoes our own
 * clock), never from when the pong arrived: a pong that spent a while in
 * flight must not stretch the lease past what the peer could vouch for.
 *
 * Each pong is a vouch: "count on me until your ping time + leaseMs". A node
 * remembers, per peer, when it last vouched and at which epoch that peer
 * was: a new owner under epoch E asks a majority how long a vouch given to
 * a node still at an older epoch may be counted on (`staleFor`), and waits
 * that out before serving what it took over (serving.ts). In a fence reply
 * a process that started less than a window ago answers as if it had
 * vouched until then: an earlier life of it (crashed, restarted under its
 * name) may have, and those vouches died with it.
 *
 * A lapse (a GC pause, a busy loop) takes nothing away: the next round of
 * pongs at the same epoch gives the lease back, with no per-name work.
 */
import type { Address, Clock, Timer, Transport } from "../types.ts";
import type { LeasePingMsg, LeasePongMsg } from "./messages.ts";
import { compareIds } from "../membership/identity.ts";

export interface LeasePeer {
  name: string;
  address: Address;
}

/** A generation and epoch: the stamp of a node's committed configuration. */
export interface Stamp {
  g: number;
  e: number;
}

export interface LeaseOptions {
  self: string;
  transport: Transport;
  clock: Clock;
  leaseMs: number;
  /** Live members to ping, self excluded. */
  peers(): LeasePeer[];
  /** Holder names of the committed configuration (self included when a holder). */
  holders(): readonly string[];
  /** This node's committed generation and epoch (pings and the pongs that count carry it). */
  stamp(): Stamp;
  /** What pongs say: the stamp, its epoch raised to the fence this node adopted. */
  fenceStamp(): Stamp;
  /** Whether this node is draining (told to peers on every ping). */
  draining(): boolean;
  /** A peer's ping said whether it drains (`id`: the incarnation that did, when the ping says). */
  onDrainFlag?(name: string, id: string | undefined, draining: boolean): void;
  /** This node's member id, said in its pings. */
  selfId?: string;
  /**
   * The member id this node knows under `name`. A ping from an earlier one
   * (its process since restarted: ids sort by start) is ignored whole: a
   * node frozen across a peer's drain and restart read the old process's
   * draining pings after it knew the new one, took the new one for
   * draining, and the leader dropped it for good (nemesis run, 5 nodes).
   */
  idOf?(name: string): string | undefined;
  /** The latest epoch (of the stamp's generation) this node reached serving at, or -1. */
  served(): number;
  /** Outside the configuration: whether this node pulled its peers' data (presync.ts). */
  synced?(): boolean;
}

export interface QuorumLease {
  /** Whether this node holds the lease now (`now`: the clock, if the caller just read it). */
  canServe(now?: number): boolean;
  /** Until when (local clock) it holds it; Infinity when it needs nobody. */
  servingUntil(): number;
  /** Answer a peer's ping (a vouch for it). */
  onPing(from: Address, msg: LeasePingMsg): void;
  /** Record a pong. */
  onPong(msg: LeasePongMsg): void;
  /** The latest epoch `name` said it served at, in generation `g` (-1 if unknown). */
  servedBy(name: string, g: number): number;
  /** Whether `name`'s latest ping said it pulled its peers' data from outside the configuration (presync.ts), or came from another generation than `g`. */
  syncedBy(name: string, g: number): boolean;
  /** Ms until every vouch this node gave to a node (other than those in `except`) last seen at a stamp older than `s` has run out. */
  staleFor(s: Stamp, except?: string | ReadonlySet<string>, earlierLife?: boolean): number;
  /** Ping one peer now (it just came up), or every peer when no address. */
  pingNow(address?: Address): void;
  /** The configuration or the stamp changed: forget pongs of another stamp, recount. */
  recompute(): void;
  /** Called each time the lease is (re)gained. */
  onGain(fn: () => void): void;
  stop(): void;
}

/** At most one ping back to a peer this often (answering its pings: see onPing). */
const PING_BACK_MS = 50;

const sameStamp = (a: Stamp, b: Stamp): boolean => a.g === b.g && a.e === b.e;
const olderStamp = (a: Stamp, than: Stamp): boolean => a.g === than.g && a.e < than.e;

export function createQuorumLease(opts: LeaseOptions): QuorumLease {
  const { self, transport, clock, leaseMs } = opts;
  const everyMs = Math.max(1, Math.floor(leaseMs / 4));
  // A vouch is remembered a little longer than it can count, for clocks that run at slightly different rates.
  const vouchWindowMs = leaseMs + Math.max(50, leaseMs / 10);
  /** peer -> the send time of our latest ping it answered at our stamp */
  const lastHeard = new Map<string, number>();
  let heardAt: Stamp = opts.stamp();
  /** peer -> when we last vouched for it, and its stamp then */
  const vouches = new Map<string, { at: number; g: number; e: number; r: number; y: number }>();
  let until = -Infinity;
  // Vouches live in memory: an earlier life of this node (before a crash and
  // restart under the same name) may have vouched until now + the window.
  const bornAt = clock.now();
  let stopped = false;
  let gained: () => void = () => {};
  let timer: Timer | undefined;
  /** holder -> when this node last pinged it back */
  const pingedBack = new Map<string, number>();

  function recompute(): void {
    const s = opts.stamp();
    if (!sameStamp(s, heardAt)) {
      // Pongs given at another epoch say nothing about this one.
      lastHeard.clear();
      heardAt = s;
    }
    const had = clock.now() < until;
    until = computeUntil();
    if (!had && clock.now() < until) gained();
  }

  function computeUntil(): number {
    const holders = opts.holders();
    if (!holders.includes(self)) return -Infinity;
    const need = Math.floor(holders.length / 2); // others needed besides self
    if (need <= 0) return Infinity;
    const heard: number[] = [];
    for (const v of holders) {
      if (v === self) continue;
      const t = lastHeard.get(v);
      if (t !== undefined) heard.push(t);
    }
    if (heard.length < need) return -Infinity;
    heard.sort((a, b) => b - a);
    return heard[need - 1]! + leaseMs;
  }

  function ping(address: Address): void {
    const s = opts.stamp();
    const msg: LeasePingMsg = { t: "lp", s: clock.now(), n: self, g: s.g, e: s.e, r: opts.served() };
    if (opts.selfId !== undefined) msg.i = opts.selfId;
    if (opts.synced?.() === true) msg.y = 1;
    if (opts.draining()) msg.dr = true;
    transport.send(address, msg);
  }

  function tick(): void {
    if (stopped) return;
    for (const p of opts.peers()) ping(p.address);
    timer = clock.setTimer(everyMs, tick);
  }

  recompute();
  // First round at once, so a fresh node gains its lease in one round trip.
  tick();

  return {
    // A lease that needs nobody (a cluster of one) needs no clock read either.
    canServe: (now?: number) => until === Infinity || (now ?? clock.now()) < until,
    servingUntil: () => until,
    onPing(from: Address, msg: LeasePingMsg): void {
      if (stopped) return;
      const known = msg.i === undefined ? undefined : opts.idOf?.(msg.n);
      if (known !== undefined && compareIds(msg.i!, known) < 0) return; // an earlier process under that name, read late
      vouches.set(msg.n, { at: clock.now(), g: msg.g, e: msg.e, r: msg.r ?? -1, y: msg.y ?? -1 });
      opts.onDrainFlag?.(msg.n, msg.i, msg.dr === true);
      const f = opts.fenceStamp();
      const pong: LeasePongMsg = { t: "lk", s: msg.s, n: self, g: f.g, e: f.e };
      transport.send(from, pong);
      // A holder that pings at our stamp while its pong would count and we
      // have none (it just learned the epoch we are at: the leader learns a
      // commit first, and its pings to nodes still at the old epoch count for
      // nothing) is asked back now, not at the next round: a new epoch's
      // lease comes back in a round trip, not up to leaseMs / 4 later.
      const now = clock.now();
      if (!sameStamp(msg, opts.stamp()) || (lastHeard.has(msg.n) && now < until)) return;
      if (now - (pingedBack.get(msg.n) ?? -Infinity) < PING_BACK_MS || !opts.holders().includes(msg.n)) return;
      pingedBack.set(msg.n, now);
      ping(from);
    },
    onPong(msg: LeasePongMsg): void {
      // A pong claiming a send time in our future is garbage; one at another stamp does not count.
      if (msg.s > clock.now() || !sameStamp(msg, opts.stamp())) return;
      const prev = lastHeard.get(msg.n);
      if (prev === undefined || msg.s > prev) {
        lastHeard.set(msg.n, msg.s);
        recompute();
      }
    },
    servedBy(name: string, g: number): number {
      const v = vouches.get(name);
      return v !== undefined && v.g === g ? v.r : -1;
    },
    syncedBy(name: string, g: number): boolean {
      const v = vouches.get(name);
      // A member at another generation (a survivor of an older one) holds
      // its own data and joins this one as before: only a fresh or dropped one pulls first.
      return v !== undefined && (v.y === 1 || (v.g !== 0 && v.g !== g));
    },
    staleFor(s: Stamp, except?: string | ReadonlySet<string>, earlierLife = false): number {
      const now = clock.now();
      // What an earlier life of this process vouched is forgotten: when asked to answer
      // for it too, assume the worst until a whole window has passed since this start.
      let wait = earlierLife ? bornAt + vouchWindowMs - now : 0;
      const skip = (n: string): boolean => n === self || (typeof except === "string" ? n === except : except?.has(n) === true);
      for (const [name, v] of vouches) {
        if (skip(name) || !olderStamp(v, s)) continue;
        wait = Math.max(wait, v.at + vouchWindowMs - now);
      }
      return Math.max(0, Math.ceil(wait));
    },
    pingNow(address?: Address): void {
      if (stopped) return;
      if (address !== undefined) ping(address);
      else for (const p of opts.peers()) ping(p.address);
    },
    recompute,
    onGain(fn: () => void): void {
      gained = fn;
    },
    stop(): void {
      stopped = true;
      timer?.cancel();
    },
  };
}
