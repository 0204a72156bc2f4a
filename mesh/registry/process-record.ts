/**
 * What the process table holds per name: one of three states, each with only
 * the fields it needs (lifecycle.ts holds every transition):
 *
 *   starting  this node owns the name but may not run it yet: its serving
 *             rights for the epoch are not established, or the previous
 *             owner (alive) has not yet handed it over; calls wait (bounded)
 *   running   the process, serving one message at a time
 *   leaving   its owner moved: the mailbox drains (queued calls, not yet run,
 *             go to the new owner), then the state is handed off
 *
 * A transition replaces the record, so anything that kept the old one (a
 * queued call, a timer) sees it is no longer current and routes again.
 * Also the shared small pieces of the call path.
 */
import type { RoomyError } from "../../core/errors.ts";
import type { Address, Timer } from "../types.ts";
import type { Mailbox } from "./mailbox.ts";
import { unavailable } from "./messages.ts";
import type { ProcessHandlers } from "./types.ts";

/** A call or cast on its way to its process. */
export interface Inbound {
  /** unique per origin */
  id: number;
  /** the node that started it: where the reply goes */
  origin: Address;
  /** false for a cast */
  reply: boolean;
  name: string;
  msg: unknown;
  hops: number;
  /** local clock; the caller has given up after it */
  deadline: number;
  /** the same moment on the origin's clock (travels with every hop) */
  expires: number;
  /** started here and not yet routed (its first send is not a forward) */
  fresh: boolean;
  /**
   * The process id of the node that sent it here, whose clock reading
   * (taken as it sent, so after the call began) rode with it and was
   * observed here on arrival; absent otherwise (registry callVouched()).
   */
  vouch?: string;
  /**
   * The member id of the process that started it (a remote origin's: the
   * first hop's vouch, then carried by every forward). A node that knows a
   * later process under the origin's name knows this caller is gone.
   */
  originId?: string;
  /**
   * A call started here, still inside its first route(): its answer, if it
   * comes in that same turn, is kept here (EARLY_*) instead of settling a
   * pending promise, which is then never made. Absent on every other inbound.
   */
  early?: number;
  /** the early answer (value or error) */
  answer?: unknown;
  /** the first hop, when the call left for another node inside its first route() */
  sentTo?: string;
}

/** Inbound.early: the first route() is still running, no answer yet. */
export const EARLY_WAITING = 0;
/** Inbound.early: answered with a value (in `answer`). */
export const EARLY_OK = 1;
/** Inbound.early: failed (the error in `answer`). */
export const EARLY_FAILED = 2;

export interface Starting {
  phase: "starting";
  name: string;
  /** calls waiting for the process to start */
  waiting: Inbound[];
  /** states handed over by previous owners, in arrival order (the first starts it, the rest are conflicts) */
  states: unknown[];
  /** a handoff arrived (possibly with no state: start fresh) */
  handed: boolean;
  /** the previous owner whose handoff it waits for, if any */
  from: string | undefined;
  /** give up waiting for `from` after this (local clock) and start fresh */
  deadline: number;
  timer: Timer | undefined;
}

export interface Running {
  phase: "running";
  name: string;
  proc: ProcessHandlers;
  /** made on first need: an idle process runs calls directly */
  mailbox: Mailbox | undefined;
  /** a message is being handled synchronously (outside the mailbox) */
  inCall: boolean;
  /** messages that arrived from inside that handler */
  deferred: Inbound[];
}

export interface Leaving {
  phase: "leaving";
  name: string;
  proc: ProcessHandlers;
  mailbox: Mailbox | undefined;
  /** the handoff id, once sent ("" while the mailbox drains) */
  hid: string;
  /** calls that came meanwhile: routed once the handoff settles */
  waiting: Inbound[];
  /** states of other copies that arrived meanwhile: sent after ours */
  states: unknown[];
}

/** What the process table holds for one name (see the top of this file). */
export type ProcessRecord = Starting | Running | Leaving;
export type Phase = ProcessRecord["phase"];

/**
 * The shared empty list: most processes never have anything waiting, and
 * empty arrays each would cost ~100 bytes per process at 100k of them.
 * Frozen, so a stray push fails loudly; `add` swaps in a real array.
 */
export const NONE: never[] = Object.freeze([]) as unknown as never[];

export function add<T>(list: T[], x: T): T[] {
  if (list === NONE) return [x];
  list.push(x);
  return list;
}

export function starting(name: string, from: string | undefined, deadline: number): Starting {
  return { phase: "starting", name, waiting: NONE, states: NONE, handed: false, from, deadline, timer: undefined };
}

export function running(name: string, proc: ProcessHandlers): Running {
  return { phase: "running", name, proc, mailbox: undefined, inCall: false, deferred: NONE };
}

export function leaving(r: Running): Leaving {
  return { phase: "leaving", name: r.name, proc: r.proc, mailbox: r.mailbox, hid: "", waiting: NONE, states: NONE };
}

/** A synchronous handler threw. */
export class Failed {
  constructor(readonly err: unknown) {}
}

/** A job found its process gone: route the call again. */
export const MOVED: unique symbol = Symbol("moved");

export function noLease(self: string): RoomyError {
  return unavailable(`${self} has not heard from a majority of the cluster; retry`);
}
