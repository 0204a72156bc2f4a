/**
 * Received entry chunks (`ae`, `ap`), merged one per event-loop turn. A
 * transport may hand over several messages in one turn (a socket read holds
 * a whole window of chunks); merging them all there would make that turn as
 * long as the window. The queue is bounded by the senders' windows (each
 * chunk is acked only once merged); past MAX_QUEUED, chunks are dropped
 * unacked and come again.
 *
 * A chunk that comes again while its first copy still waits here (the
 * sender re-sent it because this busy node had not acked it yet) is dropped:
 * the copy waiting is merged and acked, which is all the sender needs.
 * Merging both cost the receiver of a 1.2M-key snapshot up to a tenth more.
 */
import type { DeltaEntry } from "../../core/crdt/lww-map.ts";
import type { Address, Clock, Timer } from "../types.ts";
import type { ReplMsg } from "./messages.ts";

export type ChunkMessage = Extract<ReplMsg, { t: "ae" | "ap" }>;

const MAX_QUEUED = 64;

export class ChunkQueue {
  private readonly queue: [Address, ChunkMessage][] = [];
  private timer: Timer | null = null;
  /** chunks dropped: the queue was full */
  dropped = 0;
  /** chunks dropped: a copy of a chunk already waiting */
  duplicates = 0;

  constructor(
    private readonly clock: Clock,
    private readonly merge: (from: Address, m: ChunkMessage) => void,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  push(from: Address, m: ChunkMessage): void {
    if (this.waiting(m)) {
      this.duplicates++;
      return;
    }
    if (this.queue.length >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.queue.push([from, m]);
    this.schedule();
  }

  clear(): void {
    this.queue.length = 0;
    this.timer?.cancel();
    this.timer = null;
  }

  /** Whether the same chunk (sender process, kind, round, index, and the same entries) is queued already. */
  private waiting(m: ChunkMessage): boolean {
    for (const [, q] of this.queue) {
      if (q.c === m.c && q.r === m.r && q.t === m.t && q.n === m.n && q.i === m.i && q.l === m.l && sameTail(q, m) && sameEntries(q.delta.e, m.delta.e)) return true;
    }
    return false;
  }

  private schedule(): void {
    if (this.timer !== null || this.queue.length === 0) return;
    this.timer = this.clock.setTimer(0, () => {
      this.timer = null;
      const next = this.queue.shift();
      if (next !== undefined) this.merge(next[0], next[1]);
      this.schedule();
    });
  }
}

/**
 * Same keys at the same stamps, in the same order (a stamp names one write,
 * so its value too): a re-sent chunk. A restarted answer may reuse a round
 * and index for other entries; that one is merged, not dropped.
 */
function sameEntries(a: readonly DeltaEntry[], b: readonly DeltaEntry[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) {
    const x = a[k]!;
    const y = b[k]!;
    if (x.k !== y.k || x.ts.w !== y.ts.w || x.ts.c !== y.ts.c || x.ts.n !== y.ts.n || (x.d === true) !== (y.d === true)) return false;
  }
  return true;
}

/** The same unmatched prints and horizon (what an `ae` carries besides entries). */
function sameTail(a: ChunkMessage, b: ChunkMessage): boolean {
  if (a.t !== "ae" || b.t !== "ae") return a.t === b.t;
  const h = a.hz;
  const g = b.hz;
  if (h === null ? g !== null : g === null || h.w !== g.w || h.c !== g.c || h.n !== g.n) return false;
  const u = a.u;
  const v = b.u;
  if (u === null || v === null) return u === v;
  if (u.length !== v.length) return false;
  for (let k = 0; k < u.length; k++) if (u[k] !== v[k]) return false;
  return true;
}
