/**
 * Quorum lease: this node may serve process calls only while it has heard,
 * within `leaseMs`, from a majority of the member names that have not left
 * (itself included; dead ones count against it, as a partitioned node looks
 * dead). The other side needs longer than `leaseMs` to declare this node
 * dead, so a node cut off from the majority stops serving before anyone
 * takes its names over.
 *
 * "Heard" is measured from when our ping was SENT (the pong echoes our own
 * clock), never from when the pong arrived: a pong that spent a while in
 * flight must not stretch the lease past what the peer could vouch for.
 *
 * Each pong is a vouch: "you may count on me until your ping time +
 * leaseMs". A node remembers whom it vouched for; a majority that has not
 * vouched for X within the window proves X holds no lease now (two
 * majorities intersect), which is what lets another node take X's names
 * over while X's own view of itself is "alive" (see activation.ts).
 */
import type { Address, Clock, Timer, Transport } from "../types.ts";
import type { LeasePingMsg, LeasePongMsg } from "./messages.ts";

export interface LeasePeer {
  name: string;
  address: Address;
}

export interface LeaseOptions {
  self: string;
  transport: Transport;
  clock: Clock;
  leaseMs: number;
  /** Live members to ping, self excluded. */
  peers(): LeasePeer[];
  /** Names of every member that has not left, self included. */
  voters(): string[];
  /** Whether this node is draining (told to peers on every ping). */
  draining(): boolean;
}

export interface QuorumLease {
  /** Whether this node holds the lease now (`now`: the clock, if the caller just read it). */
  canServe(now?: number): boolean;
  /** Until when (local clock) it holds it; Infinity when it needs nobody. */
  servingUntil(): number;
  /**
   * Bumped each time the lease is regained after it lapsed. A process
   * confirmed under an older epoch may have been taken over meanwhile: it
   * must be confirmed again before it serves.
   */
  epoch(): number;
  /** Answer a peer's ping (a vouch for it). */
  onPing(from: Address, msg: LeasePingMsg): void;
  /** Record a pong. */
  onPong(msg: LeasePongMsg): void;
  /** Names this node vouched for within the window (their lease may rest on it). */
  vouched(): string[];
  /** Whether this node vouched for `name` within the window. */
  vouches(name: string): boolean;
  /** Ping one peer now (it just came up), or every peer when no address. */
  pingNow(address?: Address): void;
  /** Membership changed: the voter set may have. */
  recompute(): void;
  /** Called each time the lease is (re)gained. */
  onGain(fn: () => void): void;
  stop(): void;
}

export function createQuorumLease(opts: LeaseOptions): QuorumLease {
  const { self, transport, clock, leaseMs } = opts;
  const everyMs = Math.max(1, Math.floor(leaseMs / 4));
  // A vouch is remembered a little longer than it can count, for clocks that run at slightly different rates.
  const vouchWindowMs = leaseMs + Math.max(50, leaseMs / 10);
  const lastHeard = new Map<string, number>();
  const vouchedAt = new Map<string, number>();
  let until = -Infinity;
  let epoch = 0;
  let stopped = false;
  let gained: () => void = () => {};
  let timer: Timer | undefined;

  function recompute(): void {
    const had = clock.now() < until;
    until = computeUntil();
    if (!had && clock.now() < until) {
      epoch++;
      gained();
    }
  }

  function computeUntil(): number {
    const voters = opts.voters();
    const total = voters.includes(self) ? voters.length : voters.length + 1;
    const need = Math.floor(total / 2); // others needed besides self
    if (need <= 0) return Infinity;
    const heard: number[] = [];
    for (const v of voters) {
      if (v === self) continue;
      const t = lastHeard.get(v);
      if (t !== undefined) heard.push(t);
    }
    if (heard.length < need) return -Infinity;
    heard.sort((a, b) => b - a);
    return heard[need - 1]! + leaseMs;
  }

  function ping(address: Address): void {
    const msg: LeasePingMsg = { t: "lp", s: clock.now(), n: self };
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
    epoch: () => epoch,
    onPing(from: Address, msg: LeasePingMsg): void {
      if (stopped) return;
      vouchedAt.set(msg.n, clock.now());
      const pong: LeasePongMsg = { t: "lk", s: msg.s, n: self };
      transport.send(from, pong);
    },
    onPong(msg: LeasePongMsg): void {
      // A pong claiming a send time in our future is garbage.
      if (msg.s > clock.now()) return;
      const prev = lastHeard.get(msg.n);
      if (prev === undefined || msg.s > prev) {
        lastHeard.set(msg.n, msg.s);
        recompute();
      }
    },
    vouched(): string[] {
      const since = clock.now() - vouchWindowMs;
      const out: string[] = [];
      for (const [n, at] of vouchedAt) if (at >= since) out.push(n);
      return out;
    },
    vouches(name: string): boolean {
      const at = vouchedAt.get(name);
      return at !== undefined && at >= clock.now() - vouchWindowMs;
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
