/**
 * Event-loop lag: a timer asks to run every `intervalMs` and measures how
 * late it ran. A callback that blocks the loop (a long GC pause, a huge
 * JSON parse, a SIGSTOP) delays it by the blocked time, which is also how
 * late every probe, ack and request on this node was. The timer reschedules
 * itself through the injected Clock, so under the simulator a paused node's
 * lag is its pause, and under the real clock it is the loop's.
 */
import type { Clock, Timer } from "../types.ts";

export interface LoopLagStats {
  /** Lag of the latest tick, ms. */
  lastMs: number;
  /** Largest lag among the ticks of the last `windowMs`, ms. */
  windowMaxMs: number;
  /** Largest lag since start (the longest stall seen), ms. */
  maxMs: number;
  /**
   * CPU the process used (all its threads) from the tick before the longest
   * stall to its end, ms; -1 without a CPU source. Well under intervalMs +
   * maxMs: the process mostly waited for a core (a loaded machine), not
   * worked; near or above it: it worked (code, or GC on several threads).
   */
  maxCpuMs: number;
  /**
   * Major page faults of the process over the same span; -1 without a
   * source. A stall with little CPU and many faults waited for the disk
   * (pages the system had reclaimed), not for a core.
   */
  maxFaults: number;
  /**
   * The event loop's own thread over the same span: ms on a CPU, and ms
   * runnable but waiting for one (the machine's other work had the cores);
   * -1 without a thread source.
   */
  maxRanMs: number;
  maxWaitedMs: number;
  /**
   * The longest stall less the time the loop's thread waited for a core in
   * its span, or the time it ran there if more, since start (-1 without a
   * thread source): what the process itself held the loop for (its
   * callbacks, or its collector's pauses), had it always had a core; an
   * upper estimate (several short callbacks count as one). On a machine
   * shared past its cores the plain stall also counts the others' turns.
   */
  ownMaxMs: number;
  /** Ticks measured since start. */
  ticks: number;
  /** The window windowMaxMs looks back over, ms. */
  windowMs: number;
}

/** A tick this late, or overdue this long, means the loop stalls or just did (behind()). */
export const BEHIND_MS = 200;

export interface LoopLag {
  stats(): LoopLagStats;
  /**
   * Whether the loop stalls now or just did: its tick is overdue by
   * BEHIND_MS, or a tick came that late within the last second (or as long
   * as that stall, if longer): after a long stall the backlog of sockets
   * takes more than one turn to read. Requests read then may have waited
   * in their sockets while their clients gave up (http/instrument.ts).
   */
  behind(): boolean;
  stop(): void;
}

export interface LoopLagOptions {
  /** Time between ticks (default 100 ms: ten timers a second cost nothing measurable). */
  intervalMs?: number;
  /** How far back windowMaxMs looks (default 10 s: a scrape interval or two). */
  windowMs?: number;
  /** The process's CPU time so far, ms (the runtime's; none under the simulator). */
  cpuMs?: () => number;
  /** The process's major page faults so far (the runtime's; none under the simulator). */
  faults?: () => number;
  /** The loop thread's scheduler times so far, ms (Linux's; none under the simulator). */
  thread?: () => { ranMs: number; waitedMs: number } | null;
}

export function startLoopLag(clock: Clock, opts: LoopLagOptions = {}): LoopLag {
  const intervalMs = Math.max(1, opts.intervalMs ?? 100);
  const windowMs = Math.max(intervalMs, opts.windowMs ?? 10_000);
  // Ticks of the window as [time, lag], oldest first, lags strictly
  // decreasing (a later, larger lag makes the earlier ones irrelevant): the
  // head is the window's max, and the queue stays a handful of entries long.
  const recent: [number, number][] = [];
  let last = 0;
  let max = 0;
  let maxCpu = -1;
  let cpuAt = 0;
  let maxFaults = -1;
  let faultsAt = 0;
  let threadAt: { ranMs: number; waitedMs: number } | null = null;
  let maxRan = -1;
  let maxWaited = -1;
  let ownMax = opts.thread !== undefined ? 0 : -1;
  let ticks = 0;
  /** behind() until then: a late tick's time plus max(1 s, its lag) */
  let behindUntil = -Infinity;
  let timer: Timer | undefined;
  let due = 0;

  const prune = (now: number): void => {
    while (recent.length > 0 && recent[0]![0] < now - windowMs) recent.shift();
  };

  const schedule = (): void => {
    due = clock.now() + intervalMs;
    if (opts.cpuMs !== undefined) cpuAt = opts.cpuMs();
    if (opts.faults !== undefined) faultsAt = opts.faults();
    if (opts.thread !== undefined) threadAt = opts.thread();
    timer = clock.setTimer(intervalMs, tick);
  };

  function tick(): void {
    if (timer === undefined) return;
    const now = clock.now();
    // A clock that steps backwards (wall time corrected) is no lag.
    const lag = Math.max(0, now - due);
    ticks++;
    last = lag;
    if (lag >= BEHIND_MS) behindUntil = now + Math.max(1_000, lag);
    const th = opts.thread?.() ?? null;
    const ran = th === null || threadAt === null ? -1 : th.ranMs - threadAt.ranMs;
    const waited = th === null || threadAt === null ? -1 : th.waitedMs - threadAt.waitedMs;
    // Less the wait for a core; but never less than the thread ran (a callback that ran long while
    // also waiting for a core held the loop for its whole run, which the lag less the wait undercounts).
    if (waited >= 0) ownMax = Math.max(ownMax, lag - waited, Math.min(lag, ran));
    if (lag > max) {
      max = lag;
      if (opts.cpuMs !== undefined) maxCpu = opts.cpuMs() - cpuAt;
      if (opts.faults !== undefined) maxFaults = opts.faults() - faultsAt;
      maxRan = ran;
      maxWaited = waited;
    }
    while (recent.length > 0 && recent[recent.length - 1]![1] <= lag) recent.pop();
    recent.push([now, lag]);
    prune(now);
    schedule();
  }

  schedule();
  return {
    stats(): LoopLagStats {
      prune(clock.now());
      // A stall still going on (the tick is overdue) counts in the window already.
      const overdue = timer === undefined ? 0 : Math.max(0, clock.now() - due);
      return { lastMs: last, windowMaxMs: Math.max(recent[0]?.[1] ?? 0, overdue), maxMs: Math.max(max, overdue), maxCpuMs: maxCpu, maxFaults, maxRanMs: maxRan, maxWaitedMs: maxWaited, ownMaxMs: ownMax, ticks, windowMs };
    },
    behind(): boolean {
      const now = clock.now();
      return now < behindUntil || (timer !== undefined && now - due >= BEHIND_MS);
    },
    stop(): void {
      timer?.cancel();
      timer = undefined;
    },
  };
}
