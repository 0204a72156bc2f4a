/**
 * Applies news about members: the precedence rules of state.ts plus their
 * effects (member events, suspicion timers, re-broadcast, refuting news about
 * ourselves). Every change of the member table goes through here.
 */
import { compareIds } from "./identity.ts";
import type { Ctx } from "./context.ts";
import { ALIVE, DEAD, LEFT, type MemberTuple, SUSPECT, type Update, stateOf } from "./messages.ts";
import { isLive, judge, type MemberRecord, toMember } from "./state.ts";
import { type SuspicionBounds, suspicionBounds } from "./config.ts";
import { Suspicion } from "./suspicion.ts";
import type { MemberEvent, MemberEventType } from "./types.ts";

export interface LedgerHooks {
  emit(ev: MemberEvent): void;
  /** Something was queued for broadcast (to speed up gossip). */
  onNews(): void;
  /** A member became suspect on someone else's word (probe it soon). */
  onRemoteSuspect(name: string): void;
  /** A member we did not know, or a new identity, became live. */
  onNewMember(name: string): void;
}

export function updateOf(r: MemberRecord, k: Update["k"], from?: string): Update {
  const u: Update = { k, n: r.name, i: r.id, a: r.address, c: r.incarnation };
  if (from !== undefined) u.f = from;
  return u;
}

export class Ledger {
  #ctx: Ctx;
  #hooks: LedgerHooks;
  #suspicions = new Map<string, Suspicion>();
  #warnedConflict = new Set<string>();
  /** The newest process heard of alive or suspect under our name with a newer id: the members count it, not us, until it dies. */
  #supersededBy: { id: string; address: string } | null = null;
  /** Newer ids under our name heard dead or left (bounded): late news of them alive changes nothing. */
  #supersedersGone = new Set<string>();
  /** The process that superseded us, heard dead or left, and when the members forget it (their tombstone expiry). */
  #supersederGone: { id: string; address: string; until: number } | null = null;

  constructor(ctx: Ctx, hooks: LedgerHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
  }

  /** Queue our own alive record (at start and after a refutation). */
  announceSelf(): void {
    this.#broadcast(updateOf(this.#ctx.table.self, ALIVE));
  }

  /** The current suspicion of `name`, if any (tests, stats). */
  suspicion(name: string): Suspicion | undefined {
    return this.#suspicions.get(name);
  }

  /** Our own probe of (name, id) failed: suspect it and tell it so. */
  probeFailed(name: string, id: string): void {
    const ctx = this.#ctx;
    const r = ctx.table.get(name);
    if (!r || r.id !== id || !isLive(r.state)) return;
    const u = updateOf(r, SUSPECT, ctx.table.selfName);
    this.apply(u, true);
    // Lifeguard: the suspect hears it directly, so it can refute at once.
    ctx.send(r.address, { t: "g", b: [u] });
  }

  /**
   * Nothing listens at `address` (the transport's connection was refused):
   * suspect the live members there with the short unreachable timeout. The
   * suspicion is gossiped; a member that is alive after all (only our link
   * failed) hears it through the others and refutes.
   */
  unreachable(address: string): void {
    const ctx = this.#ctx;
    const table = ctx.table;
    const at = table.others.filter((r) => r.address === address);
    for (const r of at) {
      const u = updateOf(r, SUSPECT, table.selfName);
      this.apply(u, true);
      const cur = table.get(r.name);
      if (!cur || cur.id !== r.id || cur.state !== "suspect") continue;
      const t = ctx.cfg.unreachableSuspicionMs;
      const s = this.#suspicions.get(r.name);
      if (s === undefined || s.deadline > ctx.clock.now() + t) this.#startSuspicion(cur, table.selfName, { minMs: t, maxMs: t, k: 0 });
    }
  }

  /**
   * Merge a full state from a push-pull with `peer`. As in memberlist, a
   * member the peer holds dead but we hold alive becomes suspect here (we do
   * not take one node's word for a death, but we check).
   */
  merge(tuples: readonly MemberTuple[], peer: string, rebroadcast: boolean): void {
    const table = this.#ctx.table;
    for (const [n, i, a, c, k] of tuples) {
      let kind = k;
      if (k === DEAD && n !== table.selfName) {
        const held = table.get(n);
        if (held && held.id === i && isLive(held.state)) kind = SUSPECT;
      }
      this.apply({ k: kind, n, i, a, c, f: peer }, rebroadcast);
    }
  }

  /** Apply one piece of news; `rebroadcast` spreads it further if accepted. */
  apply(u: Update, rebroadcast: boolean): void {
    const ctx = this.#ctx;
    if (u.n === ctx.table.selfName) {
      this.#aboutSelf(u);
      return;
    }
    const held = ctx.table.get(u.n);
    const verdict = judge(held, u);
    if (verdict === "ignore") return;
    const now = ctx.clock.now();
    if (verdict === "confirm") {
      const r = held!;
      if (u.c > r.incarnation) ctx.table.change(r, r.state, u.c, now);
      const s = this.#suspicions.get(r.name);
      if (s === undefined) {
        this.#startSuspicion(r, u.f ?? "");
        if (rebroadcast) this.#broadcast(u);
      } else if (s.confirm(u.f ?? "") && rebroadcast) {
        this.#broadcast(u);
      }
      return;
    }
    const state = stateOf(u.k);
    if (verdict === "new" || verdict === "replace") {
      const r: MemberRecord = { name: u.n, id: u.i, address: u.a, state, incarnation: u.c, since: now };
      // The table changes first, so subscribers reading the view see the
      // new identity when they hear the old one went down.
      ctx.table.set(r);
      if (held && isLive(held.state)) {
        // The old process is gone: report it as dead.
        this.#cancelSuspicion(held.name);
        this.#hooks.emit({ type: "down", member: Object.freeze({ ...toMember(held), state: "dead" as const }) });
      }
      if (!isLive(state)) return; // a tombstone: nothing to announce
      this.#emit("up", r);
      this.#hooks.onNewMember(r.name);
      if (state === "suspect") this.#suspectStarted(r, u);
      if (rebroadcast) this.#broadcast(u);
      return;
    }
    // verdict === "update": same identity, newer news.
    const r = held!;
    const before = r.state;
    ctx.table.change(r, state, u.c, now);
    if (state !== "suspect") this.#cancelSuspicion(r.name);
    if (before !== state) {
      if (state === "suspect") {
        this.#emit("suspect", r);
        this.#suspectStarted(r, u);
      } else if (state === "alive") {
        this.#emit(before === "suspect" ? "alive" : "up", r);
        if (before !== "suspect") this.#hooks.onNewMember(r.name);
      } else if (state === "dead") {
        this.#emit("down", r);
      } else if (isLive(before)) {
        this.#emit("left", r);
      }
    }
    if (rebroadcast) this.#broadcast(u);
  }

  /** Forget dead and left members older than the tombstone period. */
  reap(): void {
    const ctx = this.#ctx;
    const cutoff = ctx.clock.now() - ctx.cfg.tombstoneMs;
    const table = ctx.table;
    if (table.count("dead") + table.count("left") === 0) return;
    const gone: string[] = [];
    for (const r of table.values()) {
      if (!isLive(r.state) && r.since < cutoff && r.name !== table.selfName) gone.push(r.name);
    }
    for (const name of gone) table.delete(name);
  }

  stop(): void {
    for (const s of this.#suspicions.values()) s.cancel();
    this.#suspicions.clear();
  }

  #suspectStarted(r: MemberRecord, u: Update): void {
    const ctx = this.#ctx;
    ctx.counters.suspicions++;
    this.#startSuspicion(r, u.f ?? "");
    if (u.f !== ctx.table.selfName) this.#hooks.onRemoteSuspect(r.name);
  }

  #startSuspicion(r: MemberRecord, from: string, bounds?: SuspicionBounds): void {
    const ctx = this.#ctx;
    this.#cancelSuspicion(r.name);
    const { minMs, maxMs, k } = bounds ?? suspicionBounds(ctx.cfg, ctx.table.liveCount);
    const { name, id } = r;
    const s = new Suspicion(ctx.clock, from, k, minMs, maxMs, () => {
      if (this.#suspicions.get(name) !== s) return;
      this.#suspicions.delete(name);
      const cur = ctx.table.get(name);
      if (!ctx.running() || !cur || cur.id !== id || cur.state !== "suspect") return;
      ctx.counters.deaths++;
      this.apply(updateOf(cur, DEAD, ctx.table.selfName), true);
    });
    this.#suspicions.set(name, s);
  }

  #cancelSuspicion(name: string): void {
    const s = this.#suspicions.get(name);
    if (s) {
      s.cancel();
      this.#suspicions.delete(name);
    }
  }

  /** The newer process that took this node's name (two nodes given one --name, or this one a stale process of a restarted node), if heard of. */
  supersededBy(): { id: string; address: string } | null {
    return this.#supersededBy;
  }

  /** The process that superseded us, since gone, while the members still remember it (then they take us back). */
  supersederGone(): { id: string; address: string; inMs: number } | null {
    const g = this.#supersederGone;
    if (g === null || this.#supersededBy !== null) return null;
    // A little past the expiry: the members' sweep and our next probe of them take a moment more.
    const inMs = g.until - this.#ctx.clock.now();
    return inMs < -10_000 ? null : { id: g.id, address: g.address, inMs: Math.max(0, inMs) };
  }

  /** News about our own name. */
  #aboutSelf(u: Update): void {
    const ctx = this.#ctx;
    const self = ctx.table.self;
    if (u.i !== self.id) {
      if (compareIds(u.i, self.id) > 0) {
        // The members take a newer identity alive over ours (as a restart):
        // we are out while it lives. Once it is dead or left (a killed
        // predecessor whose id sorts after ours, a twin stopped), the
        // members take us back when its record goes.
        if (u.k === DEAD || u.k === LEFT) {
          if (this.#supersedersGone.size >= 64) this.#supersedersGone.clear();
          this.#supersedersGone.add(u.i);
          if (this.#supersededBy?.id === u.i) {
            this.#supersederGone = { id: u.i, address: u.a, until: ctx.clock.now() + ctx.cfg.tombstoneMs };
            this.#supersededBy = null;
          }
        } else if (!this.#supersedersGone.has(u.i) && (this.#supersededBy === null || compareIds(u.i, this.#supersededBy.id) > 0)) {
          this.#supersededBy = { id: u.i, address: u.a };
        }
        if (!this.#warnedConflict.has(u.i)) {
          this.#warnedConflict.add(u.i);
          ctx.log.warn("membership: another process claims this node's name with a newer identity", {
            name: self.name,
            ours: self.id,
            theirs: u.i,
            address: u.a,
          });
        }
      }
      return;
    }
    if (ctx.leaving()) return;
    const refute = u.k === ALIVE ? u.c > self.incarnation : u.c >= self.incarnation;
    if (!refute) return;
    // Someone suspects us, holds us dead (or is confused about our
    // incarnation): we are alive; say so with a higher incarnation. Being
    // suspected also hints that we are the slow one (Lifeguard).
    ctx.counters.refutes++;
    ctx.awareness.apply(1);
    ctx.table.change(self, "alive", Math.max(self.incarnation, u.c) + 1, ctx.clock.now());
    this.announceSelf();
    if (u.k === LEFT) ctx.log.warn("membership: refuted a leave announced for this node", { name: self.name });
    // The other side of "member suspect/dead" in the peers' logs: a paused or overloaded node learns it here.
    else ctx.log.info("membership: refuted news of this node", { reported: stateOf(u.k), by: u.f ?? null, incarnation: self.incarnation });
  }

  #broadcast(u: Update): void {
    this.#ctx.queue.enqueue(u);
    this.#hooks.onNews();
  }

  #emit(type: MemberEventType, r: MemberRecord): void {
    this.#hooks.emit({ type, member: toMember(r) });
  }
}
