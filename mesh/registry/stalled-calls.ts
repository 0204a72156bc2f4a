/**
 * Calls that arrive while this node's event loop is behind (it was frozen
 * or paused long: loop-lag.ts behind()). Each waits HOLD_MS before it runs,
 * so that what its caller sent after it is read first (after a stall the
 * mesh connections' backlog is handled a few ms per turn, tcp/connection.ts
 * TURN_BUDGET_MS; with a 1 ms hold, 3 of 6 real trials ran the call before
 * its cancel was read): a caller whose own client left meanwhile (its HTTP connection
 * closed; CallOptions.left) sends a cancel (`x`), and a call so cancelled is
 * refused unrun (`unavailable`, no_effect) instead of applied late, maybe
 * after a write of the same person acknowledged since through another node
 * (tests/cluster/hostile-zombie-write.test.ts, the frozen owner). A cancel
 * for a call already running, or one this node is not behind for, changes
 * nothing: that call is the caller's usual "may or may not have taken
 * effect". Calls held together run in the order they came.
 */
import type { Clock, Timer } from "../types.ts";

/** How long a call that arrived while this node was behind waits for its caller's cancel. */
export const HOLD_MS = 50;

interface Held {
  run(): void;
  refuse(): void;
  cancelled: boolean;
}

export class StalledCalls {
  readonly #held = new Map<string, Held>();
  #timer: Timer | null = null;
  /** calls refused because their caller cancelled them (stats) */
  refused = 0;

  constructor(
    private readonly clock: Clock,
    private readonly behind: () => boolean,
  ) {}

  /** Whether call `id` from `origin` is held for a turn: then `run` or `refuse` is called later, once. */
  hold(origin: string, id: number, run: () => void, refuse: () => void): boolean {
    if (!this.behind()) return false;
    this.#held.set(origin + ":" + id, { run, refuse, cancelled: false });
    this.#timer ??= this.clock.setTimer(HOLD_MS, () => this.#release());
    return true;
  }

  /** The caller of call `id` from `origin` says its own client left. */
  cancel(origin: string, id: number): void {
    const h = this.#held.get(origin + ":" + id);
    if (h !== undefined) h.cancelled = true;
  }

  #release(): void {
    this.#timer = null;
    const held = [...this.#held.values()];
    this.#held.clear();
    for (const h of held) {
      if (h.cancelled) {
        this.refused++;
        h.refuse();
      } else h.run();
    }
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#held.clear();
  }
}
