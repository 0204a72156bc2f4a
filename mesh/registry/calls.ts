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

interface Pending {
  name: string;
  resolve: (v: unknown) => void;
  reject: (e: RoomyError) => void;
  deadline: number;
  timeoutMs: number;
  /** Node the call was put on the wire to (first hop), if remote. */
  sentTo?: string;
}

/** Timeouts fire at most this late. */
const SLOT_MS = 10;

export interface CallTable {
  /** A new call id, unique across the cluster (with the origin address). */
  newId(): number;
  /** Register a call this node started; it rejects `unavailable` after `timeoutMs`. */
  open(id: number, name: string, timeoutMs: number, now: number): Promise<unknown>;
  /** Settle a call this node started (later settlements are ignored). */
  resolve(id: number, value: unknown): void;
  reject(id: number, err: RoomyError): void;
  /** Record a received copy; false if this exact copy (origin, id, hop) was seen. */
  firstSight(origin: Address, id: number, hops: number, now: number): boolean;
  /** Record a received handoff id; false if seen. */
  firstHandoff(hid: string, now: number): boolean;
  /** Forget what is past the window (called periodically). */
  expire(now: number): void;
  /** Remember which node a call this node started was sent to. */
  sentTo(id: number, node: string): void;
  /**
   * Reject at once the calls sent to `node`, which went down: waiting out
   * their timeout would only delay the caller's retry on the new owner.
   */
  failSentTo(node: string, err: RoomyError): number;
  /** Reject every open call (the registry stops). */
  closeAll(err: RoomyError): void;
  readonly openCount: number;
}

export function createCallTable(clock: Clock, windowMs: number): CallTable {
  let seq = Math.floor(clock.now()) * 1024;
  const pending = new Map<number, Pending>();
  const slots = new Map<number, number[]>();
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
    if (ids === undefined) return;
    const now = clock.now();
    for (const id of ids) {
      const p = pending.get(id);
      if (p === undefined) continue;
      if (p.deadline > now) {
        schedule(id, p.deadline); // the clock ran a little early
        continue;
      }
      pending.delete(id);
      p.reject(unavailable(`${p.name} did not answer within ${p.timeoutMs} ms; retry`));
    }
  }

  function schedule(id: number, deadline: number): void {
    const slot = Math.ceil(deadline / SLOT_MS) * SLOT_MS;
    let ids = slots.get(slot);
    if (ids === undefined) {
      slots.set(slot, (ids = []));
      clock.setTimer(slot - clock.now(), () => fire(slot));
    }
    ids.push(id);
  }

  function take(id: number): Pending | undefined {
    const p = pending.get(id);
    if (p !== undefined) pending.delete(id);
    return p;
  }

  return {
    newId: () => seq++,
    open(id: number, name: string, timeoutMs: number, now: number): Promise<unknown> {
      return new Promise<unknown>((resolve, reject) => {
        const deadline = now + timeoutMs;
        pending.set(id, { name, resolve, reject, deadline, timeoutMs });
        schedule(id, deadline);
      });
    },
    resolve(id: number, value: unknown): void {
      take(id)?.resolve(value);
    },
    reject(id: number, err: RoomyError): void {
      take(id)?.reject(err);
    },
    firstSight: (origin, id, hops, now) => copies.firstSight(origin, id, hops, now),
    firstHandoff(hid: string, now: number): boolean {
      rotate(now);
      if (handoffs.has(hid) || handoffsBefore.has(hid)) return false;
      handoffs.add(hid);
      return true;
    },
    expire: rotate,
    sentTo(id: number, node: string): void {
      const p = pending.get(id);
      if (p !== undefined) p.sentTo = node;
    },
    failSentTo(node: string, err: RoomyError): number {
      let n = 0;
      for (const [id, p] of pending) {
        if (p.sentTo !== node) continue;
        take(id)?.reject(err);
        n++;
      }
      return n;
    },
    closeAll(err: RoomyError): void {
      for (const id of [...pending.keys()]) take(id)?.reject(err);
    },
    get openCount(): number {
      return pending.size;
    },
  };
}
