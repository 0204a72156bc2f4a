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
  /** answer the call unrun, no_effect, saying `why` */
  refuse(why: string): void;
  cancelled: boolean;
  /** when it may run */
  due: number;
}

export class StalledCalls {
  /** in arrival order, so in order of `due` too */
  readonly #held = new Map<string, Held>();
  #timer: Timer | null = null;
  /** calls refused because their caller cancelled them (stats) */
  refused = 0;

  constructor(
    private readonly clock: Clock,
    private readonly behind: () => boolean,
  ) {}

  /** Whether call `id` from `origin` is held HOLD_MS: then `run` or `refuse` is called later, once. */
  hold(origin: string, id: number, run: () => void, refuse: (why: string) => void): boolean {
    if (!this.behind()) return false;
    this.#held.set(origin + ":" + id, { run, refuse, cancelled: false, due: this.clock.now() + HOLD_MS });
    this.#timer ??= this.clock.setTimer(HOLD_MS, () => this.#release());
    return true;
  }

  /** The caller of call `id` from `origin` says its own client left. */
  cancel(origin: string, id: number): void {
    const h = this.#held.get(origin + ":" + id);
    if (h !== undefined) h.cancelled = true;
  }

  /** Run or refuse, in arrival order, every held call that waited its HOLD_MS; come back for the rest. */
  #release(): void {
    this.#timer = null;
    const now = this.clock.now();
    for (const [key, h] of this.#held) {
      if (h.due > now) {
        this.#timer = this.clock.setTimer(h.due - now, () => this.#release());
        return;
      }
      this.#held.delete(key);
      if (h.cancelled) {
        this.refused++;
        h.refuse("its caller's client left while this node was stalled");
      } else h.run();
    }
  }

  /** The registry stops: what is held is answered unrun. */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
    const held = [...this.#held.values()];
    this.#held.clear();
    for (const h of held) h.refuse("registry stopped");
  }
}
