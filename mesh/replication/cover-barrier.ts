/**
 * The read barrier's pull, by covers (seq-cover.ts) first: ask each named
 * peer for its cover (`vq`); a peer whose cover (`vr`, built after the ask,
 * so after the read began) ours already contains needs nothing more. One
 * whose writes are still on their way here is waited for as the stream
 * brings them (the cover grows as batches merge); after WAIT_MS, or at once
 * for a cover ours cannot reach by the stream (an origin that is gone, a
 * batch refused here as fenced, writes from before we were its peer), a
 * fresh anti-entropy round with that peer brings whatever it held, and then
 * its whole cover counts as ours. So an idle cluster's read costs one small
 * round trip, and one under write load waits for the writes in flight
 * rather than comparing digests of every bucket they touch.
 *
 * Only `need` of the named peers are asked at first (the first live ones):
 * asking all of them cost every read a message, a wake-up and an answer per
 * extra peer (on an idle 3-node cluster ~30% of the CPU of a who-is-in,
 * summed over the nodes). The others are asked on the tick once the pull has
 * waited HEDGE_MS, or at once when an asked peer is no longer a live link.
 *
 * Why it is enough: an acknowledged write is in the cover of every holder
 * that acked it (seq-cover.ts), and those are a majority; the named peers
 * and this node are a majority too, so one of them acked it: it is ours, or
 * in a cover we then contain.
 */
import { RoomyError } from "../../core/errors.ts";
import type { Address, Clock, Message, Timer } from "../types.ts";
import type { PulledFrom } from "./catch-up.ts";
import type { Sender } from "./messages.ts";
import type { PeerLink } from "./outbox.ts";
import { type CoverEntry, coverFromWire, type SeqCover } from "./seq-cover.ts";

/** How long a peer's writes may take to arrive by the stream before a fresh round fetches them. */
export const WAIT_MS = 100;
/** How long the peers asked first may take before the tick asks the other named ones too. */
export const HEDGE_MS = 10;

/** What the exchanges of covers with peers need (this barrier, and the read leases: read-lease.ts, lease-grants.ts). */
export interface CoverPeers {
  readonly clock: Clock;
  readonly self: Sender;
  readonly cover: SeqCover;
  /** the seq of this node's latest write (0: none) */
  lastSeq(): number;
  readonly peers: ReadonlyMap<string, PeerLink>;
  send(to: Address, msg: Message): boolean;
}

export interface CoverHost extends CoverPeers {
  /** A fresh anti-entropy round with `link`: done(ok) once it completes or fails. */
  freshRound(link: PeerLink, done: (ok: boolean) => void): void;
  /** how often an unanswered ask is sent again */
  readonly retransmitMs: number;
  stopped(): boolean;
}

interface Asked {
  name: string;
  /** the process asked (its answer must come from it) */
  id: string;
  /** its cover, once answered */
  theirs: CoverEntry[] | null;
  /** when it was last asked, or (once answered) when it answered */
  at: number;
  /** a fresh round with it is under way */
  pulling: boolean;
}

interface Pull {
  r: number;
  need: number;
  /** the peers named, but this node */
  wanted: string[];
  asked: Map<string, Asked>;
  done: Map<string, string>;
  resolve(v: PulledFrom[]): void;
  reject(err: Error): void;
  timer: Timer;
  /** when it began (HEDGE_MS) */
  at: number;
}

export type CoverMsg = (Sender & { t: "vq"; r: number }) | (Sender & { t: "vr"; r: number; v: CoverEntry[] });

export function isCoverMsg(msg: Message): boolean {
  return msg.t === "vq" || msg.t === "vr";
}

export function parseCoverMsg(msg: Message): CoverMsg {
  const m = msg as Record<string, unknown>;
  if (typeof m["n"] !== "string" || typeof m["i"] !== "string" || !Number.isSafeInteger(m["r"])) throw new Error("cover: bad header");
  const head = { n: m["n"] as string, i: m["i"] as string, r: m["r"] as number };
  if (m["t"] === "vq") return { ...head, t: "vq" };
  return { ...head, t: "vr", v: coverFromWire(m["v"]) };
}

export class CoverBarrier {
  private readonly pulls = new Map<number, Pull>();
  private nextR = 0;
  private ticker: Timer | null = null;

  constructor(private readonly h: CoverHost) {}

  /** Resolves with `need` of `names` whose covers (asked after the call) this replica contains; else rejects unavailable at `timeoutMs`. */
  pull(names: readonly string[], need: number, timeoutMs: number): Promise<PulledFrom[]> {
    if (need <= 0) return Promise.resolve([]);
    const wanted = [...new Set(names)].filter((n) => n !== this.h.self.n);
    if (wanted.length < need) return Promise.reject(new RoomyError("unavailable", `a read needs ${need} peers, only ${wanted.length} named`));
    return new Promise<PulledFrom[]>((resolve, reject) => {
      const r = ++this.nextR;
      const timer = this.h.clock.setTimer(timeoutMs, () => {
        const silent = wanted.filter((n) => !pull.done.has(n));
        this.end(pull, new RoomyError("unavailable", `read barrier: ${pull.done.size} of ${need} peers within ${timeoutMs} ms; not from ${silent.join(", ")}`));
      });
      const pull: Pull = { r, need, wanted, asked: new Map(), done: new Map(), resolve, reject, timer, at: this.h.clock.now() };
      this.pulls.set(r, pull);
      for (const name of wanted) {
        if (pull.asked.size >= need) break;
        this.ask(pull, name);
      }
      this.tickSoon();
    });
  }

  /** A peer asks for our cover, or answers our ask. */
  handle(from: Address, m: CoverMsg): void {
    if (m.t === "vq") {
      this.h.send(from, { t: "vr", n: this.h.self.n, i: this.h.self.i, r: m.r, v: this.h.cover.entries({ name: this.h.self.n, id: this.h.self.i }, this.h.lastSeq()) });
      return;
    }
    const pull = this.pulls.get(m.r);
    const a = pull?.asked.get(m.n);
    if (pull === undefined || a === undefined || a.id !== m.i || a.theirs !== null || pull.done.has(m.n)) return;
    a.theirs = m.v;
    a.at = this.h.clock.now();
    this.check(pull, a);
  }

  /** Our cover grew (a batch merged): answers waiting on it may be contained now. */
  grew(): void {
    if (this.pulls.size === 0) return;
    for (const pull of [...this.pulls.values()]) {
      for (const a of pull.asked.values()) if (a.theirs !== null && !a.pulling && this.pulls.has(pull.r)) this.check(pull, a);
    }
  }

  /** Fail every pull (the replicator stops). */
  abortAll(): void {
    for (const pull of [...this.pulls.values()]) this.end(pull, new RoomyError("unavailable", "replicator stopped"));
  }

  private ask(pull: Pull, name: string): void {
    const link = this.h.peers.get(name);
    if (link === undefined) return; // asked again on the tick, should it come
    const prev = pull.asked.get(name);
    // A new process under the name: its predecessor's answer counts for nothing.
    if (prev === undefined || prev.id !== link.id) pull.asked.set(name, { name, id: link.id, theirs: null, at: this.h.clock.now(), pulling: false });
    else prev.at = this.h.clock.now();
    this.h.send(link.address, { t: "vq", n: this.h.self.n, i: this.h.self.i, r: pull.r });
  }

  private check(pull: Pull, a: Asked): void {
    if (a.theirs === null || a.pulling || pull.done.has(a.name)) return;
    if (this.h.cover.covers(a.theirs, { name: this.h.self.n, id: this.h.self.i })) return this.complete(pull, a);
    if (this.h.clock.now() - a.at >= WAIT_MS || !this.reachable(a.theirs)) this.fetch(pull, a);
  }

  /** Whether the stream can still bring what `theirs` holds and we lack: every such origin is a live link now. */
  private reachable(theirs: readonly CoverEntry[]): boolean {
    const self = { name: this.h.self.n, id: this.h.self.i };
    for (const e of theirs) {
      if (this.h.cover.covers([e], self)) continue;
      const link = this.h.peers.get(e[0]);
      if (link === undefined || link.id !== e[1]) return false;
    }
    return true;
  }

  /** A fresh round with the peer: afterwards everything its cover named is here. */
  private fetch(pull: Pull, a: Asked): void {
    const link = this.h.peers.get(a.name);
    if (link === undefined || link.id !== a.id) return;
    a.pulling = true;
    const theirs = a.theirs!;
    this.h.freshRound(link, (ok) => {
      a.pulling = false;
      if (!this.pulls.has(pull.r) || pull.done.has(a.name)) return;
      if (ok) {
        this.h.cover.addAll(theirs);
        this.complete(pull, a);
      } else {
        a.at = this.h.clock.now() - WAIT_MS; // try again on the next tick
      }
    });
  }

  private complete(pull: Pull, a: Asked): void {
    pull.done.set(a.name, a.id);
    if (pull.done.size >= pull.need) this.end(pull, null);
  }

  private end(pull: Pull, err: Error | null): void {
    if (!this.pulls.delete(pull.r)) return;
    pull.timer.cancel();
    if (err !== null) pull.reject(err);
    else pull.resolve([...pull.done].map(([name, id]) => ({ name, id })));
  }

  /** Peers asked whose process is still the live link under their name. */
  private liveAsked(pull: Pull): number {
    let n = 0;
    for (const a of pull.asked.values()) if (this.h.peers.get(a.name)?.id === a.id) n++;
    return n;
  }

  /** While pulls wait: fetch what waited WAIT_MS, ask again those that never answered. */
  private tickSoon(): void {
    if (this.ticker !== null) return;
    this.ticker = this.h.clock.setTimer(Math.min(WAIT_MS, this.h.retransmitMs) / 2, () => {
      this.ticker = null;
      if (this.h.stopped()) return this.abortAll();
      const now = this.h.clock.now();
      for (const pull of [...this.pulls.values()]) {
        for (const [name, a] of pull.asked) {
          if (!this.pulls.has(pull.r) || pull.done.has(name)) continue;
          if (a.theirs === null) {
            if (now - a.at >= this.h.retransmitMs) this.ask(pull, name);
          } else this.check(pull, a);
        }
        // Names asked as a process since replaced; and names not asked yet, once
        // those asked are slow (HEDGE_MS) or fewer than needed are still live.
        const hedge = this.pulls.has(pull.r) && (now - pull.at >= HEDGE_MS || this.liveAsked(pull) < pull.need);
        for (const name of pull.wanted) {
          const link = this.h.peers.get(name);
          if (!this.pulls.has(pull.r) || link === undefined || pull.done.has(name)) continue;
          const prev = pull.asked.get(name);
          if (prev !== undefined ? prev.id !== link.id : hedge) this.ask(pull, name);
        }
      }
      if (this.pulls.size > 0) this.tickSoon();
    });
  }
}
