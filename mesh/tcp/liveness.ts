/**
 * Dropping a mesh connection that stopped carrying anything, so the next
 * send dials a fresh one.
 *
 * Why: TCP retransmits with exponential backoff (its timer doubles up to
 * 120 s). After a lossy spell (a flaky link dropping 40-70% of packets for
 * 20 s) a connection's next retransmission was 14-29 s away (`ss -ti`: rto
 * 14652-28744 ms), and the link, healed, stayed silent that long: the node
 * on it was ready again 7-36 s after the heal, the cluster's notices queued
 * behind the stuck bytes (tests/cluster/hostile-lossy.test.ts). A new
 * connection starts with a new timer.
 *
 * The rule, per open connection whose peer answers pings (its hello says
 * `pings`), checked every quarter of `idleMs`:
 * - bytes arrived since the last check, or the socket drained (the peer's
 *   side took our bytes), or some wait unread here (this side is the slow
 *   one: it tells the peer it is alive, unasked, since the peer's ping waits
 *   behind those bytes): all is well, the silence starts anew;
 * - quiet for `idleMs` after this side wrote something (since the last check
 *   that heard bytes, or in the same span: the write may have gone after
 *   them): send a ping, which the peer answers as soon as it reads it;
 * - still nothing `timeoutMs` after the ping: the connection is stalled.
 * Pings and their answers are not writes of ours (else two quiet sides
 * would ping each other for ever): a connection goes quiet after one ping
 * at most. A check that runs late (this process's own loop was held, so
 * bytes may be waiting unread) starts the silence anew: a paused or starved
 * node drops nothing on waking. A peer that is frozen or cut off loses its
 * connection after idleMs + timeoutMs of silence once this side wrote to it
 * (on lan, membership judges it dead sooner; on wan, a freeze between 15 and
 * 30 s costs a new connection, not a death); the protocols above re-send
 * what a dropped connection lost.
 */
import type { Clock, Timer } from "../types.ts";

export interface LivenessPolicy {
  /** Silence, after a write of ours, before a ping (ms). */
  idleMs: number;
  /** Silence after the ping before the connection counts as stalled (ms). */
  timeoutMs: number;
}

/** lan and local profiles: a stuck connection goes within ~3-3.5 s of its last byte. */
export const LAN_LIVENESS: LivenessPolicy = { idleMs: 1_000, timeoutMs: 2_000 };
/** wan profile: slower links, longer pauses tolerated. */
export const WAN_LIVENESS: LivenessPolicy = { idleMs: 5_000, timeoutMs: 10_000 };

/** Session-level frames (no channel: never handed to the protocols). */
export const PING_TYPE = "sp";
export const PONG_TYPE = "spa";

type State =
  | { kind: "quiet"; since: number; wrote: boolean }
  | { kind: "pinged"; since: number; at: number };

export type Verdict = "ok" | "ping" | "stalled" | "behind";

/** What the connection saw between two checks. */
export interface Traffic {
  /** bytes arrived */
  heard: boolean;
  /** bytes arrived that are not handled yet */
  behind: boolean;
  /** frames written */
  wrote: boolean;
}

/** One connection's silence, as a state machine: every transition is in judge(). */
export class Liveness {
  #state: State;

  constructor(now: number) {
    this.#state = { kind: "quiet", since: now, wrote: false };
  }

  /** How long nothing arrived (ms), for the log line of a stalled connection. */
  silentFor(now: number): number {
    return now - this.#state.since;
  }

  judge(now: number, t: Traffic, late: boolean, p: LivenessPolicy): Verdict {
    const s = this.#state;
    if (t.heard || t.behind || late) {
      // A write in the same span as the bytes heard may have gone after them, unanswered.
      this.#state = { kind: "quiet", since: now, wrote: t.wrote };
      // Behind on the peer's bytes: its ping waits behind them, so say we are alive unasked.
      return t.behind ? "behind" : "ok";
    }
    if (s.kind === "pinged") return now - s.at >= p.timeoutMs ? "stalled" : "ok";
    const wrote = s.wrote || t.wrote;
    if (wrote && now - s.since >= p.idleMs) {
      this.#state = { kind: "pinged", since: s.since, at: now };
      return "ping";
    }
    this.#state = { kind: "quiet", since: s.since, wrote };
    return "ok";
  }
}

/** What the watch needs of a connection. */
export interface Watched {
  /** open, confirmed, and the peer answers pings */
  readonly watchable: boolean;
  /** The traffic since the last call, and the counters reset. */
  traffic(): Traffic;
  readonly liveness: Liveness;
  ping(): void;
  /** Tell the peer this side is alive (an answer to a ping, sent unasked). */
  alive(): void;
  stalled(reason: string): void;
}

/**
 * Checks every connection `each` yields, every quarter of idleMs, on the
 * injected clock; returns the stop.
 */
export function watchLiveness(clock: Clock, p: LivenessPolicy, each: () => Iterable<Watched>): () => void {
  const every = Math.max(10, Math.floor(p.idleMs / 4));
  let last = clock.now();
  let timer: Timer | null = null;
  let stopped = false;
  const check = (): void => {
    if (stopped) return;
    const now = clock.now();
    const late = now - last > 2 * every;
    last = now;
    for (const w of [...each()]) {
      if (!w.watchable) continue;
      const v = w.liveness.judge(now, w.traffic(), late, p);
      if (v === "ping") w.ping();
      else if (v === "behind") w.alive();
      else if (v === "stalled") w.stalled(`stalled: nothing from the peer in ${w.liveness.silentFor(now)} ms, a ping unanswered for ${p.timeoutMs} ms`);
    }
    timer = clock.setTimer(every, check);
  };
  timer = clock.setTimer(every, check);
  return () => {
    stopped = true;
    timer?.cancel();
  };
}
