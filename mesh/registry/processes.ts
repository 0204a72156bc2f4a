/**
 * The processes of one node and how a message reaches them. Each name here is
 * in one phase:
 *
 *   activating  this node owns it and is making sure no one else runs it
 *               (handoff received, or every peer said "free" or is fenced:
 *               activation.ts), then catches up from the replicas; calls
 *               wait (bounded)
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
import type { Clock, Logger, Random, Timer } from "../types.ts";
import type { ActivationQueries } from "./activation.ts";
import type { CatchUpGate } from "./catchup.ts";
import { add, type Entry, Failed, type Inbound, MOVED, NONE, noLease } from "./entry.ts";
import type { HandoffSender } from "./handoff.ts";
import type { QuorumLease } from "./lease.ts";
import { Lifecycle } from "./lifecycle.ts";
import { createMailbox, Detached, type MailJob, type Mailbox } from "./mailbox.ts";
import { ACT_FREE, ACT_MINE, ACT_MOVING, ACT_NOT_YOURS, unavailable } from "./messages.ts";
import type { Owners } from "./owners.ts";
import type { ProcessFactory } from "./types.ts";

export type { Inbound } from "./entry.ts";

export interface ProcessTableDeps {
  self: string;
  clock: Clock;
  random: Random;
  logger: Logger;
  owners: Owners;
  lease: QuorumLease;
  /** Joined and caught up (see ClusterRegistryOptions.ready). */
  ready(): boolean;
  queries: ActivationQueries;
  gate: CatchUpGate;
  handoffs: () => HandoffSender;
  factoryFor(name: string): ProcessFactory | undefined;
  /** Send to another node (forward or first send); the table does the hop accounting. `now`: the clock, if known. */
  send(inb: Inbound, to: string, now?: number): void;
  respond(inb: Inbound, value: unknown): void;
  fail(inb: Inbound, err: unknown): void;
  config: { maxHops: number; mailboxLimit: number; activationTimeoutMs: number; retryMs: number; leaseMs: number };
  counters: { callsLocal: number; forwards: number; handoffsOut: number; handoffsIn: number; conflicts: number };
}

/** A call in a process's mailbox: one object, no closures (mailbox.ts). */
class CallJob implements MailJob {
  constructor(
    private readonly t: ProcessTable,
    private readonly e: Entry,
    private readonly inb: Inbound,
    /** the result of a handler that already ran (idle fast path), else undefined: run it in turn */
    private readonly started: Promise<unknown> | undefined,
  ) {}

  run(): unknown {
    return this.started ?? this.t.run(this.e, this.inb);
  }

  done(v: unknown): void {
    this.t.settle(this.inb, v);
  }

  fail(err: unknown): void {
    this.t.failCall(this.inb, err);
  }
}

export class ProcessTable {
  /** Shared with the lifecycle (lifecycle.ts), which moves entries between phases. */
  readonly entries = new Map<string, Entry>();
  private readonly life: Lifecycle;
  /** Calls that reached a node that never held the lease yet (it just started): they wait for it, briefly. */
  private leaseWaiters: { inb: Inbound; until: number }[] = [];
  private leaseTimer: Timer | undefined;

  constructor(private readonly d: ProcessTableDeps) {
    this.life = new Lifecycle(d, this);
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

  /** Whether a call for `name` would run here now. */
  serving(name: string): boolean {
    const e = this.entries.get(name);
    const d = this.d;
    return (
      e?.phase === "running" &&
      !e.checking &&
      e.epoch === d.lease.epoch() &&
      d.lease.canServe() &&
      d.ready() &&
      d.owners.ownerOf(name) === d.self
    );
  }

  /** Deliver `inb` here, or send it on toward the owner. `now`: the clock, if the caller just read it. */
  route(inb: Inbound, now?: number): void {
    const d = this.d;
    const owner = d.owners.ownerOf(inb.name);
    if (owner === undefined) return d.fail(inb, unavailable("no live node may own processes now; retry"));
    if (owner !== d.self) return this.sendOn(inb, owner, now);
    let e = this.entries.get(inb.name);
    // Ours again while our copy is still being handed off: wait for that to settle.
    if (e?.phase === "leaving") return this.park(e, inb);
    if (!d.ready()) return d.fail(inb, unavailable(`node ${d.self} is still joining the cluster; retry`));
    if (!d.lease.canServe(now)) {
      // A node that just started gains the lease within a round trip: worth a short wait.
      // One that lost it is cut off: answer at once.
      return d.lease.epoch() === 0 ? this.waitForLease(inb) : d.fail(inb, noLease(d.self));
    }
    if (e === undefined) {
      if (d.factoryFor(inb.name) === undefined) {
        return d.fail(inb, new RoomyError("not_found", `no process type is defined for ${JSON.stringify(inb.name)}`));
      }
      e = this.life.activate(inb.name, false, undefined);
    }
    if (e.phase === "running" && !e.checking && e.epoch === d.lease.epoch()) return this.enqueue(e, inb, true);
    this.park(e, inb);
    if (e.phase === "running") this.life.recheck(e);
  }

  private sendOn(inb: Inbound, owner: string, now: number | undefined): void {
    const d = this.d;
    if (!inb.fresh) {
      if (inb.hops >= d.config.maxHops) {
        return d.fail(inb, unavailable(`${inb.name}: no owner found within ${d.config.maxHops} hops; retry`));
      }
      inb.hops++;
      d.counters.forwards++;
    }
    inb.fresh = false;
    d.send(inb, owner, now);
  }

  park(e: Entry, inb: Inbound): void {
    if (e.waiting.length >= this.d.config.mailboxLimit) {
      return this.d.fail(inb, unavailable(`${e.name} is starting and has too many calls waiting; retry`));
    }
    e.waiting = add(e.waiting, inb);
  }

  failCall(inb: Inbound, err: unknown): void {
    this.d.fail(inb, err);
  }

  /** The mailbox, made on first need: an idle process runs calls directly (below). */
  mailboxOf(e: Entry): Mailbox {
    return (e.mailbox ??= createMailbox(this.d.config.mailboxLimit));
  }

  /** `checked`: route() has just verified what run() would (same tick), so the idle fast path skips it. */
  enqueue(e: Entry, inb: Inbound, checked = false): void {
    const mailbox = e.mailbox;
    if (e.inCall) {
      // A handler calling its own name: after the current message, in order.
      e.deferred = add(e.deferred, inb);
      return;
    }
    if (mailbox !== undefined && (mailbox.busy || mailbox.waiting > 0)) {
      mailbox.post(new CallJob(this, e, inb, undefined));
      return;
    }
    // Fast path, the mailbox idle: run now. A promise result occupies the
    // mailbox until it settles, so later messages still wait their turn.
    e.inCall = true;
    let v: unknown;
    try {
      if (checked) {
        this.d.counters.callsLocal++;
        v = e.proc!.handle(inb.msg);
      } else {
        v = this.run(e, inb);
      }
    } catch (err) {
      v = new Failed(err);
    }
    e.inCall = false;
    if (v instanceof Promise) {
      this.mailboxOf(e).post(new CallJob(this, e, inb, v));
    } else if (v instanceof Detached) {
      // The handler ran; its answer follows without holding the mailbox.
      v.answer.then((r) => this.settle(inb, r), (err: unknown) => this.d.fail(inb, err));
    } else if (v instanceof Failed) {
      this.d.fail(inb, v.err);
    } else {
      this.settle(inb, v);
    }
    if (e.deferred.length > 0) {
      const later = e.deferred;
      e.deferred = NONE;
      for (const x of later) this.enqueue(e, x);
    }
  }

  /** A job's result: the reply, or MOVED (its process went away: route it again). */
  settle(inb: Inbound, v: unknown): void {
    if (v === MOVED) this.route(inb);
    else this.d.respond(inb, v);
  }

  /** A queued call's turn: the checks of route() again, as time has passed. */
  run(e: Entry, inb: Inbound): unknown {
    const d = this.d;
    if (this.entries.get(e.name) !== e || e.phase !== "running") return MOVED;
    // Confirmed under an older lease: route() parks it and re-checks.
    if (e.checking || e.epoch !== d.lease.epoch()) return MOVED;
    const now = d.clock.now();
    if (now > inb.deadline) throw unavailable(`${e.name}: the caller gave up before the call ran`);
    if (!d.lease.canServe(now)) throw noLease(d.self);
    if (!d.ready()) throw unavailable(`node ${d.self} is still joining the cluster; retry`);
    d.counters.callsLocal++;
    return e.proc!.handle(inb.msg);
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
    this.life.receive(name, state, from);
  }

  /** Membership changed: everything this node no longer owns moves on. */
  sweep(): void {
    this.life.sweep();
  }

  /** The target took our copy. */
  acked(hid: string, name: string): void {
    this.life.acked(hid, name);
  }

  /** Our handoff found no taker and we own the name again: restart it here with its state. */
  reclaim(hid: string, name: string, state: unknown): void {
    this.life.reclaim(hid, name, state);
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
    this.life.flushEnded();
  }
}
