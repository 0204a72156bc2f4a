/**
 * What the process table holds per name, and the small shared pieces of the
 * call path (see processes.ts for the phases).
 */
import type { RoomyError } from "../../core/errors.ts";
import type { Address } from "../types.ts";
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
  /** started here and not yet routed (its first send is not a forward) */
  fresh: boolean;
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

export type Phase = "activating" | "running" | "leaving";

export interface Entry {
  name: string;
  phase: Phase;
  proc: ProcessHandlers | undefined;
  /** made on first need: an idle process runs calls directly */
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
  /** a message is being handled synchronously (outside the mailbox) */
  inCall: boolean;
  /** messages that arrived from inside that handler */
  deferred: Inbound[];
}

/**
 * The shared empty list: most processes never have anything waiting, and
 * four empty arrays each would cost ~100 bytes per process at 100k of them.
 * Frozen, so a stray push fails loudly; `add` swaps in a real array.
 */
export const NONE: never[] = Object.freeze([]) as unknown as never[];

export function add<T>(list: T[], x: T): T[] {
  if (list === NONE) return [x];
  list.push(x);
  return list;
}

export function newEntry(name: string, handed: boolean, state: unknown, deadline: number, epoch: number): Entry {
  return {
    name,
    phase: "activating",
    proc: undefined,
    mailbox: undefined,
    waiting: NONE,
    handed,
    state,
    extra: NONE,
    deadline,
    hid: "",
    waitingStates: NONE,
    epoch,
    checking: false,
    inCall: false,
    deferred: NONE,
  };
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
