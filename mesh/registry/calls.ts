/**
 * Calls in flight: the ones this node started (a promise per id, settled by
 * the first reply or by the timeout, never twice) and a window of the call
 * copies it has received from the wire, so a duplicated message is run once.
 */
import type { RoomyError } from "../../core/errors.ts";
import type { Clock, Random, Timer } from "../types.ts";
import { randomId } from "../types.ts";
import { unavailable } from "./messages.ts";

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: RoomyError) => void;
  timer: Timer;
}

export interface CallTable {
  /** A new call id, unique across the cluster. */
  newId(): string;
  /** Register a call this node started; it rejects `unavailable` after `timeoutMs`. */
  open(id: string, name: string, timeoutMs: number): Promise<unknown>;
  /** Settle a call this node started (later settlements are ignored). */
  resolve(id: string, value: unknown): void;
  reject(id: string, err: RoomyError): void;
  /** Whether the call is still awaited. */
  isOpen(id: string): boolean;
  /** Record a received copy; false if this exact copy (same hop) was seen. */
  firstSight(key: string, ttlMs: number): boolean;
  /** Forget received copies past their window (called periodically). */
  expire(): void;
  /** Reject every open call (the registry stops). */
  closeAll(err: RoomyError): void;
  readonly openCount: number;
}

export function createCallTable(clock: Clock, random: Random): CallTable {
  const prefix = randomId(random, 6);
  let seq = 0;
  const pending = new Map<string, Pending>();
  // Insertion order is close to expiry order (windows are similar), so
  // expiring walks from the front and stops at the first live one.
  const seen = new Map<string, number>();

  function take(id: string): Pending | undefined {
    const p = pending.get(id);
    if (p === undefined) return undefined;
    pending.delete(id);
    p.timer.cancel();
    return p;
  }

  return {
    newId: () => `${prefix}.${(seq++).toString(36)}`,
    open(id: string, name: string, timeoutMs: number): Promise<unknown> {
      return new Promise<unknown>((resolve, reject) => {
        const timer = clock.setTimer(timeoutMs, () => {
          if (pending.delete(id)) reject(unavailable(`${name} did not answer within ${timeoutMs} ms; retry`));
        });
        pending.set(id, { resolve, reject, timer });
      });
    },
    resolve(id: string, value: unknown): void {
      take(id)?.resolve(value);
    },
    reject(id: string, err: RoomyError): void {
      take(id)?.reject(err);
    },
    isOpen: (id) => pending.has(id),
    firstSight(key: string, ttlMs: number): boolean {
      if (seen.has(key)) return false;
      seen.set(key, clock.now() + ttlMs);
      return true;
    },
    expire(): void {
      const now = clock.now();
      for (const [k, until] of seen) {
        if (until > now) break;
        seen.delete(k);
      }
    },
    closeAll(err: RoomyError): void {
      for (const id of [...pending.keys()]) take(id)?.reject(err);
    },
    get openCount(): number {
      return pending.size;
    },
  };
}
