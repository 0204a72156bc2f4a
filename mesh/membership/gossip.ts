/**
 * Dissemination. Updates ride on every protocol message (see Ctx.send), and
 * every gossip interval this node also sends them to `gossipNodes` random
 * members (recently dead ones included, so a paused node that comes back
 * learns it was declared dead and refutes). Rounds with nothing to say send
 * nothing. When news arrives, one extra round runs `gossipEagerMs` later
 * (at most one such per interval), so an update crosses a hop in
 * milliseconds instead of half an interval on average.
 */
import type { Timer } from "../types.ts";
import type { Ctx } from "./context.ts";
import type { GossipMsg } from "./messages.ts";

export class Gossiper {
  #ctx: Ctx;
  #tick: Timer | undefined;
  #eager: Timer | undefined;
  #lastEager = -Infinity;

  constructor(ctx: Ctx) {
    this.#ctx = ctx;
  }

  start(): void {
    const ctx = this.#ctx;
    this.#tick = ctx.clock.setTimer(ctx.random.float() * ctx.cfg.gossipIntervalMs, () => this.#regular());
  }

  stop(): void {
    this.#tick?.cancel();
    this.#eager?.cancel();
    this.#tick = undefined;
    this.#eager = undefined;
  }

  /** News was queued: run an early round unless one ran this interval. */
  nudge(): void {
    const ctx = this.#ctx;
    if (ctx.cfg.gossipEagerMs <= 0 || this.#eager !== undefined || !ctx.running()) return;
    const now = ctx.clock.now();
    if (now - this.#lastEager < ctx.cfg.gossipIntervalMs) return;
    this.#lastEager = now;
    this.#eager = ctx.clock.setTimer(ctx.cfg.gossipEagerMs, () => {
      this.#eager = undefined;
      this.round();
    });
  }

  #regular(): void {
    const ctx = this.#ctx;
    if (!ctx.running()) return;
    this.round();
    this.#tick = ctx.clock.setTimer(ctx.cfg.gossipIntervalMs, () => this.#regular());
  }

  /** One round: queued updates to a few random members. */
  round(): void {
    const ctx = this.#ctx;
    if (!ctx.running() || ctx.queue.size === 0) return;
    const now = ctx.clock.now();
    const targets = ctx.table.sample(ctx.random, ctx.cfg.gossipNodes, undefined, now - ctx.cfg.gossipToTheDeadMs);
    for (const t of targets) {
      const msg: GossipMsg = { t: "g" };
      if (ctx.send(t.address, msg, true)) ctx.counters.gossipSent++;
      else if (ctx.queue.size === 0) break;
    }
  }
}
