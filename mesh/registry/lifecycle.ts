/**
 * How a name moves between phases on one node (see processes.ts): activation
 * (ask the peers, catch up, start), the re-check after a lease lapse, the
 * handoff out when placement moves, and taking in handed-off state.
 */
import { RoomyError } from "../../core/errors.ts";
import { add, type Entry, type Inbound, NONE, newEntry } from "./entry.ts";
import type { Mailbox } from "./mailbox.ts";
import { unavailable } from "./messages.ts";
import type { ProcessTableDeps } from "./processes.ts";
import type { ProcessHandlers } from "./types.ts";

/** What the lifecycle needs of the table. */
export interface TableHost {
  readonly entries: Map<string, Entry>;
  route(inb: Inbound): void;
  enqueue(e: Entry, inb: Inbound): void;
  park(e: Entry, inb: Inbound): void;
  mailboxOf(e: Entry): Mailbox;
}

export class Lifecycle {
  private readonly entries: Map<string, Entry>;
  /** Processes that ended here for want of a live node to take them, and how many of them had state. */
  private ended = { processes: 0, withState: 0 };
  constructor(
    private readonly d: ProcessTableDeps,
    private readonly t: TableHost,
  ) {
    this.entries = t.entries;
  }

  /** Start activating `name` here (this node owns it). */
  activate(name: string, handed: boolean, state: unknown): Entry {
    const d = this.d;
    const e = newEntry(name, handed, state, d.clock.now() + d.config.activationTimeoutMs, d.lease.epoch());
    this.entries.set(name, e);
    if (handed) this.catchUpThenStart(e);
    else this.ask(e);
    return e;
  }

  private stillActivating(e: Entry): boolean {
    return this.entries.get(e.name) === e && e.phase === "activating";
  }

  private ask(e: Entry): void {
    this.d.queries.ask(e.name, (free) => {
      if (!this.stillActivating(e) || e.handed) return;
      if (free) this.catchUpThenStart(e);
      else this.retryLater(e, () => this.ask(e));
    });
  }

  /** The lease lapsed since this copy was confirmed: ask the peers again, catch up, then serve. */
  recheck(e: Entry): void {
    if (e.checking) return;
    e.checking = true;
    const d = this.d;
    const epoch = d.lease.epoch();
    const valid = (): boolean => this.entries.get(e.name) === e && e.phase === "running" && e.checking;
    const again = (): void => {
      if (!valid()) return;
      e.checking = false;
      this.recheck(e);
    };
    d.queries.ask(e.name, (free) => {
      if (!valid()) return;
      if (!free) return this.retryLater(e, again);
      d.gate.after().then(
        () => {
          if (!valid()) return;
          if (d.lease.epoch() !== epoch) return again();
          e.checking = false;
          e.epoch = epoch;
          const waiting = e.waiting;
          e.waiting = NONE;
          for (const inb of waiting) this.t.enqueue(e, inb);
        },
        () => this.retryLater(e, again),
      );
    });
  }

  /** Calls whose caller gave up are answered now rather than kept. */
  private pruneWaiting(e: Entry): void {
    const now = this.d.clock.now();
    if (!e.waiting.some((inb) => inb.deadline < now)) return;
    const keep: Inbound[] = [];
    for (const inb of e.waiting) {
      if (inb.deadline < now) this.d.fail(inb, unavailable(`${e.name}: the caller gave up before the call ran`));
      else keep.push(inb);
    }
    e.waiting = keep;
  }

  private retryLater(e: Entry, again: () => void): void {
    const d = this.d;
    this.pruneWaiting(e);
    if (e.phase === "activating" && !e.handed && d.clock.now() >= e.deadline) {
      return this.giveUp(e, unavailable(`${e.name} could not be started within ${d.config.activationTimeoutMs} ms; retry`));
    }
    const delay = d.config.retryMs * (0.5 + d.random.float());
    d.clock.setTimer(delay, () => {
      if (this.entries.get(e.name) === e && e.phase !== "leaving" && d.owners.ownerOf(e.name) === d.self) again();
    });
  }

  private giveUp(e: Entry, err: RoomyError): void {
    this.entries.delete(e.name);
    for (const inb of e.waiting) this.d.fail(inb, err);
    e.waiting = NONE;
  }

  private catchUpThenStart(e: Entry): void {
    this.d.gate.after().then(
      () => this.start(e),
      (err: unknown) => {
        if (!this.stillActivating(e)) return;
        this.d.logger.warn("catch-up before starting a process failed", { process: e.name, error: String(err) });
        // Handed-off state is never dropped: keep trying while we own it.
        if (e.handed) this.retryLater(e, () => this.catchUpThenStart(e));
        else this.giveUp(e, unavailable(`${e.name}: could not catch up from the replicas; retry`));
      },
    );
  }

  private start(e: Entry): void {
    const d = this.d;
    if (!this.stillActivating(e)) return;
    // Placement moved while we caught up: the sweep has (or will have) passed it on.
    if (d.owners.ownerOf(e.name) !== d.self) return this.sweepOne(e);
    const factory = d.factoryFor(e.name);
    let proc: ProcessHandlers;
    try {
      if (factory === undefined) throw new RoomyError("not_found", `no process type is defined for ${JSON.stringify(e.name)}`);
      proc = factory(e.name);
      if (e.handed && e.state !== undefined) proc.endHandoff?.(e.state);
    } catch (err) {
      if (e.handed) d.logger.error("handed-off process could not start; its state is lost", { process: e.name, error: String(err) });
      return this.giveUp(e, err instanceof RoomyError ? err : new RoomyError("internal", String(err)));
    }
    e.proc = proc;
    e.phase = "running";
    e.state = undefined;
    for (const s of e.extra) this.conflict(e, s);
    e.extra = NONE;
    const waiting = e.waiting;
    e.waiting = NONE;
    for (const inb of waiting) this.t.enqueue(e, inb);
  }

  /** Two copies met: the running one absorbs the other's state, in its mailbox turn. */
  private conflict(e: Entry, other: unknown): void {
    this.d.counters.conflicts++;
    const proc = e.proc!;
    this.t.mailboxOf(e).push(() => proc.resolveConflict?.(other)).catch((err: unknown) =>
      this.d.logger.warn("resolveConflict failed", { process: e.name, error: String(err) }),
    );
  }

  /** A handoff brought `state` for `name` (from node `from`, if known). */
  receive(name: string, state: unknown, from: string | undefined): void {
    const d = this.d;
    const e = this.entries.get(name);
    const owner = d.owners.ownerOf(name);
    if (e?.phase === "running") return this.conflict(e, state);
    if (e?.phase === "leaving") {
      // Our own copy is on its way out: send this one after it; the target resolves them.
      const to = owner !== undefined && owner !== d.self ? owner : undefined;
      if (to !== undefined) d.handoffs().send(name, state, to);
      else e.waitingStates = add(e.waitingStates, state);
      return;
    }
    if (owner === d.self) {
      if (e === undefined) {
        this.activate(name, true, state);
      } else if (e.handed) {
        e.extra = add(e.extra, state);
      } else {
        e.handed = true;
        e.state = state;
        this.catchUpThenStart(e);
      }
      return;
    }
    if (owner === undefined) return this.endHere(state);
    // Not ours: pass it on; slowly if it would bounce straight back (views differ for a moment).
    const delay = owner === from ? d.config.retryMs * (0.5 + d.random.float()) : 0;
    d.handoffs().send(name, state, owner, delay);
  }

  /** Membership changed: everything this node no longer owns moves on (one log line for the lot). */
  sweep(): void {
    const d = this.d;
    const moved = new Map<string, number>();
    for (const e of [...this.entries.values()]) {
      const owner = d.owners.ownerOf(e.name);
      if (owner === d.self) continue;
      if (e.phase === "running" && owner !== undefined) moved.set(owner, (moved.get(owner) ?? 0) + 1);
      this.sweepOne(e);
    }
    if (moved.size === 0) return;
    const to = [...moved].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    d.logger.info("ownership moved", { names: to.reduce((n, [, c]) => n + c, 0), to: Object.fromEntries(to) });
  }

  /**
   * No live node may own anything (this node drains and every other one is
   * gone or draining too): the process ends here. Counted, not logged one by
   * one: a whole cluster stopping ends thousands; flushEnded() says it once.
   */
  private endHere(state: unknown): void {
    this.ended.processes++;
    if (state !== undefined) this.ended.withState++;
  }

  /** The node stops: one line for every process that ended here with no taker. */
  flushEnded(): void {
    const { processes, withState } = this.ended;
    if (processes === 0) return;
    this.ended = { processes: 0, withState: 0 };
    if (withState > 0) {
      this.d.logger.warn("handed-off state dropped: no live node left to take it", { processes, withState });
    } else {
      // Rooms and gates keep their data in the replicated map, not in the process: nothing is lost here.
      this.d.logger.info("processes ended here: no live node left to take them", { processes });
    }
  }

  private sweepOne(e: Entry): void {
    if (e.phase === "running") return this.handOff(e);
    if (e.phase !== "activating") return;
    this.entries.delete(e.name);
    if (e.handed) {
      for (const s of [e.state, ...e.extra]) this.receive(e.name, s, undefined);
    }
    // Not started: these calls never ran, so sending them on is safe.
    const waiting = e.waiting;
    e.waiting = NONE;
    for (const inb of waiting) this.t.route(inb);
  }

  private handOff(e: Entry): void {
    const d = this.d;
    e.phase = "leaving";
    const proc = e.proc!;
    const idle = e.mailbox === undefined ? Promise.resolve() : e.mailbox.idle();
    // Queued calls see the phase and are routed on; the one running finishes first.
    void idle.then(() => {
      if (this.entries.get(e.name) !== e || e.phase !== "leaving") return;
      const owner = d.owners.ownerOf(e.name);
      if (owner === d.self) {
        // Placement came back to us meanwhile: keep serving.
        e.phase = "running";
        e.checking = false;
        for (const s of e.waitingStates) this.conflict(e, s);
        e.waitingStates = NONE;
        const waiting = e.waiting;
        e.waiting = NONE;
        for (const inb of waiting) this.t.enqueue(e, inb);
        return;
      }
      let state: unknown;
      try {
        state = proc.beginHandoff?.();
      } catch (err) {
        d.logger.warn("beginHandoff failed; the next owner starts fresh", { process: e.name, error: String(err) });
      }
      try {
        proc.stop?.();
      } catch (err) {
        d.logger.warn("process stop failed", { process: e.name, error: String(err) });
      }
      e.proc = undefined;
      e.mailbox = undefined;
      if (owner === undefined) {
        // No one else to take it (a cluster of one draining): it ends here.
        this.endHere(state);
        this.entries.delete(e.name);
        for (const inb of e.waiting) d.fail(inb, unavailable(`${d.self} is draining; retry`));
        return;
      }
      e.hid = d.handoffs().send(e.name, state, owner);
    });
  }

  /** The target took our copy. */
  acked(hid: string, name: string): void {
    this.d.counters.handoffsOut++;
    const e = this.entries.get(name);
    if (e?.phase !== "leaving" || e.hid !== hid) return;
    this.entries.delete(name);
    for (const s of e.waitingStates) this.receive(name, s, undefined);
    const waiting = e.waiting;
    e.waiting = NONE;
    for (const inb of waiting) this.t.route(inb);
  }

  /** Our handoff found no taker and we own the name again: restart it here with its state. */
  reclaim(hid: string, name: string, state: unknown): void {
    const e = this.entries.get(name);
    if (e?.phase === "leaving" && e.hid === hid) {
      this.entries.delete(name);
      this.receive(name, state, undefined);
      const next = this.entries.get(name);
      for (const inb of e.waiting) {
        if (next !== undefined && next.phase !== "leaving") this.t.park(next, inb);
        else this.t.route(inb);
      }
      for (const s of e.waitingStates) this.receive(name, s, undefined);
      return;
    }
    this.receive(name, state, undefined);
  }
}
