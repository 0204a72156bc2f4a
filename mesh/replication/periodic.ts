/** The replicator's repeating timers on the injected clock: one failing run is logged, and the next still comes. */
import type { Clock, Logger, Timer } from "../types.ts";

export class Periodic {
  private readonly timers: Timer[] = [];
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  every(ms: number, fn: () => void): void {
    const slot = this.timers.length;
    const run = (): void => {
      if (this.stopped) return;
      try {
        fn();
      } catch (err) {
        this.logger.error("replication: periodic task failed", { error: String(err) });
      }
      this.timers[slot] = this.clock.setTimer(ms, run);
    };
    this.timers.push(this.clock.setTimer(ms, run));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) t.cancel();
  }
}
