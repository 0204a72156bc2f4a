/**
 * ReadIndex bookkeeping. A leader serves a read at its commit index once a
 * quorum answered a heartbeat round sent after the read arrived: then no
 * other leader can have committed anything newer (Raft thesis, 6.4). Every
 * read waiting shares the next round, so a thousand reads cost one.
 * A follower forwards its reads to the leader and waits for the index.
 */
import type { ReadState, ServerId } from "./types.ts";

interface LeaderRead {
  ctx: number;
  /** null: asked on the leader itself. */
  from: ServerId | null;
  index: number;
  /** The heartbeat round that must be acknowledged. */
  round: number;
}

export class ReadQueue {
  #round = 0;
  #leader: LeaderRead[] = [];
  #forwarded = new Set<number>();
  #ready: ReadState[] = [];

  add(ctx: number, from: ServerId | null, index: number): void {
    this.#leader.push({ ctx, from, index, round: this.#round + 1 });
  }

  /** A heartbeat round goes out now: its sequence number. */
  nextRound(): number {
    return ++this.#round;
  }

  /** Rounds up to `confirmed` were acknowledged by a quorum. */
  confirm(confirmed: number, commit: number, reply: (to: ServerId, ctx: number, index: number) => void): void {
    if (this.#leader.length === 0) return;
    const keep: LeaderRead[] = [];
    for (const r of this.#leader) {
      if (r.round > confirmed) {
        keep.push(r);
      } else {
        // The commit now (with an entry of this term committed) covers every
        // commit made anywhere before the read arrived; it is never below r.index.
        const index = Math.max(r.index, commit);
        if (r.from === null) this.#ready.push({ ctx: r.ctx, index });
        else reply(r.from, r.ctx, index);
      }
    }
    this.#leader = keep;
  }

  forwarded(ctx: number): void {
    this.#forwarded.add(ctx);
  }

  answered(ctx: number, index: number): void {
    if (!this.#forwarded.delete(ctx)) return;
    this.#ready.push({ ctx, index });
  }

  fail(ctx: number): void {
    this.#ready.push({ ctx, index: -1 });
  }

  /** The leader stepped down: its reads cannot be confirmed. */
  failLeader(reply: (to: ServerId, ctx: number) => void): void {
    for (const r of this.#leader) {
      if (r.from === null) this.#ready.push({ ctx: r.ctx, index: -1 });
      else reply(r.from, r.ctx);
    }
    this.#leader = [];
  }

  /** The leader changed: answers from the old one may never come. */
  failForwarded(): void {
    for (const ctx of this.#forwarded) this.#ready.push({ ctx, index: -1 });
    this.#forwarded.clear();
  }

  take(): ReadState[] {
    const r = this.#ready;
    this.#ready = [];
    return r;
  }
}
