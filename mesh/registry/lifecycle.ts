/**
 * Every transition of a name's record on one node (process-record.ts), in one place:
 *
 *   (none)   -> starting   a call for a name this node owns and may serve
 *   starting -> running    the previous owner handed it over or said it has
 *                          nothing (or is gone, or the wait timed out)
 *   starting -> (none)     the name moved on before it started
 *   running  -> leaving    the configuration gave it to another node
 *   leaving  -> running    ...and back, before the handoff left
 *   leaving  -> (none)     the new owner acknowledged the handoff
 */
import { RoomyError } from "../../core/errors.ts";
import { add, type ProcessRecord, type Inbound, leaving, type Leaving, NONE, running, type Running, starting, type Starting } from "./process-record.ts";
import type { Mailbox } from "./mailbox.ts";
import { unavailable } from "./messages.ts";
import type { ProcessTableDeps } from "./processes.ts";
import type { ProcessHandlers } from "./types.ts";
import type { Timer } from "../types.ts";

/** What the lifecycle needs of the table. */
export interface TableHost {
  readonly entries: Map<string, ProcessRecord>;
  route(inb: Inbound): void;
  enqueue(e: Running, inb: Inbound): void;
  park(e: Starting | Leaving, inb: Inbound): void;
  mailboxOf(e: Running): Mailbox;
}

/** Longest stretch of one turn a sweep takes (ms), checked every SWEEP_CHECK_EVERY records. */
export const SWEEP_BUDGET_MS = 3;
export const SWEEP_CHECK_EVERY = 8;
/** A start runs the calls that waited for it: the clock is read more often. */
const START_CHECK_EVERY = 4;

/** A sweep under way: the records as they were when it began, and how far it got. */
interface Sweep {
  list: ProcessRecord[];
  at: number;
  /** Running processes handed off so far, per new owner (one log line at the end). */
  moved: Map<string, number>;
  timer: Timer | undefined;
}

export class Lifecycle {
  private readonly entries: Map<string, ProcessRecord>;
  private sweeping: Sweep | null = null;
  /** Records a swept previous owner let go, started a budget a turn (swept()), and how far. */
  private toStart: Starting[] = [];
  private toStartAt = 0;
  private startTimer: Timer | undefined;
  /** Processes that ended here for want of a live node to take them, and how many of them had state. */
  private ended = { processes: 0, withState: 0 };
  constructor(
    private readonly d: ProcessTableDeps,
    private readonly t: TableHost,
  ) {
    this.entries = t.entries;
  }

  /** A call came for `name`, which this node owns and may serve: make its record. */
  create(name: string): ProcessRecord {
    const d = this.d;
    let from = d.owners.previousOwnerOf(name);
    // Wait for a previous owner's handoff only if it is another node, alive, and not known to be done.
    if (from === d.self || from === undefined || !d.owners.isLive(from) || d.swept(from)) from = undefined;
    const e = starting(name, from, d.clock.now() + d.config.activationTimeoutMs);
    this.entries.set(name, e);
    if (from === undefined) return this.start(e);
    this.waitFor(e);
    return e;
  }

  /** Ask the previous owner whether it is done, every retryMs, until it is or the wait times out. */
  private waitFor(e: Starting): void {
    const d = this.d;
    if (this.entries.get(e.name) !== e || e.from === undefined) return;
    if (d.clock.now() >= e.deadline || !d.owners.isLive(e.from)) {
      e.from = undefined;
      this.start(e);
      return;
    }
    d.askSwept(e.from);
    e.timer = d.clock.setTimer(d.config.retryMs, () => this.waitFor(e));
  }

  /**
   * `node`, a previous owner, has handed over everything of ours: start what
   * waited for it, SWEEP_BUDGET_MS a turn (each start runs the calls that
   * waited; thousands at once held the loop for 50-80 ms).
   */
  swept(node: string): void {
    for (const e of this.entries.values()) {
      if (e.phase === "starting" && e.from === node) {
        // Nothing more to wait for: its retries stop asking (waitFor), and a sweep may start it sooner.
        e.from = undefined;
        this.toStart.push(e);
      }
    }
    if (this.startTimer === undefined) this.startSome();
  }

  private startSome(): void {
    this.startTimer = undefined;
    const d = this.d;
    const until = d.clock.now() + SWEEP_BUDGET_MS;
    while (this.toStartAt < this.toStart.length) {
      this.start(this.toStart[this.toStartAt++]!);
      if (this.toStartAt % START_CHECK_EVERY === 0 && this.toStartAt < this.toStart.length && d.clock.now() >= until) {
        this.startTimer = d.clock.setTimer(0, () => this.startSome());
        return;
      }
    }
    this.toStart = [];
    this.toStartAt = 0;
  }

  /** Start it if nothing holds it back; returns the record now current. */
  private start(e: Starting): ProcessRecord {
    const d = this.d;
    if (this.entries.get(e.name) !== e) return this.entries.get(e.name) ?? e;
    if (e.from !== undefined || !d.mayServe(e.name)) return e;
    e.timer?.cancel();
    e.timer = undefined;
    // Placement moved meanwhile: the sweep has (or will have) passed it on.
    if (d.owners.ownerOf(e.name) !== d.self) {
      this.sweepOne(e);
      return e;
    }
    const factory = d.factoryFor(e.name);
    let proc: ProcessHandlers;
    try {
      if (factory === undefined) throw new RoomyError("not_found", `no process type is defined for ${JSON.stringify(e.name)}`);
      proc = factory(e.name);
      if (e.handed && e.states[0] !== undefined) proc.endHandoff?.(e.states[0]);
    } catch (err) {
      if (e.handed) d.logger.error("handed-off process could not start; its state is lost", { process: e.name, error: String(err) });
      this.giveUp(e, err instanceof RoomyError ? err : new RoomyError("internal", String(err)));
      return e;
    }
    const r = running(e.name, proc);
    this.entries.set(e.name, r);
    for (let i = 1; i < e.states.length; i++) this.conflict(r, e.states[i]);
    for (const inb of e.waiting) this.t.enqueue(r, inb);
    return r;
  }

  private giveUp(e: Starting, err: RoomyError): void {
    this.entries.delete(e.name);
    for (const inb of e.waiting) this.d.fail(inb, err);
  }

  /** Two copies met: the running one absorbs the other's state, in its mailbox turn. */
  private conflict(r: Running, other: unknown): void {
    this.d.counters.conflicts++;
    const proc = r.proc;
    this.t.mailboxOf(r).push(() => proc.resolveConflict?.(other)).catch((err: unknown) =>
      this.d.logger.warn("resolveConflict failed", { process: r.name, error: String(err) }),
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
      if (owner !== undefined && owner !== d.self) d.handoffs().send(name, state, owner);
      else e.states = add(e.states, state);
      return;
    }
    // Ours, or no configuration known yet (the sender learned it first): keep it; the sweep passes it on if need be.
    if (owner === d.self || (owner === undefined && d.owners.config() === null)) {
      const s = e ?? starting(name, undefined, d.clock.now() + d.config.activationTimeoutMs);
      this.entries.set(name, s);
      s.handed = true;
      s.states = add(s.states, state);
      // The previous owner gave it up: nothing more to wait for from it.
      if (s.from === from) s.from = undefined;
      this.start(s);
      return;
    }
    if (owner === undefined) return this.endHere(state);
    // Not ours: pass it on; slowly if it would bounce straight back (views differ for a moment).
    const delay = owner === from ? d.config.retryMs * (0.5 + d.random.float()) : 0;
    d.handoffs().send(name, state, owner, delay);
  }

  /**
   * The configuration or the serving rights changed: hand off what moved,
   * start what may start now. Over as many turns as it takes, SWEEP_BUDGET_MS
   * each: at 30,000 processes one pass (with its handoffs) held the loop for
   * 60-190 ms. A new sweep replaces one under way (it looks at everything
   * again); until the last one ends, leavingCount() is not 0, so no new owner
   * hears "swept" from us while a moved process may still be running here.
   */
  sweep(): void {
    if (this.sweeping !== null) this.sweeping.timer?.cancel();
    const s: Sweep = { list: [...this.entries.values()], at: 0, moved: new Map(), timer: undefined };
    this.sweeping = s;
    this.sweepOn(s);
  }

  private sweepOn(s: Sweep): void {
    if (this.sweeping !== s) return;
    s.timer = undefined;
    const d = this.d;
    const until = d.clock.now() + SWEEP_BUDGET_MS;
    const { list, moved } = s;
    while (s.at < list.length) {
      this.sweepEntry(list[s.at++]!, moved);
      // At least one record a turn, so a sweep always ends.
      if (s.at % SWEEP_CHECK_EVERY === 0 && s.at < list.length && d.clock.now() >= until) {
        s.timer = d.clock.setTimer(0, () => this.sweepOn(s));
        return;
      }
    }
    this.sweeping = null;
    if (moved.size === 0) return;
    const to = [...moved].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    d.logger.info("ownership moved", { names: to.reduce((n, [, c]) => n + c, 0), to: Object.fromEntries(to) });
  }

  private sweepEntry(e: ProcessRecord, moved: Map<string, number>): void {
    // Replaced or gone since the sweep began: whatever replaced it was checked against the configuration then.
    if (this.entries.get(e.name) !== e) return;
    const d = this.d;
    const owner = d.owners.ownerOf(e.name);
    if (owner === d.self) {
      if (e.phase === "starting") this.start(e);
      return;
    }
    if (e.phase === "running" && owner !== undefined) moved.set(owner, (moved.get(owner) ?? 0) + 1);
    this.sweepOne(e);
  }

  /**
   * No node may own anything (this node drains and nobody else holds data):
   * the process ends here. Counted, not logged one by one: a whole cluster
   * stopping ends thousands; flushEnded() says it once.
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

  private sweepOne(e: ProcessRecord): void {
    if (e.phase === "running") return this.handOff(e);
    if (e.phase !== "starting") return;
    e.timer?.cancel();
    this.entries.delete(e.name);
    if (e.handed) for (const s of e.states) this.receive(e.name, s, undefined);
    // Not started: these calls never ran, so sending them on is safe.
    for (const inb of e.waiting) this.t.route(inb);
  }

  private handOff(r: Running): void {
    const d = this.d;
    const l = leaving(r);
    this.entries.set(r.name, l);
    const idle = r.mailbox === undefined ? Promise.resolve() : r.mailbox.idle();
    // Queued calls see the record replaced and are routed on; the one running finishes first.
    void idle.then(() => {
      if (this.entries.get(l.name) !== l) return;
      const owner = d.owners.ownerOf(l.name);
      if (owner === d.self) {
        // Placement came back to us meanwhile: keep serving.
        const back = running(l.name, l.proc);
        this.entries.set(l.name, back);
        for (const s of l.states) this.conflict(back, s);
        for (const inb of l.waiting) this.t.enqueue(back, inb);
        return;
      }
      let state: unknown;
      try {
        state = l.proc.beginHandoff?.();
      } catch (err) {
        d.logger.warn("beginHandoff failed; the next owner starts fresh", { process: l.name, error: String(err) });
      }
      try {
        l.proc.stop?.();
      } catch (err) {
        d.logger.warn("process stop failed", { process: l.name, error: String(err) });
      }
      if (owner === undefined) {
        this.endHere(state);
        this.entries.delete(l.name);
        for (const inb of l.waiting) d.fail(inb, unavailable(`${d.self} is draining; retry`));
        return;
      }
      l.hid = d.handoffs().send(l.name, state, owner);
    });
  }

  /** The target took our copy. */
  acked(hid: string, name: string): void {
    this.d.counters.handoffsOut++;
    const e = this.entries.get(name);
    if (e?.phase !== "leaving" || e.hid !== hid) return;
    this.entries.delete(name);
    for (const s of e.states) this.receive(name, s, undefined);
    for (const inb of e.waiting) this.t.route(inb);
  }

  /** Our handoff found no taker and we own the name again: restart it here with its state. */
  reclaim(hid: string, name: string, state: unknown): void {
    const e = this.entries.get(name);
    if (e?.phase === "leaving" && e.hid === hid) {
      this.entries.delete(name);
      this.receive(name, state, undefined);
      for (const inb of e.waiting) this.t.route(inb);
      for (const s of e.states) this.receive(name, s, undefined);
      return;
    }
    this.receive(name, state, undefined);
  }

  /**
   * This node drains and no other holder is left to take anything (a
   * cluster of one, or every other node drains too): each process ends here,
   * counted once (flushEnded says it).
   */
  endAll(): void {
    const d = this.d;
    for (const e of [...this.entries.values()]) {
      // As in a handoff, the calls in its mailbox finish first: the drain's next check ends it.
      if (e.phase === "running" && e.mailbox !== undefined && (e.mailbox.busy || e.mailbox.waiting > 0)) continue;
      this.entries.delete(e.name);
      if (e.phase === "starting") {
        e.timer?.cancel();
        // Never started: only a state handed to it was a process.
        for (const s of e.states) this.endHere(s);
      } else {
        let state: unknown;
        try {
          state = e.proc.beginHandoff?.();
          e.proc.stop?.();
        } catch (err) {
          d.logger.warn("process stop failed", { process: e.name, error: String(err) });
        }
        this.endHere(state);
        if (e.phase === "leaving") for (const s of e.states) this.endHere(s);
      }
      if (e.phase !== "running") for (const inb of e.waiting) d.fail(inb, unavailable(`${d.self} is draining; retry`));
    }
  }

  /** Records still handing off, or a sweep still under way (a previous owner answers "swept" only when none is). */
  leavingCount(): number {
    let n = this.sweeping === null ? 0 : 1;
    for (const e of this.entries.values()) if (e.phase === "leaving") n++;
    return n;
  }

  /** Stop a record's timer (the node stops). */
  static cancel(e: ProcessRecord): void {
    if (e.phase === "starting") e.timer?.cancel();
  }
}

