/**
 * The responder's side of an anti-entropy round, once the initiator has
 * compared leaves and asked {lw}: stream it our entries of the leaves it
 * holds nothing of, and of the leaves both sides fill only the entries whose
 * print it did not send {ls} (it holds those already, at the same version).
 * So a round with k differing keys sends about k entries, plus 8 bytes of
 * print per entry the initiator holds in those leaves.
 *
 * The last chunk tells the initiator which of its prints matched nothing
 * here (what it should push back), or null when there are too many to list.
 */
import type { Change, DeltaEntry, LwwMap } from "../../core/crdt/lww-map.ts";
import { PRINTED } from "../../core/crdt/lww-map.ts";
import type { Address, Clock, Message } from "../types.ts";
import type { ReplicationConfig } from "./config.ts";
import { chunkMsg, type ReplMsg, printsAckMsg, type Sender } from "./messages.ts";
import { orderedSource, snapshotOrderOf } from "./snapshot-order.ts";
import { leafSource, OutStream, STREAM_WINDOW } from "./stream.ts";

export interface AnswerHost {
  readonly self: Sender;
  readonly map: LwwMap;
  readonly clock: Clock;
  readonly config: ReplicationConfig;
  send(to: Address, msg: Message): boolean;
  /** The replicator's change feed (a whole-map transfer in an app's order notes what changes meanwhile). */
  onChange?(fn: (changes: Change[]) => void): () => void;
}

/** Unmatched prints listed in the last chunk at most (8 bytes each). */
export const MAX_UNMATCHED = 262_144;

interface Answer {
  r: number;
  from: Address;
  /** per leaf: 0, 1 (send all), 1 | PRINTED (send what the prints lack) */
  flags: Uint8Array;
  /** the initiator's prints (null: none expected); matched ones are removed as we walk */
  prints: Set<number> | null;
  /** print chunks received, and the index of the last one once seen */
  got: Set<number>;
  lastPrint: number;
  /** entries per chunk of the answer */
  chunk: number;
  /** when the last `ls` came, while waiting for them */
  heardAt: number;
  stream: OutStream | null;
}

export class Answers {
  resent = 0;
  private readonly byPeer = new Map<string, Answer>();
  /** per initiator, the round whose answer we last finished (a late duplicate `lw` must not restart it) */
  private readonly answered = new Map<string, number>();

  constructor(
    private readonly h: AnswerHost,
    /** entries sent (first sends), for the counters */
    private readonly sent: (n: number) => void,
  ) {}

  /** Whether we are answering `name` (waiting for its prints or streaming). */
  has(name: string): boolean {
    return this.byPeer.has(name);
  }

  abort(name: string): void {
    const a = this.byPeer.get(name);
    if (a === undefined) return;
    this.byPeer.delete(name);
    a.stream?.abort();
  }

  abortAll(): void {
    for (const name of [...this.byPeer.keys()]) this.abort(name);
  }

  /** Resend what waited too long; drop an answer whose initiator went quiet. */
  tick(now: number): void {
    for (const [name, a] of [...this.byPeer]) {
      if (a.stream === null) {
        if (now - a.heardAt >= this.h.config.roundTimeoutMs) this.abort(name);
        continue;
      }
      const before = a.stream.resent;
      a.stream.tick(now);
      this.resent += a.stream.resent - before;
    }
  }

  onWant(from: Address, m: Extract<ReplMsg, { t: "lw" }>): void {
    const cur = this.byPeer.get(m.n);
    if ((cur !== undefined && cur.r === m.r) || this.answered.get(m.n) === m.r) return; // a copy of the ask
    this.abort(m.n);
    const flags = new Uint8Array(m.m.length);
    let printed = false;
    for (let k = 0; k < flags.length; k++) {
      if (m.s[k] !== 0) (flags[k] = 1 | PRINTED), (printed = true);
      else if (m.m[k] !== 0) flags[k] = 1;
    }
    const chunk = Math.min(m.z, this.h.config.chunkEntries);
    const a: Answer = { r: m.r, from, flags, prints: printed ? new Set() : null, got: new Set(), lastPrint: -1, chunk, heardAt: this.h.clock.now(), stream: null };
    this.byPeer.set(m.n, a);
    if (!printed) this.start(m.n, a);
  }

  /** A chunk of the initiator's prints: note them; once all are in, start answering. */
  onPrints(from: Address, m: Extract<ReplMsg, { t: "ls" }>): void {
    const a = this.byPeer.get(m.n);
    // Prints of a round whose ask has not come (lost, or overtaken by them) are
    // not acked: acked, the initiator would never send them again, and the
    // answer would wait for them until the round timed out (soak seed 47:
    // catch-ups stuck for seconds behind such rounds). Unacked, they come again.
    if (a?.r !== m.r && this.answered.get(m.n) !== m.r) return;
    this.h.send(from, printsAckMsg(this.h.self, m.r, m.c));
    if (a === undefined || a.r !== m.r || a.stream !== null || a.prints === null || a.got.has(m.c)) return;
    a.heardAt = this.h.clock.now();
    for (const p of m.p) a.prints.add(p);
    a.got.add(m.c);
    if (m.l) a.lastPrint = m.c;
    if (a.lastPrint < 0 || a.got.size < a.lastPrint + 1) return;
    for (let c = 0; c <= a.lastPrint; c++) if (!a.got.has(c)) return;
    this.start(m.n, a);
  }

  onAck(m: Extract<ReplMsg, { t: "ak" }>): void {
    const a = this.byPeer.get(m.n);
    if (a !== undefined && a.r === m.r) a.stream?.ack(m.c);
  }

  private start(name: string, a: Answer): void {
    const h = this.h;
    const prints = a.prints;
    // An entry whose print the initiator sent is one it holds: skip it (and
    // strike the print: what is left at the end, we lack or hold older).
    const pick = (e: DeltaEntry, p: number): DeltaEntry | undefined => (p !== -1 && prints !== null && prints.delete(p) ? undefined : e);
    // (Nearly) the whole map to a node holding nothing there: in the app's order, if it gave one
    // (snapshot-order.ts; it sends every key at least once, so also those of leaves not asked for).
    const order = prints === null && h.onChange !== undefined && mostly(a.flags) ? (snapshotOrderOf(h.map) ?? null) : null;
    const ordered = order !== null ? orderedSource({ map: h.map, onChange: (fn) => h.onChange!(fn) }, order, a.flags) : null;
    a.stream = new OutStream(h, ordered ?? leafSource(h.map, a.flags, pick), {
      to: a.from,
      chunk: a.chunk,
      window: STREAM_WINDOW,
      retransmitMs: h.config.retransmitMs,
      idleMs: h.config.roundTimeoutMs,
      make: (c, last, e) => {
        this.sent(e.length);
        const unmatched = !last || prints === null ? undefined : prints.size <= MAX_UNMATCHED ? [...prints] : null;
        return chunkMsg("ae", h.self, a.r, c, last, { e }, h.map.horizon, unmatched);
      },
      done: (ok) => {
        ordered?.stop();
        if (this.byPeer.get(name) === a) this.byPeer.delete(name);
        if (ok) this.answered.set(name, a.r);
      },
    });
  }
}

/** Whether at least 9 in 10 leaves are asked for. */
function mostly(flags: Uint8Array): boolean {
  let n = 0;
  for (let k = 0; k < flags.length; k++) if (flags[k] !== 0) n++;
  return n * 10 >= flags.length * 9;
}
