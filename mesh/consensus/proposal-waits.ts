/**
 * This node's proposals waiting on the log (driver.ts), by seq: each is
 * handed to the leader (sent again after the resend interval, unapplied),
 * may go to a peer once RELAY_TICKS passed unanswered (relay.ts), and is
 * answered when this node applies the entry carrying its (id, seq), or by
 * a relaying peer's answer, or `unavailable` at its deadline.
 */
import type { Relayable, RelayEntry, RelayOutcome } from "./relay.ts";

interface Pending extends Relayable {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  deadline: number;
  cmd: unknown;
  /** handed to a leader (or appended) already; sent again after the resend interval unapplied (the log drops duplicates) */
  sent: boolean;
  sentAt: number;
}

export class ProposalWaits {
  readonly #pending = new Map<number, Pending>();
  #seq = 0;

  /** `forward`: hand an entry to the log (propose it as the leader, or forward it to the leader); false when it could not go. */
  constructor(
    private readonly origin: string,
    private readonly forward: (entry: RelayEntry) => boolean,
  ) {}

  /** A new proposal of `cmd` (seqs from 1), handed on at once: its answer. */
  add(cmd: unknown, now: number, deadline: number): Promise<unknown> {
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject, deadline, cmd, sent: false, sentAt: 0, at: now, relayedAt: 0, relays: 0 });
      this.push(seq, now);
    });
  }

  /** Proposal `seq` as a log entry: origin, seq, the lowest seq this node still waits for (the map is in seq order), the command. */
  entry(seq: number): RelayEntry | null {
    const p = this.#pending.get(seq);
    if (p === undefined) return null;
    const first = this.#pending.keys().next();
    return { o: this.origin, s: seq, l: first.done === true ? seq : Math.min(seq, first.value), c: p.cmd };
  }

  /** Hand proposal `seq` on unless it is on its way already. */
  push(seq: number, now: number): void {
    const p = this.#pending.get(seq);
    if (p === undefined || p.sent) return;
    p.sentAt = now;
    p.sent = this.forward(this.entry(seq)!);
  }

  /** Hand every proposal on again (a new leader). */
  pushAll(now: number): void {
    for (const seq of this.#pending.keys()) this.push(seq, now);
  }

  /** On the tick: reject those past their deadline (counted in the return), send again those unapplied for `resendMs`, offer the rest to `relay`. */
  tick(now: number, resendMs: number, late: () => Error, relay: (p: Relayable, seq: number, entry: () => RelayEntry) => void): number {
    let failed = 0;
    for (const [seq, p] of this.#pending) {
      if (now >= p.deadline) {
        this.#pending.delete(seq);
        failed++;
        p.reject(late());
        continue;
      }
      if (!p.sent || now - p.sentAt >= resendMs) {
        // a forward lost on the way, or a leader deposed before committing it: send again
        p.sent = false;
        this.push(seq, now);
      }
      relay(p, seq, () => this.entry(seq)!);
    }
    return failed;
  }

  /** This node applied its proposal `seq`: answer it. */
  applied(seq: number, error: unknown, result: unknown): void {
    const p = this.#pending.get(seq);
    if (p === undefined) return;
    this.#pending.delete(seq);
    if (error !== null) p.reject(error);
    else p.resolve(result);
  }

  /** A peer's answer to relayed proposal `seq`: settles it, unless the peer could not help (`unavailable`: the next peer is asked in turn). */
  settle(seq: number, out: RelayOutcome): void {
    // Only for a proposal handed to a peer: any other answer is not ours to take.
    if ((this.#pending.get(seq)?.relays ?? 0) === 0 || (!out.ok && out.error.code === "unavailable")) return;
    this.applied(seq, out.ok ? null : out.error, out.ok ? out.value : undefined);
  }

  rejectAll(err: Error): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}
