/**
 * Full-state exchange (anti-entropy). Periodically, with one random alive
 * member: both sides send every member they know (tombstones included) and
 * merge what they get, repairing whatever gossip missed. The same exchange
 * joins a cluster (with the seeds) and heals partitions: every rejoin period
 * this node repeats it with seeds that are not alive members, and with one
 * member it holds dead, so two sides that declared each other dead merge
 * again once the network lets them.
 */
import type { Address, Timer } from "../types.ts";
import type { Ctx } from "./context.ts";
import { kindOf, type MemberTuple, parseTuple, type PushPullMsg } from "./messages.ts";
import { pushPullInterval } from "./config.ts";
import type { Ledger } from "./updates.ts";

interface Pending {
  onReply: (() => void) | undefined;
  timer: Timer;
}

/** Tries per seed within one join. */
const JOIN_ATTEMPTS = 3;

/** Seeds contacted per rejoin round at most (DNS discovery may list many). */
const REJOIN_SEEDS_PER_ROUND = 3;

export class PushPull {
  #ctx: Ctx;
  #ledger: Ledger;
  #seeds: Address[] = [];
  #pending = new Map<number, Pending>();
  #periodic: Timer | undefined;
  #rejoin: Timer | undefined;
  #lastStrangerSync = -Infinity;

  constructor(ctx: Ctx, ledger: Ledger) {
    this.#ctx = ctx;
    this.#ledger = ledger;
  }

  get seeds(): readonly Address[] {
    return this.#seeds;
  }

  start(): void {
    const ctx = this.#ctx;
    const first = ctx.random.float() * pushPullInterval(ctx.cfg, ctx.table.liveCount);
    this.#periodic = ctx.clock.setTimer(first, () => this.#periodicRound());
    if (ctx.cfg.rejoinIntervalMs > 0) {
      this.#rejoin = ctx.clock.setTimer(ctx.cfg.rejoinIntervalMs * (0.5 + ctx.random.float()), () =>
        this.#rejoinRound(),
      );
    }
  }

  stop(): void {
    this.#periodic?.cancel();
    this.#rejoin?.cancel();
    for (const p of this.#pending.values()) p.timer.cancel();
    this.#pending.clear();
  }

  addSeeds(seeds: readonly Address[]): void {
    for (const s of seeds) if (s && !this.#seeds.includes(s)) this.#seeds.push(s);
  }

  /**
   * Exchange state with every seed (but ourselves); resolves with how many
   * answered, once all did or the join timeout passed. The seeds are kept
   * for rejoining.
   */
  join(seeds: readonly Address[]): Promise<number> {
    const ctx = this.#ctx;
    this.addSeeds(seeds);
    const self = ctx.table.self.address;
    const targets = [...new Set(seeds)].filter((s) => s && s !== self);
    if (targets.length === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      let answered = 0;
      let outstanding = targets.length;
      let settled = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        resolve(answered);
      };
      const timer = ctx.clock.setTimer(ctx.cfg.joinTimeoutMs, finish);
      for (const t of targets) {
        // Up to JOIN_ATTEMPTS tries per seed within the join timeout: one lost
        // message (or a seed still starting) should not leave us alone.
        let replied = false;
        const attempt = (n: number): void => {
          if (settled || replied || !ctx.running()) return;
          this.exchange(t, () => {
            if (replied) return;
            replied = true;
            answered++;
            if (--outstanding === 0) finish();
          });
          if (n + 1 < JOIN_ATTEMPTS) ctx.clock.setTimer(ctx.cfg.joinTimeoutMs / JOIN_ATTEMPTS, () => attempt(n + 1));
        };
        attempt(0);
      }
    });
  }

  /**
   * A member we do not know (or know only by an older identity) talked to
   * us: it knows the cluster and we do not know it, so sync with it. At most
   * one such exchange per probe interval.
   */
  syncWithStranger(address: Address): void {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    if (ctx.leaving() || now - this.#lastStrangerSync < ctx.cfg.probeIntervalMs) return;
    this.#lastStrangerSync = now;
    this.exchange(address);
  }

  /** Start one exchange with `to`; `onReply` runs if it answers in time. */
  exchange(to: Address, onReply?: () => void): void {
    const ctx = this.#ctx;
    const seq = ctx.nextSeq();
    const timer = ctx.clock.setTimer(ctx.cfg.joinTimeoutMs, () => this.#pending.delete(seq));
    this.#pending.set(seq, { onReply, timer });
    ctx.counters.pushPulls++;
    const msg: PushPullMsg = { t: "pp", s: seq, r: 0, f: ctx.table.selfName, m: this.#state() };
    ctx.send(to, msg);
  }

  onMessage(from: Address, m: PushPullMsg): void {
    const ctx = this.#ctx;
    const peer = typeof m.f === "string" ? m.f : from;
    if (m.r === 1) {
      const p = this.#pending.get(m.s);
      if (!p) return; // unasked or too late
      this.#pending.delete(m.s);
      p.timer.cancel();
      this.#merge(m.m, peer);
      p.onReply?.();
      return;
    }
    // Merge first: if the peer held us dead we refute now, and the reply
    // carries our new incarnation.
    this.#merge(m.m, peer);
    const reply: PushPullMsg = { t: "pp", s: m.s, r: 1, f: ctx.table.selfName, m: this.#state() };
    ctx.send(from, reply);
  }

  #merge(raw: unknown[], peer: string): void {
    const tuples: MemberTuple[] = [];
    for (const v of raw) {
      const t = parseTuple(v);
      if (t) tuples.push(t);
    }
    // A node alone (joining) learns the cluster without re-gossiping it: the
    // cluster knows itself. Otherwise what we learn is news for our side too.
    const alone = this.#ctx.table.others.length === 0;
    this.#ledger.merge(tuples, peer, !alone);
  }

  #state(): MemberTuple[] {
    const out: MemberTuple[] = [];
    for (const r of this.#ctx.table.values()) out.push([r.name, r.id, r.address, r.incarnation, kindOf(r.state)]);
    return out;
  }

  #periodicRound(): void {
    const ctx = this.#ctx;
    if (!ctx.running()) return;
    if (!ctx.leaving()) {
      const [peer] = ctx.table.sample(ctx.random, 1, (r) => r.state === "alive");
      if (peer) this.exchange(peer.address);
    }
    this.#periodic = ctx.clock.setTimer(pushPullInterval(ctx.cfg, ctx.table.liveCount), () => this.#periodicRound());
  }

  #rejoinRound(): void {
    const ctx = this.#ctx;
    if (!ctx.running()) return;
    if (!ctx.leaving()) {
      const liveAt = new Set<Address>([ctx.table.self.address]);
      for (const r of ctx.table.others) liveAt.add(r.address);
      const lost = this.#seeds.filter((s) => !liveAt.has(s));
      for (let i = 0; i < REJOIN_SEEDS_PER_ROUND && lost.length > 0; i++) {
        const j = Math.floor(ctx.random.float() * lost.length);
        const s = lost[j]!;
        lost[j] = lost[lost.length - 1]!;
        lost.pop();
        this.exchange(s);
        liveAt.add(s);
      }
      const dead = ctx.table.dead;
      if (dead.length > 0) {
        const d = dead[Math.floor(ctx.random.float() * dead.length)]!;
        if (!liveAt.has(d.address)) this.exchange(d.address);
      }
    }
    this.#rejoin = ctx.clock.setTimer(ctx.cfg.rejoinIntervalMs, () => this.#rejoinRound());
  }
}
