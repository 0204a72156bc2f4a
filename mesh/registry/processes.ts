/**
 * The processes of one node and how a message reaches them. Each name here is
 * in one phase:
 *
 *   activating  this node owns it and is making sure no one else runs it
 *               (handoff received, or every live peer said "free"), then
 *               catches up from the replicas; calls wait (bounded)
 *   running     serving, one message at a time (mailbox)
 *   leaving     its owner moved: the mailbox drains (queued calls, not yet
 *               run, go to the new owner), the state is handed off
 *
 * A call runs only on the owner, only while running, and only while this
 * node holds the quorum lease, under the lease epoch in which the copy was
 * confirmed (after a lapse the majority may have started its own copy, so
 * the peers are asked again first); otherwise it is forwarded (bounded hops) or
 * answered `unavailable`. A call that has not started when its process moves
 * is routed again, so none is lost; none runs twice (wire copies are
 * deduplicated by the caller of `route`).
 */
import { RoomyError } from "../../core/errors.ts";
import type { Address, Clock, Logger, Random, Timer } from "../types.ts";
import { createMailbox, type Mailbox } from "./mailbox.ts";
import type { ActivationQueries } from "./activation.ts";
import type { CatchUpGate } from "./catchup.ts";
import type { HandoffSender } from "./handoff.ts";
import type { QuorumLease } from "./lease.ts";
import { ACT_FREE, ACT_MINE, ACT_MOVING, ACT_NOT_YOURS, unavailable } from "./messages.ts";
import type { Owners } from "./owners.ts";
import type { ProcessFactory, ProcessHandlers } from "./types.ts";

/** A call or cast on its way to its process. */
export interface Inbound {
  id: string;
  /** where the reply goes; "" for a cast */
  origin: Address;
  name: string;
  msg: unknown;
  hops: number;
  /** local clock; the caller has given up after it */
  deadline: number;
  /** started here and not yet routed (its first send is not a forward) */
  fresh: boolean;
}

type Phase = "activating" | "running" | "leaving";

interface Entry {
  name: string;
  phase: Phase;
  proc: ProcessHandlers | undefined;
  mailbox: Mailbox | undefined;
  /** calls waiting for activation (or for a handoff to settle) */
  waiting: Inbound[];
  /** activating: a handoff brought state (undefined state = start fresh) */
  handed: boolean;
  state: unknown;
  /** more copies' states that arrived while activating: resolved once running */
  extra: unknown[];
  /** activating without a handoff: give up after */
  deadline: number;
  /** leaving: the handoff id */
  hid: string;
  /** leaving: states of other copies that arrived meanwhile */
  waitingStates: unknown[];
  /** the lease epoch under which this copy was confirmed the only one */
  epoch: number;
  /** running, but the lease lapsed since: asking the peers again before serving */
  checking: boolean;
}

export interface ProcessTableDeps {
  self: string;
  clock: Clock;
  random: Random;
  logger: Logger;
  owners: Owners;
  lease: QuorumLease;
  queries: ActivationQueries;
  gate: CatchUpGate;
  handoffs: () => HandoffSender;
  factoryFor(name: string): ProcessFactory | undefined;
  /** Send to another node (forward or first send); the table does the hop accounting. */
  send(inb: Inbound, to: string): void;
  respond(inb: Inbound, value: unknown): void;
  fail(inb: Inbound, err: unknown): void;
  config: { maxHops: number; mailboxLimit: number; activationTimeoutMs: number; retryMs: number; leaseMs: number };
  counters: { callsLocal: number; forwards: number; handoffsOut: number; handoffsIn: number; conflicts: number };
}

function noLease(self: string): RoomyError {
  return unavailable(`${self} has not heard from a majority of the cluster; retry`);
}

/** A job found its process gone: route the call again. */
const MOVED: unique symbol = Symbol("moved");

export class ProcessTable {
  private readonly entries = new Map<string, Entry>();
  /** Calls that reached a node that never held the lease yet (it just started): they wait for it, briefly. */
  private leaseWaiters: { inb: Inbound; until: number }[] = [];
  private leaseTimer: Timer | undefined;

  constructor(private readonly d: ProcessTableDeps) {
    d.lease.onGain(() => {
      const w = this.leaseWaiters;
      this.leaseWaiters = [];
      this.leaseTimer?.cancel();
      this.leaseTimer = undefined;
      for (const x of w) this.route(x.inb);
    });
  }

  private waitForLease(inb: Inbound): void {
    const d = this.d;
    if (this.leaseWaiters.length >= d.config.mailboxLimit) return d.fail(inb, noLease(d.self));
    this.leaseWaiters.push({ inb, until: Math.min(inb.deadline, d.clock.now() + d.config.leaseMs) });
    if (this.leaseTimer === undefined) this.expireLeaseWaiters();
  }

  private expireLeaseWaiters(): void {
    const d = this.d;
    const now = d.clock.now();
    const keep = this.leaseWaiters.filter((x) => x.until > now);
    for (const x of this.leaseWaiters) if (x.until <= now) d.fail(x.inb, noLease(d.self));
    this.leaseWaiters = keep;
    this.leaseTimer =
      keep.length === 0 ? undefined : d.clock.setTimer(keep[0]!.until - now, () => this.expireLeaseWaiters());
  }

  get size(): number {
    return this.entries.size;
  }

  counts(): { running: number; activating: number; leaving: number } {
    const c = { running: 0, activating: 0, leaving: 0 };
    for (const e of this.entries.values()) c[e.phase]++;
    return c;
  }

  runningNames(): string[] {
    const out: string[] = [];
    for (const e of this.entries.values()) if (e.phase === "running") out.push(e.name);
    return out.sort();
  }

  isRunning(name: string): boolean {
    return this.entries.get(name)?.phase === "running";
  }

  /** Whether a call for `name` would run here now. */
  serving(name: string): boolean {
    const e = this.entries.get(name);
    const d = this.d;
    return (
      e?.phase === "running" &&
      !e.checking &&
      e.epoch === d.lease.epoch() &&
      d.lease.canServe() &&
      d.owners.ownerOf(name) === d.self
    );
  }

  /** Deliver `inb` here, or send it on toward the owner. */
  route(inb: Inbound): void {
    const d = this.d;
    const owner = d.owners.ownerOf(inb.name);
    if (owner === undefined) return d.fail(inb, unavailable("no live node may own processes now; retry"));
    if (owner !== d.self) return this.sendOn(inb, owner);
    let e = this.entries.get(inb.name);
    // Ours again while our copy is still being handed off: wait for that to settle.
    if (e?.phase === "leaving") return this.park(e, inb);
    if (!d.lease.canServe()) {
      // A node that just started gains the lease within a round trip: worth a short wait.
      // One that lost it is cut off: answer at once.
      return d.lease.epoch() === 0 ? this.waitForLease(inb) : d.fail(inb, noLease(d.self));
    }
    if (e === undefined) {
      if (d.factoryFor(inb.name) === undefined) {
        return d.fail(inb, new RoomyError("not_found", `no process type is defined for ${JSON.stringify(inb.name)}`));
      }
      e = this.activate(inb.name, false, undefined);
    }
    if (e.phase === "running" && !e.checking && e.epoch === d.lease.epoch()) return this.enqueue(e, inb);
    this.park(e, inb);
    if (e.phase === "running") this.recheck(e);
  }

  private sendOn(inb: Inbound, owner: string): void {
    const d = this.d;
    if (!inb.fresh) {
      if (inb.hops >= d.config.maxHops) {
        return d.fail(inb, unavailable(`${inb.name}: no owner found within ${d.config.maxHops} hops; retry`));
      }
      inb.hops++;
      d.counters.forwards++;
    }
    inb.fresh = false;
    d.send(inb, owner);
  }

  private park(e: Entry, inb: Inbound): void {
    if (e.waiting.length >= this.d.config.mailboxLimit) {
      return this.d.fail(inb, unavailable(`${e.name} is starting and has too many calls waiting; retry`));
    }
    e.waiting.push(inb);
  }

  private enqueue(e: Entry, inb: Inbound): void {
    e.mailbox!.push(() => this.run(e, inb)).then(
      (v) => (v === MOVED ? this.route(inb) : this.d.respond(inb, v)),
      (err: unknown) => this.d.fail(inb, err),
    );
  }

  private run(e: Entry, inb: Inbound): unknown {
    const d = this.d;
    if (this.entries.get(e.name) !== e || e.phase !== "running") return MOVED;
    // Confirmed under an older lease: route() parks it and re-checks.
    if (e.checking || e.epoch !== d.lease.epoch()) return MOVED;
    if (d.clock.now() > inb.deadline) throw unavailable(`${e.name}: the caller gave up before the call ran`);
    if (!d.lease.canServe()) throw noLease(d.self);
    d.counters.callsLocal++;
    return e.proc!.handle(inb.msg);
  }

  /** Start activating `name` here (this node owns it). */
  private activate(name: string, handed: boolean, state: unknown): Entry {
    const e: Entry = {
      name,
      phase: "activating",
      proc: undefined,
      mailbox: undefined,
      waiting: [],
      handed,
      state,
      extra: [],
      deadline: this.d.clock.now() + this.d.config.activationTimeoutMs,
      hid: "",
      waitingStates: [],
      epoch: this.d.lease.epoch(),
      checking: false,
    };
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
  private recheck(e: Entry): void {
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
          e.waiting = [];
          for (const inb of waiting) this.enqueue(e, inb);
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
    e.waiting = [];
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
    e.mailbox = createMailbox(d.config.mailboxLimit);
    e.phase = "running";
    e.state = undefined;
    for (const s of e.extra) this.conflict(e, s);
    e.extra = [];
    const waiting = e.waiting;
    e.waiting = [];
    for (const inb of waiting) this.enqueue(e, inb);
  }

  /** Two copies met: the running one absorbs the other's state, in its mailbox turn. */
  private conflict(e: Entry, other: unknown): void {
    this.d.counters.conflicts++;
    const proc = e.proc!;
    e.mailbox!.push(() => proc.resolveConflict?.(other)).catch((err: unknown) =>
      this.d.logger.warn("resolveConflict failed", { process: e.name, error: String(err) }),
    );
  }

  /**
   * How this node answers `asker`'s activation query for `name`. FREE only
   * if nothing of it is here AND this node's view agrees the asker owns it:
   * a node that has not yet seen the asker join would otherwise say FREE
   * now and start its own copy a moment later without asking the asker.
   */
  answer(name: string, asker: string | undefined): number {
    const e = this.entries.get(name);
    if (e === undefined) {
      if (this.d.handoffs().has(name)) return ACT_MOVING;
      return asker !== undefined && this.d.owners.ownerOf(name) === asker ? ACT_FREE : ACT_NOT_YOURS;
    }
    if (e.phase === "leaving") return ACT_MOVING;
    if (e.phase === "activating") return ACT_MINE;
    return this.d.owners.ownerOf(name) === this.d.self ? ACT_MINE : ACT_MOVING;
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
      else e.waitingStates.push(state);
      return;
    }
    if (owner === d.self) {
      if (e === undefined) {
        this.activate(name, true, state);
      } else if (e.handed) {
        e.extra.push(state);
      } else {
        e.handed = true;
        e.state = state;
        this.catchUpThenStart(e);
      }
      return;
    }
    if (owner === undefined) {
      d.logger.error("handed-off state has nowhere to go; dropped", { process: name });
      return;
    }
    // Not ours: pass it on; slowly if it would bounce straight back (views differ for a moment).
    const delay = owner === from ? d.config.retryMs * (0.5 + d.random.float()) : 0;
    d.handoffs().send(name, state, owner, delay);
  }

  /** Membership changed: everything this node no longer owns moves on. */
  sweep(): void {
    const d = this.d;
    for (const e of [...this.entries.values()]) {
      if (d.owners.ownerOf(e.name) !== d.self) this.sweepOne(e);
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
    e.waiting = [];
    for (const inb of waiting) this.route(inb);
  }

  private handOff(e: Entry): void {
    const d = this.d;
    e.phase = "leaving";
    const mailbox = e.mailbox!;
    const proc = e.proc!;
    // Queued calls see the phase and are routed on; the one running finishes first.
    void mailbox.idle().then(() => {
      if (this.entries.get(e.name) !== e || e.phase !== "leaving") return;
      const owner = d.owners.ownerOf(e.name);
      if (owner === d.self) {
        // Placement came back to us meanwhile: keep serving.
        e.phase = "running";
        e.checking = false;
        for (const s of e.waitingStates) this.conflict(e, s);
        e.waitingStates = [];
        const waiting = e.waiting;
        e.waiting = [];
        for (const inb of waiting) this.enqueue(e, inb);
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
    e.waiting = [];
    for (const inb of waiting) this.route(inb);
  }

  /** Our handoff found no taker and we own the name again: restart it here with its state. */
  reclaim(hid: string, name: string, state: unknown): void {
    const e = this.entries.get(name);
    if (e?.phase === "leaving" && e.hid === hid) {
      this.entries.delete(name);
      this.receive(name, state, undefined);
      const next = this.entries.get(name);
      for (const inb of e.waiting) {
        if (next !== undefined && next.phase !== "leaving") this.park(next, inb);
        else this.route(inb);
      }
      for (const s of e.waitingStates) this.receive(name, s, undefined);
      return;
    }
    this.receive(name, state, undefined);
  }

  /** The node stops: processes stop where they are (no handoff). */
  stopAll(err: RoomyError): void {
    this.leaseTimer?.cancel();
    for (const x of this.leaseWaiters) this.d.fail(x.inb, err);
    this.leaseWaiters = [];
    for (const e of this.entries.values()) {
      for (const inb of e.waiting) this.d.fail(inb, err);
      try {
        e.proc?.stop?.();
      } catch {
        // stopping anyway
      }
    }
    this.entries.clear();
  }
}
