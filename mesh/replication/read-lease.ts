/**
 * The reader's side of read leases (lease-grants.ts has the writers'): a
 * node that serves reads asks each holder of the configuration, and each
 * other live peer, for a grant every RENEW_MS, and while it holds one from
 * every other holder and every live peer (a node outside the configuration
 * writes too: a leave; and one of an older version, which grants nothing,
 * must not acknowledge writes behind a reader's back), each
 * counted only once its replica contains the cover that came with it, a
 * read needs no round trip: every write acknowledged before the read is
 * here already. Without them the read barrier (cover-barrier.ts) asks a
 * peer, as before.
 *
 * An ask carries this node's cover: a holder grants only to a reader not
 * behind it (lease-grants.ts, LAG_MS).
 *
 * A grant counts from when it was asked (before the grantor made it) for
 * READER_SHARE of its length, so it runs out here before it does at the
 * grantor, even with clocks that run slightly apart. Asks go out only
 * while reads come (within WANTED_MS of the last): a cluster that only
 * writes does not make its writes wait for readers.
 */
import type { Address, Message } from "../types.ts";
import { LeaseGrants, type LeaseMsg } from "./lease-grants.ts";
import type { CoverPeers } from "./cover-barrier.ts";
import type { PeerLink } from "./outbox.ts";
import { type CoverEntry, coverFromWire } from "./seq-cover.ts";

/** How often a reader asks again (a grant lasts LEASE_MS: several asks may be lost before it lapses). */
export const RENEW_MS = 100;
/** The share of a grant's length the reader counts. */
export const READER_SHARE = 0.9;
/** Asks go on while a read came within this. */
export const WANTED_MS = 5_000;
/** Grants waiting for our replica to contain their cover, per grantor (the newest kept). */
const MAX_PENDING = 4;
/** A grant whose cover the stream has not brought within this is fetched by a fresh anti-entropy round (as the read barrier does: cover-barrier.ts WAIT_MS). */
const FETCH_AFTER_MS = 100;
/** At most one such round per grantor this often (a refusal may repeat every ask). */
const FETCH_EVERY_MS = 1_000;

export interface LeaseHost extends CoverPeers {
  /** A fresh anti-entropy round with `link`: done(ok) once it completes or fails. */
  freshRound(link: PeerLink, done: (ok: boolean) => void): void;
  /** Whether this node reads by lease at all (write concern majority, the configuration's holders known). */
  reads(): boolean;
}

interface Held {
  id: string;
  /** until when it counts (this clock) */
  until: number;
  /** grants answered but not yet contained: their cover, until when they would count, when they came */
  pending: { v: CoverEntry[]; until: number; at: number }[];
}

export class ReadLease {
  private readonly held = new Map<string, Held>();
  private readonly asked = new Map<number, { name: string; id: string; at: number }>();
  private nextR = 0;
  private lastWanted = -Infinity;
  /** reads answered by the lease, and reads that went to the barrier (metrics) */
  readonly counters = { leased: 0, barrier: 0 };
  /** grantor name -> when a fresh round with it last began (FETCH_EVERY_MS) */
  private readonly fetched = new Map<string, number>();

  constructor(
    private readonly h: LeaseHost,
    readonly grants: LeaseGrants,
  ) {}

  /** Whether every write acknowledged before now is here: a counted grant from each of `holders` but this node. A read calls it: asks start if none ran. */
  holds(holders: readonly { name: string; id: string }[]): boolean {
    if (!this.h.reads()) return false;
    const now = this.h.clock.now();
    const idle = now - this.lastWanted >= WANTED_MS;
    this.lastWanted = now;
    if (idle) this.ask(now);
    let ok = true;
    // Our previous process, named by an old configuration, is a holder we hold no grant from: no lease.
    for (const x of holders) if (!(x.name === this.h.self.n && x.id === this.h.self.i) && !this.counts(x.name, x.id, now)) ok = false;
    if (ok) for (const link of this.h.peers.values()) if (!this.counts(link.name, link.id, now)) ok = false;
    if (ok) this.counters.leased++;
    else this.counters.barrier++;
    return ok;
  }

  private counts(name: string, id: string, now: number): boolean {
    const g = this.held.get(name);
    return g !== undefined && g.id === id && g.until > now;
  }

  /** Every RENEW_MS: ask again while reads come. */
  tick(): void {
    const now = this.h.clock.now();
    for (const [r, a] of this.asked) if (now - a.at > WANTED_MS) this.asked.delete(r);
    if (now - this.lastWanted >= WANTED_MS || !this.h.reads()) return;
    this.ask(now);
    // A grant whose cover the stream did not bring (a write refused here as fenced, one
    // whose origin is gone): a fresh round with the grantor brings what it held.
    for (const [name, g] of this.held) {
      const p = g.pending[g.pending.length - 1];
      if (p !== undefined && now - g.pending[0]!.at >= FETCH_AFTER_MS) this.fetch(name, g.id, p.v, now);
    }
  }

  handle(from: Address, m: LeaseMsg): void {
    if (m.t === "lq") return this.grants.ask(from, m, m.r, m.v);
    if (m.t === "lx") return this.grants.complaint(m.w);
    const a = this.asked.get(m.r);
    if (a === undefined || a.name !== m.n || a.id !== m.i || m.w !== this.h.self.i) return;
    this.asked.delete(m.r);
    const now = this.h.clock.now();
    // Refused: we lag behind it; fetch what it held, and the next ask is granted.
    if (m.d === 0) return this.fetch(m.n, m.i, m.v, now);
    const until = a.at + m.d * READER_SHARE;
    let g = this.held.get(m.n);
    if (g === undefined || g.id !== m.i) this.held.set(m.n, (g = { id: m.i, until: -Infinity, pending: [] }));
    if (until <= g.until) return;
    g.pending.push({ v: m.v, until, at: now });
    if (g.pending.length > MAX_PENDING) g.pending.shift();
    this.settle(g);
  }

  /** Our cover grew: grants waiting on it may count now. */
  grew(): void {
    for (const g of this.held.values()) if (g.pending.length > 0) this.settle(g);
  }

  /** A fresh round with grantor `name` (process `id`), begun after it sent cover `v`: afterwards all of `v` is here. */
  private fetch(name: string, id: string, v: CoverEntry[], now: number): void {
    const link = this.h.peers.get(name);
    if (link === undefined || link.id !== id || now - (this.fetched.get(name) ?? -Infinity) < FETCH_EVERY_MS) return;
    this.fetched.set(name, now);
    this.h.freshRound(link, (ok) => {
      if (!ok || this.h.peers.get(name)?.id !== id) return;
      this.h.cover.addAll(v);
      this.grew();
    });
  }

  private settle(g: Held): void {
    const self = { name: this.h.self.n, id: this.h.self.i };
    // Covers of one grantor only grow: the newest contained one makes the older ones moot.
    for (let k = g.pending.length - 1; k >= 0; k--) {
      const p = g.pending[k]!;
      if (!this.h.cover.covers(p.v, self)) continue;
      if (p.until > g.until) g.until = p.until;
      g.pending.splice(0, k + 1);
      return;
    }
  }

  private ask(now: number): void {
    const v = this.h.cover.entries({ name: this.h.self.n, id: this.h.self.i }, this.h.lastSeq());
    // The live peers: the holders among them, and any other node (it may write).
    for (const link of this.h.peers.values()) {
      const name = link.name;
      const r = ++this.nextR;
      this.asked.set(r, { name, id: link.id, at: now });
      this.h.send(link.address, { t: "lq", n: this.h.self.n, i: this.h.self.i, r, v });
    }
  }
}

export function parseLeaseMsg(msg: Message): LeaseMsg {
  const m = msg as Record<string, unknown>;
  if (typeof m["n"] !== "string" || typeof m["i"] !== "string" || !Number.isSafeInteger(m["r"])) throw new Error("lease: bad header");
  const head = { n: m["n"] as string, i: m["i"] as string, r: m["r"] as number };
  if (m["t"] === "lq") return { ...head, t: "lq", v: coverFromWire(m["v"]) };
  if (m["t"] === "lx") {
    const w = m["w"];
    if (typeof w !== "string" || w.length === 0 || w.length > 1024) throw new Error("lease: bad reader");
    return { ...head, t: "lx", w };
  }
  const d = m["d"];
  if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0 || d > 60_000) throw new Error("lease: bad length");
  const w = m["w"];
  if (typeof w !== "string" || w.length === 0 || w.length > 1024) throw new Error("lease: bad reader");
  return { ...head, t: "lg", w, d, v: coverFromWire(m["v"]) };
}
