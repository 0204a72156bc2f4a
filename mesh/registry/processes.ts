/**
 * The processes of one node and how a message reaches them (the records and
 * their transitions: process-record.ts, lifecycle.ts).
 *
 * A call runs only on its owner under the committed configuration, only
 * while that node has its serving rights for the name (serving.ts) and holds
 * the quorum lease (lease.ts); otherwise it is forwarded toward the owner
 * (bounded hops), held briefly while rights or lease come back, or answered
 * `unavailable`. A call that has not started when its process moves is
 * routed again, so none is lost; none runs twice (wire copies are
 * deduplicated by the caller of `route`).
 */
import { HandlerRefusal, RoomyError } from "../../core/errors.ts";
import type { Clock, Logger, Random, Timer } from "../types.ts";
import { add, type ProcessRecord, Failed, type Inbound, type Leaving, MOVED, NONE, noLease, type Running, type Starting } from "./process-record.ts";
import type { HandoffSender } from "./handoff.ts";
import type { QuorumLease } from "./lease.ts";
import { Lifecycle } from "./lifecycle.ts";
import { createMailbox, Detached, type MailJob, type Mailbox } from "./mailbox.ts";
import { unavailable } from "./messages.ts";
import { compareIds } from "../membership/identity.ts";
import { cutOff, type Owners } from "./owners.ts";
import type { ProcessFactory } from "./types.ts";
export type { Inbound } from "./process-record.ts";

export interface ProcessTableDeps {
  self: string;
  clock: Clock;
  random: Random;
  logger: Logger;
  owners: Owners;
  lease: QuorumLease;
  /** Whether this node's serving rights cover `name` now (serving.ts). */
  mayServe(name: string): boolean;
  /** Whether this node holds any configuration at all (else calls wait for one). */
  configured(): boolean;
  /** Whether previous owner `node` said it handed over everything at our epoch. */
  swept(node: string): boolean;
  /** Ask previous owner `node` whether it is done handing over. */
  askSwept(node: string): void;
  handoffs: () => HandoffSender;
  factoryFor(name: string): ProcessFactory | undefined;
  /** Why a call must not start `name` (null: start it); see StartRefusal. */
  refusalFor(name: string, msg: unknown): Error | null;
  /** Send to another node (forward or first send); the table does the hop accounting. `now`: the clock, if known. */
  send(inb: Inbound, to: string, now?: number): void;
  respond(inb: Inbound, value: unknown): void;
  fail(inb: Inbound, err: unknown, refused?: boolean): void;
  config: { maxHops: number; mailboxLimit: number; activationTimeoutMs: number; retryMs: number; leaseMs: number };
  counters: { callsLocal: number; forwards: number; handoffsOut: number; handoffsIn: number; conflicts: number };
}

/** A call in a process's mailbox: one object, no closures (mailbox.ts). */
class CallJob implements MailJob {
  constructor(
    private readonly t: ProcessTable,
    private readonly e: Running,
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

/** A call held on this node until its rights or the lease come back (or it gives up). */
interface Held {
  inb: Inbound;
  until: number;
  downOwner: string | undefined;
}

export class ProcessTable {
  /** Shared with the lifecycle (lifecycle.ts), which replaces records on every transition. */
  readonly entries = new Map<string, ProcessRecord>();
  private readonly life: Lifecycle;
  private held: Held[] = [];
  /** endAll() ran: this node drained with no taker; it serves nothing more. */
  private ended = false;
  /** the call whose handler runs now (callDeadline, callVouch) */
  private handling: Inbound | null = null;
  private heldTimer: Timer | undefined;

  constructor(private readonly d: ProcessTableDeps) {
    this.life = new Lifecycle(d, this);
    d.lease.onGain(() => this.releaseHeld());
  }

  /** Route every held call again (the lease or the rights came back, or the configuration moved). */
  releaseHeld(): void {
    const h = this.held;
    if (h.length === 0) return;
    this.held = [];
    this.heldTimer?.cancel();
    this.heldTimer = undefined;
    for (const x of h) this.route(x.inb);
  }

  /** Hold `inb` for at most `forMs` (and never past its deadline); `downOwner`: held because that owner is down. */
  private hold(inb: Inbound, forMs: number, downOwner?: string): void {
    const d = this.d;
    if (this.held.length >= d.config.mailboxLimit) return d.fail(inb, this.whyNot(inb.name, downOwner), true);
    this.held.push({ inb, until: Math.min(inb.deadline, d.clock.now() + forMs), downOwner });
    if (this.heldTimer === undefined) this.expireHeld();
  }

  private expireHeld(): void {
    const d = this.d;
    const now = d.clock.now();
    const keep: Held[] = [];
    for (const x of this.held) {
      if (x.until > now) keep.push(x);
      else d.fail(x.inb, this.whyNot(x.inb.name, x.downOwner), true);
    }
    this.held = keep;
    let next = Infinity;
    for (const x of keep) next = Math.min(next, x.until);
    this.heldTimer = keep.length === 0 ? undefined : d.clock.setTimer(next - now, () => this.expireHeld());
  }

  /**
   * Whether the node that began `inb` is known to be down (dead; not one that left):
   * its client got no answer from it and may have retried elsewhere, so
   * running it now could land after writes that retry made (SOAK chaos
   * seed 18: a walk-into from a crashed entry node ran 1.1 s late, after the
   * retry and a later acknowledged leave). A node not in this view yet runs it.
   */
  private callerGone(inb: Inbound): boolean {
    const n = this.d.owners.nameOf(inb.origin);
    if (n === undefined || n === this.d.self) return false;
    if (this.d.owners.isDead(n)) return true;
    // Back under a new process (killed and restarted while this node was
    // frozen: nemesis seed 14's late unpark): the caller died with the old one.
    if (inb.originId === undefined) return false;
    const known = this.d.owners.idOf(n);
    return known !== undefined && compareIds(inb.originId, known) < 0;
  }

  /** The honest reason a call for `name` cannot run here now. */
  private whyNot(name: string, downOwner?: string): RoomyError {
    const d = this.d;
    if (downOwner !== undefined) {
      return unavailable(`${name}: its owner ${downOwner} is down and the configuration has not dropped it yet; retry`);
    }
    if (!d.configured()) return unavailable(`node ${d.self} has no committed configuration yet; retry`);
    if (!d.mayServe(name)) return unavailable(`node ${d.self} is still catching up for the current epoch; retry`);
    return noLease(d.self);
  }

  get size(): number {
    return this.entries.size;
  }

  counts(): { running: number; starting: number; leaving: number } {
    const c = { running: 0, starting: 0, leaving: 0 };
    for (const e of this.entries.values()) c[e.phase]++;
    return c;
  }

  runningNames(): string[] {
    const out: string[] = [];
    for (const e of this.entries.values()) if (e.phase === "running") out.push(e.name);
    return out.sort();
  }

  leavingCount(): number {
    return this.life.leavingCount();
  }

  /** The deadline of the call whose handler is running now (synchronously), else null. */
  callDeadline(): number | null {
    return this.handling?.deadline ?? null;
  }

  /** The vouch (Inbound.vouch) of the call whose handler is running now, else null. */
  callVouch(): string | null {
    return this.handling?.vouch ?? null;
  }

  private handle(e: Running, inb: Inbound): unknown {
    const outer = this.handling;
    this.handling = inb;
    try {
      return e.proc.handle(inb.msg);
    } finally {
      this.handling = outer;
    }
  }

  /** Whether `name` is this node's under its configuration, and may be served here (the lease aside). */
  private ownsHere = (name: string): boolean => this.d.owners.ownerOf(name) === this.d.self && this.d.mayServe(name);

  /** Whether a call for `name` would run here now. */
  serving(name: string): boolean {
    return this.entries.get(name)?.phase === "running" && this.ownsHere(name) && this.d.lease.canServe();
  }

  /** Deliver `inb` here, or send it on toward the owner. `now`: the clock, if the caller just read it. */
  route(inb: Inbound, now?: number): void {
    const d = this.d;
    const owner = d.owners.ownerOf(inb.name);
    if (owner === undefined) return this.hold(inb, d.config.activationTimeoutMs);
    if (owner !== d.self) {
      // Its owner is down (or not yet in this node's view): wait, bounded, for the
      // configuration to move the name or the view to catch up; re-routed at once then.
      // Held a lease's length at most: never to the call timeout (the caller may retry elsewhere).
      if (!d.owners.isLive(owner)) return cutOff(d.owners, d.self) ? d.fail(inb, this.whyNot(inb.name, owner), true) : this.hold(inb, d.config.leaseMs, owner);
      return this.sendOn(inb, owner, now);
    }
    // Drained with nobody left to take anything: the processes ended here for good.
    if (this.ended) return d.fail(inb, unavailable(`${d.self} has drained; retry on another node`), true);
    let e = this.entries.get(inb.name);
    // Ours again while our copy is still being handed off: wait for that to settle.
    if (e?.phase === "leaving") return this.park(e, inb);
    // Owned under the new epoch, not yet caught up for it: a short wait, bounded.
    if (!d.mayServe(inb.name)) return this.hold(inb, d.config.activationTimeoutMs);
    // A lapse (a pause, a lost round) comes back within a round trip; one cut off fails after leaseMs.
    if (!d.lease.canServe(now)) return cutOff(d.owners, d.self) ? d.fail(inb, noLease(d.self), true) : this.hold(inb, d.config.leaseMs);
    // A call routed again (released from a hold, back from a moved mailbox) whose
    // caller already gave up must not run now: it would be a write nobody awaits,
    // made after writes the caller went on to make.
    // At its deadline the caller's timeout has fired (calls.ts): gone already.
    if ((now ?? d.clock.now()) >= inb.deadline) return d.fail(inb, unavailable(`${inb.name}: the caller gave up before the call ran`), true);
    if (this.callerGone(inb)) return d.fail(inb, callerGoneError(inb.name), true);
    if (e === undefined) {
      if (d.factoryFor(inb.name) === undefined) {
        return d.fail(inb, new RoomyError("not_found", `no process type is defined for ${JSON.stringify(inb.name)}`));
      }
      // Here the owner serves the name, caught up for its epoch: it may say no.
      const refusal = d.refusalFor(inb.name, inb.msg);
      if (refusal !== null) return d.fail(inb, refusal);
      e = this.life.create(inb.name);
    }
    if (e.phase === "running") return this.enqueue(e, inb, true);
    this.park(e, inb);
  }

  private sendOn(inb: Inbound, owner: string, now: number | undefined): void {
    const d = this.d;
    if (!inb.fresh) {
      if (inb.hops >= d.config.maxHops) {
        return d.fail(inb, unavailable(`${inb.name}: no owner found within ${d.config.maxHops} hops; retry`), true);
      }
      inb.hops++;
      d.counters.forwards++;
    }
    inb.fresh = false;
    d.send(inb, owner, now);
  }

  park(e: Starting | Leaving, inb: Inbound): void {
    if (e.waiting.length >= this.d.config.mailboxLimit) {
      return this.d.fail(inb, unavailable(`${e.name} is starting and has too many calls waiting; retry`), true);
    }
    e.waiting = add(e.waiting, inb);
  }

  failCall(inb: Inbound, err: unknown): void {
    const d = this.d;
    // Refused before any effect, and the name moved meanwhile: the new owner runs it once.
    if (err instanceof HandlerRefusal && !this.ownsHere(inb.name) && d.clock.now() < inb.deadline) return this.route(inb);
    d.fail(inb, err);
  }

  /** The mailbox, made on first need: an idle process runs calls directly (below). */
  mailboxOf(e: Running): Mailbox {
    return (e.mailbox ??= createMailbox(this.d.config.mailboxLimit));
  }

  /** `checked`: route() has just verified what run() would (same tick), so the idle fast path skips it. */
  enqueue(e: Running, inb: Inbound, checked = false): void {
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
        v = this.handle(e, inb);
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
  run(e: Running, inb: Inbound): unknown {
    const d = this.d;
    if (this.entries.get(e.name) !== e) return MOVED;
    if (!this.ownsHere(e.name)) return MOVED;
    const now = d.clock.now();
    if (now >= inb.deadline) throw unavailable(`${e.name}: the caller gave up before the call ran`);
    if (this.callerGone(inb)) throw callerGoneError(e.name);
    // Lapsed since it was queued: route() holds it until the lease is back.
    if (!d.lease.canServe(now)) return MOVED;
    d.counters.callsLocal++;
    return this.handle(e, inb);
  }

  /** A handoff brought `state` for `name` (from node `from`, if known). */
  receive(name: string, state: unknown, from: string | undefined): void {
    this.life.receive(name, state, from);
  }

  /** The configuration or the serving rights changed. */
  sweep(): void {
    this.life.sweep();
    this.releaseHeld();
  }

  /** Previous owner `node` handed over everything of ours. */
  swept(node: string): void {
    this.life.swept(node);
  }

  /** The target took our copy. */
  acked(hid: string, name: string): void {
    this.life.acked(hid, name);
  }

  /** Our handoff found no taker and we own the name again: restart it here with its state. */
  reclaim(hid: string, name: string, state: unknown): void {
    this.life.reclaim(hid, name, state);
  }

  /** Draining with nobody left to take anything: every process ends here. */
  endAll(): void {
    this.ended = true;
    this.life.endAll();
  }

  /** The node stops: processes stop where they are (no handoff). */
  stopAll(err: RoomyError): void {
    this.heldTimer?.cancel();
    for (const x of this.held) this.d.fail(x.inb, err);
    this.held = [];
    for (const e of this.entries.values()) {
      Lifecycle.cancel(e);
      if (e.phase !== "running") for (const inb of e.waiting) this.d.fail(inb, err);
      try {
        if (e.phase !== "starting") e.proc.stop?.();
      } catch {
        // stopping anyway
      }
    }
    this.entries.clear();
    this.life.flushEnded();
  }
}

function callerGoneError(name: string): RoomyError {
  return new RoomyError("unavailable", `${name}: the node that sent the call is down; not run`, true);
}
