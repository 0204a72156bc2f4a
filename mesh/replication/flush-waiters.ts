/**
 * The callers of flush() waiting for every pending write to be held by every
 * live peer; each gives up (resolving, with a warning) at its own timeout.
 */
import type { Clock, Logger } from "../types.ts";

export class FlushWaiters {
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly pendingCount: () => number,
  ) {}

  get size(): number {
    return this.waiters.size;
  }

  wait(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimer(timeoutMs, () => {
        if (!this.waiters.delete(done)) return;
        this.logger.warn("replication: flush timed out with writes not held by every live peer", {
          pending: this.pendingCount(),
          timeoutMs,
        });
        resolve();
      });
      const done = (): void => {
        timer.cancel();
        resolve();
      };
      this.waiters.add(done);
    });
  }

  /** Resolve every waiter (drained, or stopping). */
  releaseAll(): void {
    for (const done of [...this.waiters]) done();
    this.waiters.clear();
  }
}
