/**
 * The SWIM failure detector. Each round this node pings one member (round
 * robin over a shuffled list; members that became suspect on someone else's
 * word first, so confirmations come quickly). No ack within the probe
 * timeout: ask `indirectChecks` members to ping it for us (they answer with
 * a nack if they cannot reach it either: Lifeguard). No ack by the end of the
 * round: suspect it. Timeouts and the round length are stretched by the local
 * health score, which the outcome of each probe feeds.
 */
import { Histogram, type HistogramSnapshot, LATENCY_BOUNDS_SECONDS } from "../stats/histogram.ts";
import type { Address, Timer } from "../types.ts";
import type { Ctx } from "./context.ts";
import { compareIds } from "./identity.ts";
import type { AckMsg, NackMsg, PingMsg, PingReqMsg } from "./messages.ts";
import { ALIVE, DEAD, SUSPECT } from "./messages.ts";
import { isLive, type MemberRecord } from "./state.ts";
import { type Ledger, updateOf } from "./updates.ts";

interface AckHandler {
  onAck(from: Address, m: AckMsg): void;
  onNack?(): void;
}

/** Round-trip samples kept for stats. */
const RTT_SAMPLES = 64;

export class Prober {
  #ctx: Ctx;
  #ledger: Ledger;
  #order: string[] = [];
  #next = 0;
  #priority: string[] = [];
  #prioritized = new Set<string>();
  /** Suspects probed at least once during their current suspicion. */
  #probedOnce = new Set<string>();
  #lastWasSuspect = false;
  #acks = new Map<number, AckHandler>();
  #tick: Timer | undefined;
  #rtt: number[] = [];
  /** Every direct round trip since start, seconds (for /metrics). */
  #rttHistogram = new Histogram(LATENCY_BOUNDS_SECONDS);

  #onStranger: (address: Address) => void;

  /** `onStranger`: a member we do not know pinged us (sync with it). */
  constructor(ctx: Ctx, ledger: Ledger, onStranger: (address: Address) => void) {
    this.#ctx = ctx;
    this.#ledger = ledger;
    this.#onStranger = onStranger;
  }

  /** Recent direct round-trip times, ms (oldest first). */
  get rttSamples(): number[] {
    return this.#rtt.slice();
  }

  /** Direct round-trip times since start, seconds. */
  get rttHistogram(): HistogramSnapshot {
    return this.#rttHistogram.snapshot();
  }

  start(): void {
    const ctx = this.#ctx;
    // A random phase, so the members of a cluster do not probe in lockstep.
    this.#schedule(ctx.random.float() * ctx.cfg.probeIntervalMs);
  }

  stop(): void {
    this.#tick?.cancel();
    this.#tick = undefined;
  }

  /** Probe `name` in an upcoming round (it became suspect on another's word). */
  prioritize(name: string): void {
    if (this.#prioritized.has(name)) return;
    if (this.#probedOnce.size > 4096) this.#probedOnce.clear();
    this.#prioritized.add(name);
    this.#priority.push(name);
  }

  /** A new member: slot it at a random place in the rest of this cycle. */
  add(name: string): void {
    const rest = this.#order.length - this.#next;
    const at = this.#next + Math.floor(this.#ctx.random.float() * (rest + 1));
    this.#order.splice(at, 0, name);
  }

  #schedule(delayMs: number): void {
    this.#tick = this.#ctx.clock.setTimer(delayMs, () => this.#round());
  }

  #round(): void {
    const ctx = this.#ctx;
    this.#tick = undefined;
    if (!ctx.running() || ctx.leaving()) return;
    const interval = ctx.awareness.scale(ctx.cfg.probeIntervalMs);
    const target = this.#pickTarget();
    if (target) this.#probe(target, interval);
    // Scheduled after the probe's own end timer: at equal times it runs second.
    this.#schedule(interval);
  }

  #pickTarget(): MemberRecord | undefined {
    const table = this.#ctx.table;
    // Suspects first: a fresh one at once (quick confirmations), a repeat
    // only every other round, so the rest of the cluster is still probed.
    const lastWasSuspect = this.#lastWasSuspect;
    this.#lastWasSuspect = false;
    for (let i = 0; i < this.#priority.length; ) {
      const name = this.#priority[i]!;
      const r = table.get(name);
      if (!r || r.state !== "suspect") {
        this.#priority.splice(i, 1);
        this.#prioritized.delete(name);
        this.#probedOnce.delete(name);
        continue;
      }
      if (lastWasSuspect && this.#probedOnce.has(name)) {
        i++;
        continue;
      }
      this.#priority.splice(i, 1);
      this.#prioritized.delete(name);
      this.#probedOnce.add(name);
      this.#lastWasSuspect = true;
      return r;
    }
    for (let tries = 0; tries <= this.#order.length; tries++) {
      if (this.#next >= this.#order.length) {
        this.#newCycle();
        if (this.#order.length === 0) return undefined;
      }
      const r = table.get(this.#order[this.#next++]!);
      if (r && isLive(r.state) && r.name !== table.selfName) return r;
    }
    return undefined;
  }

  /**
   * After a probe: while the target stays suspect (our suspicion or
   * another's), probe it again every other round. Its ack then carries its
   * refutation if gossip of it was lost, and a lost ping gets another chance.
   */
  #requeueSuspect(name: string, id: string): void {
    const r = this.#ctx.table.get(name);
    if (r && r.id === id && r.state === "suspect") {
      this.#probedOnce.add(name);
      this.prioritize(name);
    } else {
      this.#probedOnce.delete(name);
    }
  }

  /**
   * Start the next pass over the members. The order is shuffled once and then
   * kept (new members are slotted in at random, gone ones dropped), so each
   * member is probed by this node exactly once every n-1 rounds; reshuffling
   * every pass, as memberlist does, lets the gap reach 2(n-1) rounds, which
   * shows in the tail of detection times.
   */
  #newCycle(): void {
    const ctx = this.#ctx;
    this.#ledger.reap();
    const table = ctx.table;
    const order: string[] = [];
    const seen = new Set<string>();
    for (const name of this.#order) {
      const r = table.get(name);
      if (seen.has(name) || r === undefined || !isLive(r.state) || name === table.selfName) continue;
      seen.add(name);
      order.push(name);
    }
    for (const r of table.others) {
      if (seen.has(r.name)) continue;
      order.splice(Math.floor(ctx.random.float() * (order.length + 1)), 0, r.name);
    }
    this.#order = order;
    this.#next = 0;
  }

  #probe(target: MemberRecord, interval: number): void {
    const ctx = this.#ctx;
    const { name, id, address } = target;
    const seq = ctx.nextSeq();
    const sentAt = ctx.clock.now();
    const timeout = ctx.awareness.scale(ctx.cfg.probeTimeoutMs);
    let done = false;
    let expectedNacks = 0;
    let nacks = 0;
    ctx.counters.probes++;
    const ping: PingMsg = {
      t: "p",
      s: seq,
      n: name,
      i: id,
      f: ctx.table.selfName,
      fi: ctx.table.self.id,
      c: target.incarnation,
    };
    if (target.state === "suspect") ping.x = 1;
    const finish = (): void => {
      done = true;
      this.#acks.delete(seq);
      endTimer.cancel();
      indirectTimer.cancel();
    };
    const after = (): void => this.#requeueSuspect(name, id);
    // Created first: fires before the next round's timer at the same instant.
    const endTimer = ctx.clock.setTimer(interval, () => {
      if (done) return;
      finish();
      if (!ctx.running() || ctx.leaving()) return;
      ctx.counters.probeFailures++;
      // Nacks from the helpers mean the target is unreachable for them too,
      // so we are probably fine; missing nacks point at us.
      ctx.awareness.apply(expectedNacks > 0 ? expectedNacks - nacks : 1);
      this.#ledger.probeFailed(name, id);
      after();
    });
    const indirectTimer = ctx.clock.setTimer(timeout, () => {
      if (done || !ctx.running()) return;
      const helpers = ctx.table.sample(
        ctx.random,
        ctx.cfg.indirectChecks,
        (r) => r.state === "alive" && r.name !== name,
      );
      if (helpers.length > 0) ctx.counters.indirectProbes++;
      for (const h of helpers) {
        const req: PingReqMsg = { t: "pr", s: seq, n: name, i: id, a: address, c: ping.c };
        if (ping.x === 1) req.x = 1;
        ctx.send(h.address, req);
      }
      expectedNacks = helpers.length;
    });
    this.#acks.set(seq, {
      onAck: (from, m) => {
        if (done) return;
        finish();
        const now = ctx.clock.now();
        const rtt = now - sentAt;
        if (from === address && typeof m.w === "number") ctx.offsets.observe(address, id, sentAt, m.w, now);
        if (from === address && rtt <= timeout) {
          ctx.awareness.apply(-1);
          this.#rtt.push(rtt);
          if (this.#rtt.length > RTT_SAMPLES) this.#rtt.shift();
          this.#rttHistogram.observe(rtt / 1000);
        }
        after();
      },
      onNack: () => {
        nacks++;
      },
    });
    ctx.send(address, ping);
  }

  onPing(from: Address, m: PingMsg): void {
    const ctx = this.#ctx;
    const self = ctx.table.self;
    // A ping for another process (an older identity at this address, or
    // another name): no ack, or we would vouch for someone else.
    if (m.n !== self.name || m.i !== self.id) return;
    const held = typeof m.c === "number" ? m.c : self.incarnation;
    // The prober suspects us: refute now (gossip telling us may be lost).
    if (m.x === 1) this.#ledger.apply({ k: SUSPECT, n: self.name, i: self.id, a: self.address, c: held, f: m.f }, true);
    const ack: AckMsg = { t: "a", s: m.s, w: ctx.clock.now() };
    // The prober is behind on us (missed our refutation): our record rides
    // on the ack whatever the broadcast queue holds.
    if (held < self.incarnation) ack.b = [updateOf(self, ALIVE)];
    ctx.send(from, ack);
    // The sender is one we hold dead: tell it, so it can refute (a paused
    // process that resumed learns it within one of its probe rounds).
    const r = ctx.table.get(m.f);
    if (r && r.id === m.fi && r.state === "dead") {
      ctx.send(from, { t: "g", b: [updateOf(r, DEAD, self.name)] });
    } else if (!r || (r.id !== m.fi && compareIds(m.fi, r.id) > 0)) {
      this.#onStranger(from);
    }
  }

  onPingReq(from: Address, m: PingReqMsg): void {
    const ctx = this.#ctx;
    const self = ctx.table.self;
    if (m.n === self.name) {
      if (m.i === self.id) ctx.send(from, { t: "a", s: m.s } satisfies AckMsg);
      return;
    }
    const seq = ctx.nextSeq();
    let done = false;
    const nackTimer = ctx.clock.setTimer(ctx.cfg.probeTimeoutMs * 0.8, () => {
      if (done || !ctx.running()) return;
      ctx.send(from, { t: "nk", s: m.s } satisfies NackMsg);
    });
    const expire = ctx.clock.setTimer(ctx.cfg.probeTimeoutMs, () => {
      done = true;
      this.#acks.delete(seq);
    });
    this.#acks.set(seq, {
      onAck: () => {
        if (done) return;
        done = true;
        this.#acks.delete(seq);
        nackTimer.cancel();
        expire.cancel();
        if (!ctx.running()) return;
        const ack: AckMsg = { t: "a", s: m.s };
        // The requester is behind on the target: pass on what we know (the
        // target's ack to us carried its refutation if it had one).
        const r = ctx.table.get(m.n);
        if (r && r.id === m.i && r.state === "alive" && typeof m.c === "number" && r.incarnation > m.c) {
          ack.b = [updateOf(r, ALIVE)];
        }
        ctx.send(from, ack);
      },
    });
    const ping: PingMsg = { t: "p", s: seq, n: m.n, i: m.i, f: self.name, fi: self.id };
    if (typeof m.c === "number") ping.c = m.c;
    if (m.x === 1) ping.x = 1;
    ctx.send(m.a, ping);
  }

  onAck(from: Address, m: AckMsg): void {
    this.#acks.get(m.s)?.onAck(from, m);
  }

  onNack(m: NackMsg): void {
    this.#acks.get(m.s)?.onNack?.();
  }
}
