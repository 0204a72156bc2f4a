/**
 * Acks that may wait: a peer whose ack the writer does not wait on (another
 * peer's meets its concern; the data came marked lazy, messages.ts) sends
 * its acks with its next eager ack to that writer (same socket write) or
 * within `delayMs`, many in one write, instead of waking the writer for each.
 */
import type { Address, Clock, Timer } from "../types.ts";

/** The longest a lazy ack waits (less if the retransmit timeout is short). */
const LAZY_ACK_MS = 10;

export class LazyAcks {
  private readonly waiting = new Map<Address, number[][]>();
  private timer: Timer | null = null;
  private readonly delayMs: number;
  /** Rotates which peers' acks a turn's writes wait on. */
  private rotor = 0;

  constructor(
    private readonly clock: Clock,
    retransmitMs: number,
    private readonly sendAck: (to: Address, s: number[]) => void,
  ) {
    this.delayMs = Math.max(1, Math.min(LAZY_ACK_MS, retransmitMs / 10));
  }

  /** Ack the batch with ranges `s` to `to`: now (with whatever waits for it), or soon if `lazy`. */
  ack(to: Address, s: number[], lazy: boolean): void {
    if (lazy) return this.later(to, s);
    this.sendAck(to, s);
    this.flushTo(to); // in the same socket write: no wake-up of their own
  }

  /** The peers whose acks this turn's writes wait on (eagerPeers), in turn. */
  eager(q: Parameters<typeof eagerPeers>[0], names: Iterable<string>): ReadonlySet<string> | null {
    return eagerPeers(q, names, this.rotor++);
  }

  /** Ack the batch with ranges `s` to `to` soon. */
  later(to: Address, s: number[]): void {
    let q = this.waiting.get(to);
    if (q === undefined) this.waiting.set(to, (q = []));
    q.push(s);
    if (this.timer !== null) return;
    this.timer = this.clock.setTimer(this.delayMs, () => {
      this.timer = null;
      for (const addr of [...this.waiting.keys()]) this.flushTo(addr);
    });
  }

  /** Send now whatever waits for `to` (an eager ack to it is going out). */
  flushTo(to: Address): void {
    const q = this.waiting.get(to);
    if (q === undefined) return;
    this.waiting.delete(to);
    for (const s of q) this.sendAck(to, s);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.waiting.clear();
  }
}

/**
 * The peers whose acks a turn's writes wait on: as many as quorum `q` needs
 * besides this node, taken in turn (`rotor`) among `names` whose acks count;
 * the others may ack lazily. null: every peer (each one's ack is needed).
 */
export function eagerPeers(
  q: { required: number; holders: ReadonlySet<string> | null; selfCounts: boolean },
  names: Iterable<string>,
  rotor: number,
): ReadonlySet<string> | null {
  const need = Math.max(0, q.required - (q.selfCounts ? 1 : 0));
  const counted: string[] = [];
  let all = 0;
  for (const name of names) {
    all++;
    if (q.holders === null || q.holders.has(name)) counted.push(name);
  }
  if (need >= all || counted.length <= need) return null;
  const eager = new Set<string>();
  for (let k = 0; k < need; k++) eager.add(counted[(rotor + k) % counted.length]!);
  return eager;
}
