/**
 * Received entry chunks (`ae`, `ap`), merged in order under a time budget
 * per event-loop turn. A transport may hand over several messages in one
 * turn (a socket read holds a whole window of chunks); merging them all
 * there would make that turn as long as the window. And one chunk of 4,000
 * entries took a joiner 20-80 ms to merge at 1.2M keys (the map, the app's
 * index): so a chunk is merged MERGE_PIECE entries at a time, and a turn
 * stops after the piece that used up MERGE_BUDGET_MS; the chunk goes on
 * next turn, before any later chunk. A chunk is acked (merged()) only once
 * all its pieces are in; a piece refused stops the chunk there, unacked
 * (merging is idempotent: the copy the sender sends again is merged whole).
 * At most one chunk is finished per turn. The queue is bounded by the
 * senders' windows (each chunk is acked only once merged); past MAX_QUEUED,
 * chunks are dropped unacked and come again.
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
/** Entries merged between looks at the clock (at 1.2M keys, 1-3 ms of merging). */
export const MERGE_PIECE = 256;
/** How long one turn may merge (ms); checked between pieces. */
export const MERGE_BUDGET_MS = 4;

/** What merging a chunk takes: its entries piece by piece, then the chunk as a whole. */
export interface ChunkMerger {
  /** Merge `entries`, the next piece of `m`'s in order; false: refused (the rest of `m` is dropped, unacked). */
  piece(from: Address, m: ChunkMessage, entries: DeltaEntry[]): boolean;
  /** Every piece of `m` is merged: ack it, note it for its round. */
  merged(from: Address, m: ChunkMessage): void;
}

export class ChunkQueue {
  private readonly queue: [Address, ChunkMessage][] = [];
  /** the chunk being merged, and how many of its entries are in */
  private current: [Address, ChunkMessage] | null = null;
  private done = 0;
  private timer: Timer | null = null;
  /** chunks dropped: the queue was full */
  dropped = 0;
  /** chunks dropped: a copy of a chunk already waiting */
  duplicates = 0;

  constructor(
    private readonly clock: Clock,
    private readonly merger: ChunkMerger,
    /** The runtime's next turn (stream.ts: StreamHost.nextTurn); else a zero timer of the clock. */
    private readonly nextTurn?: (fn: () => void) => void,
  ) {}

  get size(): number {
    return this.queue.length + (this.current === null ? 0 : 1);
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
    this.current = null;
    this.timer?.cancel();
    this.timer = null;
  }

  /** Whether the same chunk (sender process, kind, round, index, and the same entries) is queued already, or being merged. */
  private waiting(m: ChunkMessage): boolean {
    if (this.current !== null && same(this.current[1], m)) return true;
    for (const [, q] of this.queue) if (same(q, m)) return true;
    return false;
  }

  private schedule(): void {
    if (this.timer !== null || (this.queue.length === 0 && this.current === null)) return;
    const run = (): void => {
      if (this.timer !== t) return; // cleared meanwhile
      this.timer = null;
      this.step();
      this.schedule();
    };
    let t: Timer;
    if (this.nextTurn === undefined) t = this.clock.setTimer(0, run);
    else {
      t = { cancel: () => {} };
      this.nextTurn(run);
    }
    this.timer = t;
  }

  /** One turn: pieces of the current chunk until it is merged (then acked) or the budget is used up. */
  private step(): void {
    if (this.current === null) {
      const next = this.queue.shift();
      if (next === undefined) return;
      this.current = next;
      this.done = 0;
    }
    const cur = this.current;
    const [from, m] = cur;
    const all = m.delta.e;
    const deadline = this.clock.now() + MERGE_BUDGET_MS;
    while (this.done < all.length) {
      const end = Math.min(all.length, this.done + MERGE_PIECE);
      // The whole array when it is one piece (no copy: the common small chunk).
      const piece = this.done === 0 && end === all.length ? all : all.slice(this.done, end);
      const ok = this.merger.piece(from, m, piece);
      if (this.current !== cur) return; // cleared meanwhile (the replicator stopped)
      if (!ok) {
        this.current = null;
        return;
      }
      this.done = end;
      if (this.done < all.length && this.clock.now() >= deadline) return;
    }
    this.current = null;
    this.merger.merged(from, m);
  }
}

function same(q: ChunkMessage, m: ChunkMessage): boolean {
  return q.c === m.c && q.r === m.r && q.t === m.t && q.n === m.n && q.i === m.i && q.l === m.l && sameTail(q, m) && sameEntries(q.delta.e, m.delta.e);
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
