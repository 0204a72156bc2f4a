/**
 * The writes of this node that are not yet held everywhere: their deltas
 * (for the outboxes and retransmits), who acknowledged them, and the promise
 * each writer waits on. A write resolves once enough nodes hold it for the
 * concern, or rejects with `unavailable` at its deadline; either way it stays
 * here, and keeps being sent, until every live peer has acknowledged it.
 * A write a peer refused as fenced (stamped with an epoch that has moved on)
 * rejects at once, and that peer counts as done with it.
 */
import { HELD } from "./held.ts";
import { RoomyError } from "../../core/errors.ts";
import type { Delta } from "../../core/crdt/lww-map.ts";
import { Histogram, LATENCY_BOUNDS_SECONDS } from "../stats/histogram.ts";
import type { Clock, Timer } from "../types.ts";
import { meets, type Quorum } from "./concern.ts";
import type { ReaderWaits } from "./lease-grants.ts";
import { SeqTable } from "./seq-table.ts";

export interface PendingWrite {
  seq: number;
  /** the writer's epoch when the write was made (its stamp, kept by retransmits) */
  epoch: number;
  delta: Delta;
  /** entries in `delta` (batch sizing) */
  entries: number;
  /**
   * names of the peers done with it (a few at most: an array beats a Set):
   * they hold it, or refused it as fenced (then it is settled already)
   */
  acked: string[];
  startedAt: number;
  deadline: number;
  settled: boolean;
  resolve(): void;
  reject(err: Error): void;
}

const LATENCY_SAMPLES = 256;

const noop = (): void => {};

// Filled by the executor below, which runs synchronously inside `new Promise`:
// a shared function instead of a closure per write.
let grabbedResolve: () => void = noop;
let grabbedReject: (err: Error) => void = noop;
function grab(resolve: () => void, reject: (err: Error) => void): void {
  grabbedResolve = resolve;
  grabbedReject = reject;
}

export class PendingWrites {
  /** In seq order. */
  readonly bySeq = new SeqTable<PendingWrite>();
  resolved = 0;
  rejected = 0;
  /** writes rejected because a peer fenced them (counted in `rejected` too) */
  fenced = 0;
  private nextSeq = 0;
  /** Unsettled writes in deadline order (deadlines grow with seq). */
  private waiting: PendingWrite[] = [];
  private head = 0;
  private timer: Timer | null = null;
  private readonly latencies: number[] = [];
  /** Every write's time to its concern since start, seconds (/metrics). */
  readonly ackHistogram = new Histogram(LATENCY_BOUNDS_SECONDS);
  private latencyAt = 0;
  /** Readers holding read leases, who must hold a write too before it is acknowledged (lease-grants.ts); null: none asked. */
  readers: ReaderWaits | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly ackTimeoutMs: number,
    /** Called with writes that just timed out (so the owner can retire them). */
    private readonly onExpired: (expired: PendingWrite[]) => void,
  ) {}

  get size(): number {
    return this.bySeq.size;
  }

  /** The seq of the latest write registered (0: none). */
  get lastSeq(): number {
    return this.nextSeq;
  }

  /**
   * Register a local write stamped `epoch`; it is settled at once if
   * `heldAtOnce` (then `done` is a shared resolved promise: no promise is made per write).
   */
  add(delta: Delta, epoch: number, heldAtOnce: boolean): { pw: PendingWrite; done: Promise<void> } {
    const now = this.clock.now();
    const pw: PendingWrite = {
      seq: ++this.nextSeq,
      epoch,
      delta,
      entries: delta.e.length,
      acked: [],
      startedAt: now,
      deadline: now + this.ackTimeoutMs,
      settled: false,
      resolve: noop,
      reject: noop,
    };
    this.bySeq.set(pw.seq, pw);
    if (heldAtOnce) {
      this.heldAtOnce(pw);
      return { pw, done: HELD };
    }
    const done = new Promise<void>(grab);
    pw.resolve = grabbedResolve;
    pw.reject = grabbedReject;
    this.waiting.push(pw);
    this.arm();
    return { pw, done };
  }

  /**
   * A write held as soon as it is merged here (no peer needed): counted, never
   * tracked. It still takes a seq, so our cover ([1, lastSeq]) names it: a peer
   * asking for our cover later (a read barrier, a read lease) then fetches it
   * rather than take our cover as held without it.
   */
  settledAtOnce(): void {
    this.nextSeq++;
    this.counted();
  }

  private heldAtOnce(pw: PendingWrite): void {
    pw.settled = true;
    this.counted();
  }

  private counted(): void {
    this.resolved++;
    this.recordLatency(0);
  }

  /** Resolve `pw` if the nodes holding it meet `q`. `now`: the clock, if the caller read it for a batch. */
  settleIfHeld(pw: PendingWrite, q: Quorum, now?: number): boolean {
    if (pw.settled) return true;
    if (!meets(pw.acked, q)) return false;
    const t = now ?? this.clock.now();
    if (this.readers !== null && !this.readers.satisfied(pw.acked, t, pw.startedAt)) return false;
    pw.settled = true;
    this.resolved++;
    this.recordLatency(t - pw.startedAt);
    pw.resolve();
    return true;
  }

  /** A peer whose fence is `fence` refused `pw`: reject it now if unsettled (an acknowledged write stays so). */
  fencedOut(pw: PendingWrite, fence: number): void {
    if (pw.settled) return;
    pw.settled = true;
    this.rejected++;
    this.fenced++;
    pw.reject(new RoomyError("unavailable", `write fenced: epoch ${pw.epoch} moved on to ${fence}; retry`));
  }

  /**
   * Drop `keys` (tombstones forgotten everywhere) from the writes still kept
   * to be sent; a write's own delta is replaced, never changed (it may be
   * shared). Whether any was.
   */
  prune(keys: ReadonlySet<string>): boolean {
    if (keys.size === 0) return false;
    let any = false;
    for (const pw of this.bySeq.values()) {
      if (!pw.delta.e.some((d) => keys.has(d.k))) continue;
      pw.delta = { e: pw.delta.e.filter((d) => !keys.has(d.k)) };
      pw.entries = pw.delta.e.length;
      any = true;
    }
    return any;
  }

  /** Forget a write that is settled and held by every live peer. */
  retire(pw: PendingWrite): void {
    this.bySeq.delete(pw.seq);
  }

  /** Recent ack latencies, oldest first. */
  latencySamples(): number[] {
    if (this.latencies.length < LATENCY_SAMPLES) return this.latencies.slice();
    return [...this.latencies.slice(this.latencyAt), ...this.latencies.slice(0, this.latencyAt)];
  }

  /** Reject every unsettled write (the replicator stops). */
  rejectAll(why: string): void {
    this.timer?.cancel();
    this.timer = null;
    const err = new RoomyError("unavailable", why);
    for (let k = this.head; k < this.waiting.length; k++) {
      const pw = this.waiting[k]!;
      if (pw.settled) continue;
      pw.settled = true;
      this.rejected++;
      pw.reject(err);
    }
    this.waiting = [];
    this.head = 0;
    this.bySeq.clear();
  }

  private recordLatency(ms: number): void {
    this.ackHistogram.observe(ms / 1000);
    if (this.latencies.length < LATENCY_SAMPLES) this.latencies.push(ms);
    else {
      this.latencies[this.latencyAt] = ms;
      this.latencyAt = (this.latencyAt + 1) % LATENCY_SAMPLES;
    }
  }

  /** One timer, for the earliest unsettled deadline. */
  private arm(): void {
    if (this.timer !== null) return;
    this.skipSettled();
    const first = this.waiting[this.head];
    if (first === undefined) return;
    this.timer = this.clock.setTimer(first.deadline - this.clock.now(), () => {
      this.timer = null;
      this.expire();
    });
  }

  private expire(): void {
    const now = this.clock.now();
    const expired: PendingWrite[] = [];
    // One error for the whole sweep: capturing a stack per write is costly
    // exactly when the cluster is already in trouble.
    let err: RoomyError | undefined;
    for (;;) {
      this.skipSettled();
      const pw = this.waiting[this.head];
      if (pw === undefined || pw.deadline > now) break;
      this.head++;
      pw.settled = true;
      this.rejected++;
      expired.push(pw);
      err ??= new RoomyError(
        "unavailable",
        `write not acknowledged by enough nodes within ${this.ackTimeoutMs} ms (it stays applied and keeps replicating)`,
      );
      pw.reject(err);
    }
    if (expired.length > 0) this.onExpired(expired);
    this.arm();
  }

  private skipSettled(): void {
    while (this.head < this.waiting.length && this.waiting[this.head]!.settled) this.head++;
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }
}
