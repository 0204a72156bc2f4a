/**
 * A write barrier for keys that more than one node writes (a person's room:
 * a walk-into is written by the room's owner, a leave by the node it
 * reaches). Last-writer-wins orders writes by their hybrid-clock stamps, and
 * a writer's clock has observed only what it merged: a write acknowledged
 * by the two other nodes of three, not merged here yet, may carry a later
 * stamp than a write made here right after its acknowledgement (the same
 * millisecond, or a clock a little behind), and the later acknowledged write
 * would lose everywhere (tests/cluster/hostile-lost-update.test.ts).
 *
 * So before such a write the writer asks enough holders that they and it
 * make a majority for their clocks' latest reading (`tq`/`tr`, asked after
 * the write began) and observes them. A write acknowledged before was
 * merged by a majority (a holder acks only once merged, and merging
 * observes its stamp), so one of those answers is at or past its stamp, and
 * the new write's stamp is later. No data waits: one small round trip,
 * shared by the writes of a turn (registry read-barrier.ts sharing).
 *
 * Only `need` of the named peers are asked at first, taken in turn so the
 * load spreads; the others once the pull has waited HEDGE_MS, or at once
 * when an asked peer is no longer a live link (asking all cost each write's
 * barrier a message, a wake-up and an answer per extra peer).
 */
import { RoomyError } from "../../core/errors.ts";
import type { Timestamp } from "../../core/crdt/hlc.ts";
import type { Address, Clock, Message, Timer } from "../types.ts";
import type { PulledFrom } from "./catch-up.ts";
import type { Sender } from "./messages.ts";
import type { PeerLink } from "./outbox.ts";

/** How long the peers asked first may take before the others are asked too. */
export const HEDGE_MS = 20;

export interface ClockHost {
  readonly clock: Clock;
  readonly self: Sender;
  /** this node's clock: its latest stamp issued or observed (null: none to give) */
  last(): Timestamp | null;
  /** observe a peer's reading; throws if the clock refuses it (too far ahead) */
  observe(ts: Timestamp): void;
  readonly peers: ReadonlyMap<string, PeerLink>;
  send(to: Address, msg: Message): boolean;
  readonly retransmitMs: number;
}

export type ClockMsg = (Sender & { t: "tq"; r: number }) | (Sender & { t: "tr"; r: number; ts: Timestamp | null });

export function isClockMsg(msg: Message): boolean {
  return msg.t === "tq" || msg.t === "tr";
}

export function parseClockMsg(msg: Message): ClockMsg {
  const m = msg as Record<string, unknown>;
  if (typeof m["n"] !== "string" || typeof m["i"] !== "string" || !Number.isSafeInteger(m["r"])) throw new Error("clock: bad header");
  const head = { n: m["n"] as string, i: m["i"] as string, r: m["r"] as number };
  if (m["t"] === "tq") return { ...head, t: "tq" };
  const v = m["ts"];
  if (v === null) return { ...head, t: "tr", ts: null };
  if (!Array.isArray(v) || v.length !== 3 || !Number.isSafeInteger(v[0]) || !Number.isSafeInteger(v[1]) || typeof v[2] !== "string") throw new Error("clock: bad reading");
  return { ...head, t: "tr", ts: { w: v[0] as number, c: v[1] as number, n: v[2] as string } };
}

interface Ask {
  r: number;
  need: number;
  wanted: string[];
  /** name -> the process asked */
  asked: Map<string, { id: string; at: number }>;
  done: Map<string, string>;
  resolve(v: PulledFrom[]): void;
  reject(err: Error): void;
  timer: Timer;
  /** when it began (HEDGE_MS) */
  at: number;
}

export class ClockBarrier {
  private readonly asks = new Map<number, Ask>();
  private nextR = 0;
  private ticker: Timer | null = null;

  constructor(private readonly h: ClockHost) {}

  /** Resolves once `need` of `names` answered (asked after the call) and their readings were observed; else rejects unavailable at `timeoutMs`. */
  pull(names: readonly string[], need: number, timeoutMs: number): Promise<PulledFrom[]> {
    if (need <= 0) return Promise.resolve([]);
    const wanted = [...new Set(names)].filter((n) => n !== this.h.self.n);
    if (wanted.length < need) return Promise.reject(new RoomyError("unavailable", `a write needs ${need} peers' clocks, only ${wanted.length} named`));
    return new Promise<PulledFrom[]>((resolve, reject) => {
      const r = ++this.nextR;
      const timer = this.h.clock.setTimer(timeoutMs, () => {
        this.end(ask, new RoomyError("unavailable", `write barrier: ${ask.done.size} of ${need} peers' clocks within ${timeoutMs} ms`));
      });
      const ask: Ask = { r, need, wanted, asked: new Map(), done: new Map(), resolve, reject, timer, at: this.h.clock.now() };
      this.asks.set(r, ask);
      for (let k = 0; k < wanted.length && ask.asked.size < need; k++) this.ask(ask, wanted[(r + k) % wanted.length]!);
      this.tickSoon();
    });
  }

  handle(from: Address, m: ClockMsg): void {
    if (m.t === "tq") {
      const ts = this.h.last();
      this.h.send(from, { t: "tr", n: this.h.self.n, i: this.h.self.i, r: m.r, ts: ts === null ? null : [ts.w, ts.c, ts.n] });
      return;
    }
    const ask = this.asks.get(m.r);
    const a = ask?.asked.get(m.n);
    if (ask === undefined || a === undefined || a.id !== m.i || ask.done.has(m.n)) return;
    if (m.ts !== null) {
      try {
        this.h.observe(m.ts);
      } catch {
        return; // a clock too far ahead: this answer cannot order our write; others may
      }
    }
    ask.done.set(m.n, m.i);
    if (ask.done.size >= ask.need) this.end(ask, null);
  }

  abortAll(): void {
    for (const ask of [...this.asks.values()]) this.end(ask, new RoomyError("unavailable", "replicator stopped"));
  }

  private ask(ask: Ask, name: string): void {
    const link = this.h.peers.get(name);
    if (link === undefined) return;
    ask.asked.set(name, { id: link.id, at: this.h.clock.now() });
    this.h.send(link.address, { t: "tq", n: this.h.self.n, i: this.h.self.i, r: ask.r });
  }

  private end(ask: Ask, err: Error | null): void {
    if (!this.asks.delete(ask.r)) return;
    ask.timer.cancel();
    if (err !== null) ask.reject(err);
    else ask.resolve([...ask.done].map(([name, id]) => ({ name, id })));
  }

  /** While asks wait: ask the others once those asked are slow or gone; ask again those unanswered for retransmitMs, or asked as a process since replaced. */
  private tickSoon(): void {
    if (this.ticker !== null) return;
    this.ticker = this.h.clock.setTimer(HEDGE_MS, () => {
      this.ticker = null;
      const now = this.h.clock.now();
      for (const ask of [...this.asks.values()]) {
        let live = 0;
        for (const [name, a] of ask.asked) if (this.h.peers.get(name)?.id === a.id) live++;
        const hedge = now - ask.at >= HEDGE_MS || live < ask.need;
        for (const name of ask.wanted) {
          const link = this.h.peers.get(name);
          if (link === undefined || ask.done.has(name)) continue;
          const a = ask.asked.get(name);
          if (a === undefined ? hedge : a.id !== link.id || now - a.at >= this.h.retransmitMs) this.ask(ask, name);
        }
      }
      if (this.asks.size > 0) this.tickSoon();
    });
  }
}
