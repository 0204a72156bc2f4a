/**
 * A stream of entry chunks to one peer, produced lazily and sent under a
 * window: an anti-entropy answer (`ae`) or push back (`ap`) of any size,
 * even a whole 1M-key map, costs the sender at most `window` encoded chunks
 * of memory and one chunk's work per event-loop turn.
 *
 * Each turn (a zero timer on the injected clock, so I/O runs in between)
 * takes up to one chunk from the source; the source itself looks at a
 * bounded number of map slots per call, so a sparse walk also yields. The
 * receiver acks every chunk once merged; with `window` chunks unacked the
 * stream waits. Chunks unacked for retransmitMs are sent again (a lost chunk
 * or ack), each further time after twice the wait of the one before until an
 * ack comes, and a stream without any ack for idleMs is abandoned (the peer
 * is gone; the next round repairs what it missed). The doubling matters on a
 * busy receiver: a pause of a few hundred ms (GC, a full core) made every
 * stream re-send its whole window each retransmitMs, which the receiver then
 * decoded and merged again (3-9% of a 1.2M-key snapshot).
 */
import type { DeltaEntry } from "../../core/crdt/lww-map.ts";
import type { Address, Clock, Message, Timer } from "../types.ts";

/** Chunks a stream may have sent and not yet seen acked. */
export const STREAM_WINDOW = 4;
/** Resends without an ack in between, beyond which the wait stops doubling (16x retransmitMs). */
const MAX_BACKOFF = 4;
/** Map slots a source looks at per turn at most (a few ms at 1M keys). */
export const SCAN_PER_TURN = 65_536;
/**
 * Map slots one scan looks at before the time budget is checked again: a
 * walk that judges every entry (a whole-map transfer's second phase, which
 * skips most keys) took 100-240 ms of one turn on a loaded owner.
 */
export const SCAN_PIECE = 8_192;
/** How long one turn of a stream may take the source's work (ms); checked between pieces. */
export const STEP_BUDGET_MS = 4;

export interface ChunkSource<T = DeltaEntry> {
  /**
   * Append up to `max` more items to `out`; true once there are no more.
   * `overBudget`, when given, says this turn's time is up: a source that
   * works in pieces stops after the piece under way (it may return with
   * nothing added, and is called again next turn).
   */
  next(out: T[], max: number, overBudget?: () => boolean): boolean;
}

export interface StreamHost {
  readonly clock: Clock;
  send(to: Address, msg: Message): boolean;
  /**
   * Runs `fn` on a later turn, after pending I/O (a real node: setImmediate).
   * Without it, a zero timer of the clock (deterministic in the simulator),
   * which in Bun waits ~1.2 ms: a chunk made over several turns (the time
   * budget) would wait that long between its pieces.
   */
  readonly nextTurn?: (fn: () => void) => void;
}

export interface StreamOptions<T = DeltaEntry> {
  to: Address;
  /** entries per chunk */
  chunk: number;
  window: number;
  retransmitMs: number;
  idleMs: number;
  /** a stream with no entries at all ends without sending anything */
  quiet?: boolean;
  /** the message for chunk c (last: no more follow) */
  make(c: number, last: boolean, items: T[]): Message;
  /** every acked chunk was the last one (true), or the stream was abandoned (false) */
  done(ok: boolean): void;
}

export class OutStream<T = DeltaEntry> {
  /** chunks sent, by index, until acked (kept for resending) */
  private readonly unacked = new Map<number, Message>();
  private nextChunk = 0;
  private exhausted = false;
  private pending: T[] = [];
  private timer: Timer | null = null;
  private closed = false;
  private lastAckAt: number;
  private lastSendAt: number;
  /** resends since the last ack (each doubles the wait before the next) */
  private backoff = 0;
  /** entries sent (first sends), chunks sent again */
  sentEntries = 0;
  resent = 0;

  constructor(
    private readonly host: StreamHost,
    private readonly source: ChunkSource<T>,
    private readonly o: StreamOptions<T>,
  ) {
    this.lastAckAt = this.lastSendAt = host.clock.now();
    this.schedule();
  }

  get inFlight(): number {
    return this.unacked.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The receiver merged chunk `c`. */
  ack(c: number): void {
    if (this.closed || !this.unacked.delete(c)) return;
    this.lastAckAt = this.host.clock.now();
    this.backoff = 0;
    if (this.exhausted && this.unacked.size === 0) this.close(true);
    else this.schedule();
  }

  /** Periodic check (the replicator's tick): resend what waited too long, give up when idle. */
  tick(now: number): void {
    if (this.closed) return;
    if (now - this.lastAckAt >= this.o.idleMs) return this.close(false);
    if (this.unacked.size === 0) return;
    if (now - Math.max(this.lastAckAt, this.lastSendAt) < this.o.retransmitMs * 2 ** Math.min(this.backoff, MAX_BACKOFF)) return;
    this.lastSendAt = now;
    this.backoff++;
    for (const msg of this.unacked.values()) {
      this.resent++;
      this.host.send(this.o.to, msg);
    }
  }

  /** Stop without finishing (superseded, peer gone, replicator stopped). */
  abort(): void {
    this.close(false);
  }

  private schedule(): void {
    if (this.timer !== null || this.closed || this.exhausted) return;
    const run = (): void => {
      if (this.timer !== t) return; // cancelled (closed), or superseded
      this.timer = null;
      this.step();
    };
    const nextTurn = this.host.nextTurn;
    let t: Timer;
    if (nextTurn === undefined) t = this.host.clock.setTimer(0, run);
    else {
      t = { cancel: () => {} };
      nextTurn(run);
    }
    this.timer = t;
  }

  /** One turn: take up to one chunk's entries from the source, send when full or at the end. */
  private step(): void {
    if (this.closed || this.exhausted || this.unacked.size >= this.o.window) return;
    const clock = this.host.clock;
    const deadline = clock.now() + STEP_BUDGET_MS;
    const over = this.source.next(this.pending, this.o.chunk - this.pending.length, () => clock.now() >= deadline);
    if (this.pending.length >= this.o.chunk || over) {
      if (over) this.exhausted = true;
      if (over && this.nextChunk === 0 && this.pending.length === 0 && this.o.quiet === true) return this.close(true);
      const c = this.nextChunk++;
      const entries = this.pending;
      this.pending = [];
      const msg = this.o.make(c, over, entries);
      this.unacked.set(c, msg);
      this.sentEntries += entries.length;
      this.lastSendAt = this.host.clock.now();
      this.host.send(this.o.to, msg);
    }
    this.schedule();
  }

  private close(ok: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    this.unacked.clear();
    this.pending = [];
    this.o.done(ok);
  }
}

/** What a leaf walk needs of the map (LwwMap has it). */
export interface Scannable {
  readonly layout: number;
  scan(want: Uint8Array, from: number, maxScan: number, max: number, out: DeltaEntry[], prints?: number[]): number;
}

/**
 * A ChunkSource over the map's entries in the leaves flagged in `want`:
 * `pick` (given each entry and its print, -1 where its leaf is not PRINTED)
 * says what goes out for it, if anything. After compaction renumbers the
 * map the walk starts over: items may then go twice (merging is
 * idempotent), never zero times.
 */
export function leafSource<T = DeltaEntry>(map: Scannable, want: Uint8Array, pick?: (e: DeltaEntry, print: number) => T | undefined): ChunkSource<T> {
  let pos = 0;
  let layout = map.layout;
  const got: DeltaEntry[] = [];
  const prints: number[] = [];
  // One scan of up to `slots` slots from pos; how many items it added.
  const piece = (out: T[], slots: number, max: number): number => {
    const before = out.length;
    if (pick === undefined) {
      pos = map.scan(want, pos, slots, max, out as unknown as DeltaEntry[]); // T is DeltaEntry without pick
      return out.length - before;
    }
    got.length = 0;
    prints.length = 0;
    pos = map.scan(want, pos, slots, max, got, prints);
    for (let k = 0; k < got.length; k++) {
      const item = pick(got[k]!, prints[k]!);
      if (item !== undefined) out.push(item);
    }
    return out.length - before;
  };
  return {
    next(out, max, overBudget) {
      if (map.layout !== layout) {
        layout = map.layout;
        pos = 0;
      }
      if (overBudget === undefined) {
        piece(out, SCAN_PER_TURN, max);
        return pos < 0;
      }
      // In pieces, until the turn's budget, SCAN_PER_TURN slots or `max` items.
      let added = 0;
      for (let scanned = 0; scanned < SCAN_PER_TURN && added < max; scanned += SCAN_PIECE) {
        added += piece(out, SCAN_PIECE, max - added);
        if (pos < 0) return true;
        if (overBudget()) break;
      }
      return false;
    },
  };
}
