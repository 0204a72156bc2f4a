/**
 * Calls in flight: the ones this node started (a promise per id, settled by
 * the first reply or by the timeout, never twice) and a window of the call
 * copies it has received from the wire, so a duplicated message runs once.
 *
 * Built for the hot path: ids are numbers that only grow, starting from the
 * wall clock x 1024 (so a restarted node at the same address starts above
 * every id its predecessor used, unless that one averaged over 1024 calls a
 * millisecond), timeouts share one timer per 10 ms slot instead of one per
 * call, and duplicates are caught by a constant-memory window (dedupe.ts).
 */
import type { RoomyError } from "../../core/errors.ts";
import type { Address, Clock } from "../types.ts";
import { CopyFilter } from "./dedupe.ts";
import { unavailable } from "./messages.ts";

class Pending {
  /** Node the call was put on the wire to (first hop), if remote; then where a `moved` note said it went. */
  sentTo: string | undefined = undefined;
  /** The hop count of the latest `moved` note taken (notes from different hops may come in any order). */
  hop = 0;
  constructor(
    readonly name: string,
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: unknown) => void,
    readonly deadline: number,
    readonly timeoutMs: number,
  ) {}
}

// Filled by the executor below, which runs synchronously inside `new Promise`:
// a shared function instead of a closure per call.
let grabbedResolve: (v: unknown) => void = () => {};
let grabbedReject: (e: unknown) => void = () => {};
function grab(resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
  grabbedResolve = resolve;
  grabbedReject = reject;
}

/**
 * How long after a node left its calls still wait for a `moved` note (a
 * call it sent on just before leaving): longer than a message takes, short
 * beside the call timeout a call lost with it would otherwise wait out.
 */
export const LEFT_GRACE_MS = 1000;

/** Timeouts fire at most this late. */
const SLOT_MS = 10;

export interface CallTable {
  /** A new call id, unique across the cluster (with the origin address). */
  newId(): number;
  /** Register a call this node started; it rejects `unavailable` after `timeoutMs`. */
  open(id: number, name: string, timeoutMs: number, now: number): Promise<unknown>;
  /** Settle a call this node started (later settlements are ignored). */
  resolve(id: number, value: unknown): void;
  /** `err` as is (a RoomyError on the wire path; the local registry passes handlers' errors through). */
  reject(id: number, err: unknown): void;
  /** Whether the call is still waiting for its answer (not settled, not timed out). */
  isOpen(id: number): boolean;
  /** Record a received copy; false if this exact copy (origin, id, hop) was seen. */
  firstSight(origin: Address, id: number, hops: number, now: number): boolean;
  /** Record a received handoff id; false if seen. */
  firstHandoff(hid: string, now: number): boolean;
  /** Forget what is past the window (called periodically). */
  expire(now: number): void;
  /** Remember which node a call this node started was sent to. */
  sentTo(id: number, node: string): void;
  /** The node pending call `id` was sent to, if it is still pending and went out. */
  sentToOf(id: number): string | undefined;
  /**
   * A node that held call `id` sent it on to node `to` as hop `hop` (a moved
   * mailbox, a released hold): it is `to`'s now. Ignored unless the call is
   * open and no note of a later hop came first.
   */
  moved(id: number, to: string, hop: number): void;
  /**
   * `node` left (drained): reject the calls sent to it that are still its
   * after `graceMs`. A call it sent on before leaving runs elsewhere, and its
   * `moved` note may come after the news of the leave; failing that one at
   * once would let the caller's retry run first and the call land after it.
   */
  failSentToLater(node: string, err: RoomyError, graceMs: number): void;
  /** Reject every open call (the registry stops). */
  closeAll(err: RoomyError): void;
  readonly openCount: number;
}

export function createCallTable(clock: Clock, windowMs: number): CallTable {
  const base = Math.floor(clock.now()) * 1024;
  let seq = base;
  // Keyed by id - base: small integers hash faster than ids near 2^50.
  const pending = new Map<number, Pending>();
  const slots = new Map<number, number[]>();
  // The slot most calls of a burst land in, without a map lookup.
  let lastSlot = -1;
  let lastIds: number[] = [];
  let lastKey = -1;
  let lastPending: Pending | undefined;
  const copies = new CopyFilter();
  // Handoff ids are rare: two generations of a set, each `windowMs` long.
  let handoffs = new Set<string>();
  let handoffsBefore = new Set<string>();
  let rotatedAt = -Infinity;

  function rotate(now: number): void {
    if (now - rotatedAt < windowMs) return;
    // After a long quiet spell both generations are stale.
    const stale = now - rotatedAt >= 2 * windowMs;
    handoffsBefore = stale ? new Set() : handoffs;
    handoffs = new Set();
    rotatedAt = now;
    copies.prune(now, 10 * windowMs);
  }

  function fire(slot: number): void {
    const ids = slots.get(slot);
    slots.delete(slot);
    if (slot === lastSlot) lastSlot = -1;
    if (ids === undefined) return;
    const now = clock.now();
    for (const key of ids) {
      const p = pending.get(key);
      if (p === undefined) continue;
      if (p.deadline > now) {
        schedule(key, p.deadline, now); // the clock ran a little early
        continue;
      }
      pending.delete(key);
      p.reject(unavailable(`${p.name} did not answer within ${p.timeoutMs} ms; retry`));
    }
  }

  function schedule(key: number, deadline: number, now: number): void {
    const slot = Math.ceil(deadline / SLOT_MS) * SLOT_MS;
    if (slot === lastSlot) {
      lastIds.push(key);
      return;
    }
    let ids = slots.get(slot);
    if (ids === undefined) {
      slots.set(slot, (ids = []));
      clock.setTimer(slot - now, () => fire(slot));
    }
    ids.push(key);
    lastSlot = slot;
    lastIds = ids;
  }

  function take(id: number): Pending | undefined {
    const key = id - base;
    const p = pending.get(key);
    if (p !== undefined) pending.delete(key);
    return p;
  }

  return {
    newId: () => seq++,
    open(id: number, name: string, timeoutMs: number, now: number): Promise<unknown> {
      const p = new Promise<unknown>(grab);
      const deadline = now + timeoutMs;
      const key = id - base;
      lastPending = new Pending(name, grabbedResolve, grabbedReject, deadline, timeoutMs);
      lastKey = key;
      pending.set(key, lastPending);
      schedule(key, deadline, now);
      return p;
    },
    resolve(id: number, value: unknown): void {
      take(id)?.resolve(value);
    },
    reject(id: number, err: unknown): void {
      take(id)?.reject(err);
    },
    isOpen: (id) => pending.has(id - base),
    firstSight: (origin, id, hops, now) => copies.firstSight(origin, id, hops, now),
    firstHandoff(hid: string, now: number): boolean {
      rotate(now);
      if (handoffs.has(hid) || handoffsBefore.has(hid)) return false;
      handoffs.add(hid);
      return true;
    },
    expire: rotate,
    sentTo(id: number, node: string): void {
      // Called right after open() for the same call: no lookup then.
      const key = id - base;
      const p = key === lastKey ? lastPending : pending.get(key);
      if (p !== undefined) p.sentTo = node;
    },
    sentToOf: (id) => pending.get(id - base)?.sentTo,
    moved(id: number, to: string, hop: number): void {
      const p = pending.get(id - base);
      if (p === undefined || hop <= p.hop) return;
      p.sentTo = to;
      p.hop = hop;
    },
    failSentToLater(node: string, err: RoomyError, graceMs: number): void {
      const keys: number[] = [];
      for (const [key, p] of pending) if (p.sentTo === node) keys.push(key);
      if (keys.length === 0) return;
      clock.setTimer(graceMs, () => {
        for (const key of keys) {
          const p = pending.get(key);
          if (p === undefined || p.sentTo !== node) continue;
          pending.delete(key);
          p.reject(err);
        }
      });
    },
    closeAll(err: RoomyError): void {
      const all = [...pending.values()];
      pending.clear();
      for (const p of all) p.reject(err);
    },
    get openCount(): number {
      return pending.size;
    },
  };
}
