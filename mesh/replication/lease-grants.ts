/**
 * Read leases, the two sides a writer sees (read-lease.ts is the reader's).
 *
 * A grant (`LeaseGrants`): a peer that reads from its own replica asked this
 * node for a lease, sending its cover; unless that cover lacks what this
 * node held LAG_MS ago, for LEASE_MS from the ask's arrival this node promises:
 * every ack it sends lists that reader (with the time its grant has left),
 * and none of its own writes is acknowledged before that reader holds it.
 * The grant's answer carries this node's cover (seq-cover.ts): the reader
 * counts the grant only once it holds all of it, so what this node acked
 * before the grant is there too.
 *
 * A reader that holds a write back COMPLAIN_AFTER_MS without acking it (its
 * acks to the writer cut, one way) is complained of (`lx`) to every peer:
 * none grants it for COMPLAINT_MS, so its grants run out and the write goes
 * on. Grants, lists and waits are per reader process (name and id): a new
 * process under a name never acks for its predecessor.
 *
 * A wait (`ReaderWaits`): an ack that lists readers makes each of them
 * needed, until its grant ran out (measured here, with a margin for
 * clocks running at slightly different rates). A write is acknowledged
 * only once its concern is met and every reader still needed holds it
 * (acks.ts). So a write acknowledged while a reader's lease lasts is in
 * that reader's replica: through the grant of a holder that acked it (it
 * listed the reader), or, had the holder acked it before granting, through
 * the cover the reader waited for.
 */
import type { Address, Clock, Message, Timer } from "../types.ts";
import type { Sender } from "./messages.ts";
import type { CoverPeers } from "./cover-barrier.ts";
import { type CoverEntry, coverContains } from "./seq-cover.ts";

/** How long a grant lasts on the granting node's clock. */
export const LEASE_MS = 500;
/**
 * A reader whose cover lacks a write this node held LAG_MS ago gets no
 * grant: its stream is cut or far behind, and every acknowledged write
 * would wait for it. So a one-way cut or a slow reader holds writes back
 * at most about LAG_MS + LEASE_MS.
 */
export const LAG_MS = 200;
/** How often the cover is noted for that check. */
const NOTE_MS = 50;
/** How long a reader complained of gets no grant (while a one-way cut lasts, writes stall once per this). */
export const COMPLAINT_MS = 30_000;
/** A write that waited this long for a listed reader complains of it (twice LAG_MS: time in our own outbox counts too). */
export const COMPLAIN_AFTER_MS = 2 * LAG_MS;
/** Rechecks of the writes waiting on readers, at most this often. */
const RECHECK_MS = 5;
/** A listed reader is waited for this much longer than its grant said it had left (clock rates differ a little). */
export const DRIFT = 1.1;

/** Readers an ack lists: name, process id and the ms its grant had left when the ack was sent. */
export type ReaderList = [string, string, number][];
/** At most this many readers hold grants from one node (an ack lists them all). */
export const MAX_READERS = 64;

export interface GrantHost extends CoverPeers {
  /** Whether this node grants at all (write concern majority, holders known). */
  grants(): boolean;
}

export class LeaseGrants {
  /** reader process (name and id) -> when its grant runs out (this clock) */
  private readonly granted = new Map<string, { name: string; id: string; until: number }>();
  /** our cover as it was, newest last (for LAG_MS) */
  private readonly notes: { at: number; v: CoverEntry[] }[] = [];
  /** asks refused because the reader lagged or was complained of (metrics, tests) */
  refusedLagging = 0;
  /** reader name -> until when it gets no grant (a writer complained that it does not ack) */
  private readonly complained = new Map<string, number>();

  constructor(private readonly h: GrantHost) {}

  /**
   * A reader asks (`lq`) with its cover: grant, and answer with ours. Or
   * refuse: no answer while not granting at all; a refusal with our cover
   * (d 0) when the reader lags, so it can fetch what it lacks and ask again.
   */
  ask(from: Address, reader: Sender, r: number, theirs: readonly CoverEntry[]): void {
    if (!this.h.grants()) return; // no answer: the reader keeps reading behind the barrier
    const link = this.h.peers.get(reader.n);
    if (link === undefined || link.id !== reader.i) return;
    const now = this.h.clock.now();
    const mine = this.h.cover.entries({ name: this.h.self.n, id: this.h.self.i }, this.h.lastSeq());
    const old = this.noted(now, mine);
    const key = keyOf(reader.n, reader.i);
    const full = this.granted.size >= MAX_READERS && !this.granted.has(key);
    const refused = full || (this.complained.get(reader.n) ?? -Infinity) > now || (old !== null && !coverContains(theirs, old));
    if (refused) this.refusedLagging++;
    else {
      const prev = this.granted.get(key);
      // A grant is never shortened.
      this.granted.set(key, { name: reader.n, id: reader.i, until: Math.max(prev?.until ?? -Infinity, now + LEASE_MS) });
    }
    this.h.send(from, { t: "lg", n: this.h.self.n, i: this.h.self.i, r, w: reader.i, d: refused ? 0 : LEASE_MS, v: mine });
  }

  /** A writer says `reader` holds its writes back unacked: no grant to it for COMPLAINT_MS (the one running stays). */
  complaint(reader: string): void {
    this.complained.set(reader, this.h.clock.now() + COMPLAINT_MS);
  }

  /** Note `mine` (now) every NOTE_MS; the newest note at least LAG_MS old, or null (none yet). */
  private noted(now: number, mine: CoverEntry[]): CoverEntry[] | null {
    const last = this.notes[this.notes.length - 1];
    if (last === undefined || now - last.at >= NOTE_MS) this.notes.push({ at: now, v: mine });
    let old: CoverEntry[] | null = null;
    let k = 0;
    while (k < this.notes.length && now - this.notes[k]!.at >= LAG_MS) old = this.notes[k++]!.v;
    // Keep the newest old enough one; drop the ones before it.
    if (k > 1) this.notes.splice(0, k - 1);
    return old;
  }

  /** Drop the grants that ran out; how many still run. */
  count(now: number): number {
    for (const [key, g] of this.granted) if (g.until <= now) this.granted.delete(key);
    return this.granted.size;
  }

  /** The readers whose grants still run, for an ack; undefined when none (no field on the wire). */
  list(now: number): ReaderList | undefined {
    if (this.granted.size === 0 || this.count(now) === 0) return undefined;
    return [...this.granted.values()].map((g) => [g.name, g.id, Math.ceil(g.until - now)]);
  }

  /** Each running grant: the reader process and when it runs out (this clock). */
  running(now: number): Iterable<{ name: string; id: string; until: number }> {
    this.count(now);
    return this.granted.values();
  }
}

/** Who, beyond the concern, must hold a write before it is acknowledged: the readers listed by acks, and our own grants. */
export class ReaderWaits {
  /** reader process (name and id) -> until when it is needed (this clock) */
  private readonly due = new Map<string, { name: string; id: string; until: number }>();
  private timer: Timer | null = null;
  private timerAt = Infinity;
  private lastRecheck = -Infinity;
  /** times a write that met its concern waited for a reader (metrics) */
  waited = 0;
  /** reader name -> when it was last complained of */
  private readonly lastComplaint = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly self: Sender,
    private readonly grants: LeaseGrants,
    /** The process a peer link holds under `name` now (an ack in `acked` came from it). */
    private readonly idOf: (name: string) => string | undefined,
    /** Called when a needed reader's time ran out (or a complaint is due): writes that waited on it may settle now. */
    private readonly recheck: () => void,
    /** Tell every peer (and our grants) that `reader` holds writes back without acking them. */
    private readonly complain: (reader: string) => void,
  ) {}

  /** An ack listed `list` (read before the ack counts). */
  note(list: ReaderList, now: number): void {
    for (const [name, id, left] of list) {
      if (name === this.self.n && id === this.self.i) continue;
      const until = now + left * DRIFT + 1;
      const key = keyOf(name, id);
      const d = this.due.get(key);
      if (d === undefined) this.due.set(key, { name, id, until });
      else if (d.until < until) d.until = until;
    }
  }

  /** Whether some reader must still hold writes made now (a write is then never held at once). */
  any(now: number): boolean {
    if (this.grants.count(now) > 0) return true;
    for (const [key, d] of this.due) {
      if (d.until > now) return true;
      this.due.delete(key);
    }
    return false;
  }

  /**
   * Whether `acked` (the peers holding a write made at `startedAt`) includes
   * every reader process still needed; if not, a recheck is armed for when
   * the first runs out, or for when the write will have waited COMPLAIN_AFTER_MS
   * (then the readers missing are complained of).
   */
  satisfied(acked: readonly string[], now: number, startedAt: number): boolean {
    let wait = Infinity;
    const late = now - startedAt >= COMPLAIN_AFTER_MS;
    for (const g of this.grants.running(now)) {
      if (this.holds(acked, g)) continue;
      wait = Math.min(wait, g.until);
      if (late) this.complainOf(g.name, now);
    }
    for (const [key, d] of this.due) {
      if (d.until <= now) this.due.delete(key);
      else if (!this.holds(acked, d)) {
        wait = Math.min(wait, d.until);
        if (late) this.complainOf(d.name, now);
      }
    }
    if (wait === Infinity) return true;
    this.waited++;
    this.arm(late ? wait : Math.min(wait, startedAt + COMPLAIN_AFTER_MS), now);
    return false;
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = Infinity;
  }

  /** An ack from that very process: a new process under the name acks for itself, not for its predecessor. */
  private holds(acked: readonly string[], r: { name: string; id: string }): boolean {
    return acked.includes(r.name) && this.idOf(r.name) === r.id;
  }

  private complainOf(reader: string, now: number): void {
    if (now - (this.lastComplaint.get(reader) ?? -Infinity) < COMPLAINT_MS / 2) return;
    this.lastComplaint.set(reader, now);
    this.complain(reader);
  }

  /** One timer; rechecks at most every RECHECK_MS (each scans the writes waiting). */
  private arm(at: number, now: number): void {
    const when = Math.max(at, this.lastRecheck + RECHECK_MS);
    if (this.timer !== null && this.timerAt <= when) return;
    this.timer?.cancel();
    this.timerAt = when;
    this.timer = this.clock.setTimer(Math.max(1, when - now), () => {
      this.timer = null;
      this.timerAt = Infinity;
      this.lastRecheck = this.clock.now();
      this.recheck();
    });
  }
}

const keyOf = (name: string, id: string): string => `${name}\u0000${id}`;

export function isLeaseMsg(msg: Message): boolean {
  return msg.t === "lq" || msg.t === "lg" || msg.t === "lx";
}

export type LeaseMsg =
  | (Sender & { t: "lq"; r: number; v: CoverEntry[] })
  /** a grant to reader process w for d ms (0: refused, the reader lags), with our cover */
  | (Sender & { t: "lg"; r: number; w: string; d: number; v: CoverEntry[] })
  /** a complaint: reader `w` holds my writes back without acking them */
  | (Sender & { t: "lx"; r: number; w: string });
