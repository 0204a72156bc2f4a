/**
 * Received writes (`d`), merged in arrival order under a time budget per
 * event-loop turn. The outbox sends up to maxBatchEntries (4,000) entries a
 * message; merging one whole took 20-65 ms of one turn at 1M keys (the map,
 * the app's index), the longest stalls of a loaded node. So a batch is
 * merged MERGE_PIECE entries at a time, and a turn stops after the piece
 * that used up MERGE_BUDGET_MS (as received anti-entropy chunks are,
 * chunk-queue.ts); the batch goes on next turn, before any later batch.
 *
 * A batch is acked only once all of it is merged. The fence is asked before
 * each turn's pieces: raised meanwhile, the rest is not merged and the batch
 * is refused (fx), not acked, so a new owner that caught up from us cannot
 * miss a write we acknowledge. (The pieces already in are values that exist,
 * as anti-entropy could bring them; the fence is about acks.) A piece whose
 * timestamp the clock refuses stops the batch, unacked, as before.
 *
 * With nothing waiting, a batch starts merging in the turn it arrived: a
 * small write is merged and acked there as before. A batch that comes again
 * while its first copy still waits (the sender re-sent it: this busy node had
 * not acked it yet) is dropped; the waiting copy's ack is all the sender
 * needs. Past MAX_QUEUED, batches are dropped unacked and come again.
 */
import type { Delta } from "../../core/crdt/lww-map.ts";
import type { Address, Clock, Message } from "../types.ts";
import { MERGE_BUDGET_MS, MERGE_PIECE } from "./chunk-queue.ts";
import type { ReaderList } from "./lease-grants.ts";
import { ackMsg, fencedMsg, type ReplMsg, type Sender } from "./messages.ts";

export type DataMessage = Extract<ReplMsg, { t: "d" }>;

/** Batches waiting (the senders' windows bound them: 8 batches of 4,000 a peer). */
export const MAX_QUEUED = 256;

export interface DataHost {
  readonly clock: Clock;
  readonly self: Sender;
  /** The runtime's next turn; else a zero timer of the clock. */
  readonly nextTurn?: ((fn: () => void) => void) | undefined;
  /** Merge a piece; false: the clock refused its timestamps. */
  mergeRemote(delta: Delta, from: Sender): boolean;
  /** A batch was merged whole (it is acked next). */
  merged(m: DataMessage): void;
  send(to: Address, msg: Message): boolean;
  /** The read leases this node granted that still run, listed in every ack (undefined: none). */
  ackReaders?(): ReaderList | undefined;
}

interface Waiting {
  from: Address;
  m: DataMessage;
  key: string;
  /** entries merged so far */
  done: number;
}

export class DataInbox {
  private readonly queue: Waiting[] = [];
  private head = 0;
  private scheduled = false;
  /** Whether step() is on the stack (finish() must not re-enter it). */
  private stepping = false;
  /** the batch last merged whole (finish()) */
  private lastMerged: DataMessage | null = null;
  private stopped = false;
  /** batches dropped: a copy of one waiting */
  duplicates = 0;
  /** batches dropped: too many waiting */
  dropped = 0;

  constructor(
    private readonly host: DataHost,
    /** refuses(stamp): whether a write so stamped is refused here now (counts it); fence: the one to name then */
    private readonly fencing: { refuses(stamp: number): boolean; readonly fence: number },
  ) {}

  /** Batches waiting or being merged. */
  get size(): number {
    return this.queue.length - this.head;
  }

  push(from: Address, m: DataMessage): void {
    if (this.stopped) return;
    const key = `${m.n}\u0000${m.i}\u0000${m.e}\u0000${m.s.join(",")}`;
    for (let k = this.head; k < this.queue.length; k++) {
      if (this.queue[k]!.key === key) {
        this.duplicates++;
        return;
      }
    }
    if (this.size >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.queue.push({ from, m, key, done: 0 });
    // Nothing before it: start now (a small batch is merged and acked in this turn).
    if (this.size === 1) this.step();
    else this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.head = 0;
  }

  private schedule(): void {
    if (this.scheduled || this.size === 0 || this.stopped) return;
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      if (this.stopped) return;
      this.step();
    };
    if (this.host.nextTurn === undefined) this.host.clock.setTimer(0, run);
    else this.host.nextTurn(run);
  }

  /**
   * Merge the rest of batch `m` now, whatever the budget, if it is the one
   * under way (not from inside a merge): a write about to touch one of its
   * keys must not make part of it visible (replicator.ts heldBatch).
   * Whether `m` is now merged whole (else it was refused, or not under way).
   */
  finish(m: DataMessage): boolean {
    if (this.stepping || this.size === 0 || this.queue[this.head]!.m !== m) return false;
    this.step(Infinity, 1);
    return this.lastMerged === m;
  }

  /** One turn: pieces of the oldest batch, then of the next ones, until the budget is used up (or `batches` of them). */
  private step(budgetMs = MERGE_BUDGET_MS, batches = Infinity): void {
    this.stepping = true;
    try {
      this.stepBatches(this.host.clock.now() + budgetMs, batches);
    } finally {
      this.stepping = false;
    }
  }

  private stepBatches(deadline: number, batches: number): void {
    for (let b = 0; b < batches && this.size > 0 && !this.stopped; b++) {
      const w = this.queue[this.head]!;
      if (this.fencing.refuses(w.m.e)) {
        this.host.send(w.from, fencedMsg(this.host.self, w.m.s, this.fencing.fence));
        this.shift();
        continue;
      }
      const all = w.m.delta.e;
      let ok = true;
      while (w.done < all.length) {
        const end = Math.min(all.length, w.done + MERGE_PIECE);
        // The whole delta when it is one piece (no copy: the common small batch).
        ok = this.host.mergeRemote(w.done === 0 && end === all.length ? w.m.delta : { e: all.slice(w.done, end) }, w.m);
        if (this.stopped) return;
        if (!ok) break;
        w.done = end;
        if (w.done < all.length && this.host.clock.now() >= deadline) return this.schedule();
      }
      this.shift();
      if (ok) {
        this.lastMerged = w.m;
        this.host.merged(w.m);
        this.host.send(w.from, ackMsg(this.host.self, w.m.s, this.host.ackReaders?.()));
      }
      if (this.host.clock.now() >= deadline) return this.schedule();
    }
    this.schedule(); // stopped after `batches`: the rest next turn (schedule() does nothing when none is left)
  }

  private shift(): void {
    this.queue[this.head++] = undefined as unknown as Waiting; // not kept alive
    if (this.head === this.queue.length) (this.queue.length = 0), (this.head = 0);
    else if (this.head > 64 && this.head * 2 > this.queue.length) this.queue.splice(0, this.head), (this.head = 0);
  }
}
