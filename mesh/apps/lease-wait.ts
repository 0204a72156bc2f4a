/**
 * Calls and reads waiting for this node's lease to come back (rooms.ts): one
 * timer for all of them, however many wait (a node woken from a freeze may
 * hold hundreds), each let go once the lease is back or at its own time.
 */
import type { Clock, Timer } from "../types.ts";

/** How often the waiters look again while any wait. */
export const LEASE_POLL_MS = 5;

interface Waiter {
  until: number;
  done: () => void;
}

export class LeaseWait {
  private waiters: Waiter[] = [];
  private timer: Timer | null = null;

  constructor(
    private readonly clock: Clock,
    /** Whether the lease is held now. */
    private readonly held: () => boolean,
  ) {}

  /** Resolves once the lease is held, or at `until` (this clock), whichever is first. */
  until(until: number): Promise<void> {
    if (this.held() || this.clock.now() >= until) return Promise.resolve();
    return new Promise<void>((done) => {
      this.waiters.push({ until, done });
      this.timer ??= this.clock.setTimer(LEASE_POLL_MS, this.check);
    });
  }

  /** How many wait now. */
  get waiting(): number {
    return this.waiters.length;
  }

  private readonly check = (): void => {
    this.timer = null;
    const now = this.clock.now();
    const held = this.held();
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (held || now >= w.until) w.done();
      else still.push(w);
    }
    this.waiters = still;
    if (still.length > 0) this.timer = this.clock.setTimer(LEASE_POLL_MS, this.check);
  };
}
