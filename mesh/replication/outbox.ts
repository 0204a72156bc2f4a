/**
 * Per-peer outboxes. A local write only queues its seq for every live peer;
 * once per tick (or as soon as a burst fills a message: the replicator pumps
 * then, so a long burst pipelines) each queue goes out as a few messages, each carrying the
 * joined delta of up to maxBatchEntries entries and the ranges of the seqs it
 * covers, so a burst of 10,000 writes costs a handful of messages, not 10,000.
 * Peers that get the same batch share one encoded message.
 *
 * A sent batch stays in flight until the peer echoes its ranges in an ack,
 * and is re-sent after max(retransmitMs, 2 x the peer's smoothed round trip),
 * doubling per try; a batch that keeps failing is split (it may be too big
 * for the transport). At most windowEntries entries are in flight per peer.
 *
 * A message carries one epoch stamp, so a batch holds writes of one epoch
 * only (a retransmit re-sends a part of one batch: it keeps the stamp).
 *
 * Building a batch (join, encode) of 4,000 entries takes a few ms; an ack
 * that opens a whole window built eight in one turn, and each peer built its
 * own copy. So a pump stops after PUMP_BUDGET_MS (at least one batch), and
 * `more` is told to pump again on a later turn; and the last MEMO_BATCHES
 * batches built are kept by their seq ranges (seqs are never reused, so
 * equal ranges are the same writes), so the other peers get the same bytes.
 */
import { type Delta, type DeltaEntry, joinDeltas } from "../../core/crdt/lww-map.ts";
import type { Address, Clock, Message } from "../types.ts";
import type { PendingWrite, PendingWrites } from "./acks.ts";
import type { ReplicationConfig } from "./config.ts";
import { dataMsg, type Sender } from "./messages.ts";
import { toRanges } from "./seq-ranges.ts";

/** One message's worth of writes, in flight to one peer. */
interface Batch {
  key: string;
  seqs: number[];
  entries: number;
  sentAt: number;
  tries: number;
}

/** One live peer, by name, at its current identity. */
export interface PeerLink {
  readonly name: string;
  readonly id: string;
  readonly address: Address;
  /** seqs waiting to be sent */
  queue: number[];
  /** in-flight batches by their ranges key (what the ack echoes) */
  inflight: Map<string, Batch>;
  inflightEntries: number;
  /** smoothed ack round trip of first sends, ms (0 until measured) */
  srtt: number;
}

export interface OutboxCounters {
  messages: number;
  deltas: number;
  entries: number;
  retransmits: number;
}

const MAX_BACKOFF_SHIFT = 4;
/** How long one pump may build batches (ms), checked after each. */
export const PUMP_BUDGET_MS = 3;
/** Built batches kept for the other peers (a window's worth of 4,000-entry batches, ~250 KB each). */
const MEMO_BATCHES = 16;

export class Outbox {
  readonly peers = new Map<string, PeerLink>();
  readonly counters: OutboxCounters = { messages: 0, deltas: 0, entries: 0, retransmits: 0 };
  /** Recently built batches by ranges key, oldest first. */
  private readonly memo = new Map<string, Message>();

  constructor(
    private readonly self: Sender,
    private readonly pending: PendingWrites,
    private readonly send: (to: Address, msg: Message) => boolean,
    private readonly clock: Clock,
    private readonly config: ReplicationConfig,
    /** A pump stopped at its budget with more the window allows: pump again on a later turn. */
    private readonly more: () => void = () => {},
  ) {}

  /** The process each name's last link was to (kept after its close). */
  private readonly lastIds = new Map<string, string>();

  /**
   * Start tracking a peer and queue every pending write it has not
   * acknowledged. A link to another process than the name's last one first
   * forgets that one's acks (they said nothing of this process's replica),
   * also when the link was closed in between: the new process is shown only
   * once its hello came (generation-view.ts), after the old one's down.
   */
  open(name: string, id: string, address: Address): PeerLink {
    const last = this.lastIds.get(name);
    if (last !== undefined && last !== id) {
      for (const pw of this.pending.bySeq.values()) {
        const k = pw.acked.indexOf(name);
        if (k >= 0) pw.acked.splice(k, 1);
      }
    }
    this.lastIds.set(name, id);
    const link: PeerLink = { name, id, address, queue: [], inflight: new Map(), inflightEntries: 0, srtt: 0 };
    for (const pw of this.pending.bySeq.values()) if (!pw.acked.includes(name)) link.queue.push(pw.seq);
    this.peers.set(name, link);
    return link;
  }

  close(name: string): void {
    this.peers.delete(name);
  }

  /** Queue a new write for every peer. */
  enqueue(seq: number): void {
    for (const link of this.peers.values()) link.queue.push(seq);
  }

  /** Send what the window allows from every queue. */
  pumpAll(): void {
    const until = this.clock.now() + PUMP_BUDGET_MS;
    for (const link of this.peers.values()) this.pump(link, until);
  }

  /** Send queued writes to `link`, batched, within the window, until the clock passes `until` (after one batch at least). */
  pump(link: PeerLink, until: number = this.clock.now() + PUMP_BUDGET_MS): void {
    const q = link.queue;
    if (q.length === 0) return;
    const bySeq = this.pending.bySeq;
    const max = this.config.maxBatchEntries;
    let k = 0;
    let sent = false;
    while (k < q.length && link.inflightEntries < this.config.windowEntries) {
      if (sent && this.clock.now() >= until) {
        this.more();
        break;
      }
      const batch: PendingWrite[] = [];
      let entries = 0;
      for (; k < q.length; k++) {
        const pw = bySeq.get(q[k]!);
        if (pw === undefined || pw.acked.includes(link.name)) continue;
        if (batch.length > 0 && (entries + pw.entries > max || pw.epoch !== batch[0]!.epoch)) break;
        batch.push(pw);
        entries += pw.entries;
      }
      if (batch.length === 0) break;
      this.counters.deltas += batch.length;
      this.transmit(link, batch, entries, 1);
      sent = true;
    }
    if (k > 0) link.queue = k >= q.length ? [] : q.slice(k);
  }

  /** `link` acknowledged the batch with these ranges: it leaves the flight. */
  acked(link: PeerLink, ranges: readonly number[]): void {
    const key = ranges.join(",");
    const b = link.inflight.get(key);
    if (b === undefined) return;
    link.inflight.delete(key);
    link.inflightEntries -= b.entries;
    if (b.tries === 1) {
      // Karn: only first sends time the round trip.
      const sample = this.clock.now() - b.sentAt;
      link.srtt = link.srtt === 0 ? sample : 0.8 * link.srtt + 0.2 * sample;
    }
  }

  /** Re-send what has waited past its (backed-off) timeout; then refill windows. */
  retransmit(): void {
    const now = this.clock.now();
    // Past the budget, what is due waits in flight for the next tick.
    const until = now + PUMP_BUDGET_MS;
    for (const link of this.peers.values()) {
      const base = Math.max(this.config.retransmitMs, 2 * link.srtt);
      for (const b of [...link.inflight.values()]) {
        if (now - b.sentAt < base * 2 ** Math.min(b.tries - 1, MAX_BACKOFF_SHIFT)) continue;
        if (this.clock.now() >= until) break;
        link.inflight.delete(b.key);
        link.inflightEntries -= b.entries;
        const left: PendingWrite[] = [];
        for (const seq of b.seqs) {
          const pw = this.pending.bySeq.get(seq);
          if (pw !== undefined && !pw.acked.includes(link.name)) left.push(pw);
        }
        if (left.length === 0) continue;
        this.counters.retransmits += left.length;
        // A batch that keeps failing may be too big for the transport: split it.
        const cap = Math.max(1, this.config.maxBatchEntries >> Math.min(b.tries, 12));
        let part: PendingWrite[] = [];
        let entries = 0;
        for (const pw of left) {
          if (part.length > 0 && entries + pw.entries > cap) {
            this.transmit(link, part, entries, b.tries + 1);
            part = [];
            entries = 0;
          }
          part.push(pw);
          entries += pw.entries;
        }
        this.transmit(link, part, entries, b.tries + 1);
      }
      this.pump(link, until);
    }
  }

  /** Writes were pruned (PendingWrites.prune): batches built before are stale. */
  forgetBuilt(): void {
    this.memo.clear();
  }

  /** Whether every pending write has been acknowledged by every open peer. */
  drained(): boolean {
    for (const pw of this.pending.bySeq.values()) {
      for (const link of this.peers.values()) if (!pw.acked.includes(link.name)) return false;
    }
    return true;
  }

  private transmit(link: PeerLink, batch: PendingWrite[], entries: number, tries: number): void {
    const seqs = batch.map((pw) => pw.seq);
    const ranges = toRanges(seqs);
    const key = ranges.join(",");
    let msg = this.memo.get(key);
    if (msg === undefined) {
      msg = dataMsg(this.self, ranges, joinBatch(batch), batch[0]!.epoch);
      if (this.memo.size >= MEMO_BATCHES) this.memo.delete(this.memo.keys().next().value!);
      this.memo.set(key, msg);
    }
    link.inflight.set(key, { key, seqs, entries, sentAt: this.clock.now(), tries });
    link.inflightEntries += entries;
    this.counters.messages++;
    this.counters.entries += entries;
    this.send(link.address, msg);
  }
}

/**
 * The joined delta of a batch. Writes to distinct keys (the usual burst) are
 * just concatenated, checked with a Set; only a batch that writes a key twice
 * pays for joinDeltas' per-key comparison.
 */
function joinBatch(batch: readonly PendingWrite[]): Delta {
  if (batch.length === 1) return batch[0]!.delta;
  const seen = new Set<string>();
  const e: DeltaEntry[] = [];
  for (const pw of batch) {
    for (const en of pw.delta.e) {
      if (seen.has(en.k)) return joinDeltas(batch.map((p) => p.delta));
      seen.add(en.k);
      e.push(en);
    }
  }
  return { e };
}
