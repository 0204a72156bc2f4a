/**
 * The three things every protocol in mesh/ is given instead of reaching for
 * them itself: a clock, a random source and a transport. Production wires
 * them to real time, crypto randomness and TCP (adapter/clock.ts, mesh/tcp/);
 * the simulator (mesh/sim/) wires them to a virtual clock, a seeded generator
 * and an in-memory network. Protocol code must never call Date.now(),
 * setTimeout() or Math.random() directly.
 */

/** A scheduled callback that can be cancelled (cancelling twice is harmless). */
export interface Timer {
  cancel(): void;
}

/** Time, in milliseconds. `now()` is monotonic within one process. */
export interface Clock {
  /** Milliseconds since an arbitrary epoch (wall time in production). */
  now(): number;
  /** Run `fn` once after `delayMs` milliseconds. */
  setTimer(delayMs: number, fn: () => void): Timer;
}

/** A source of uniform randomness. */
export interface Random {
  /** A float in [0, 1). */
  float(): number;
}

/** Uniform integer in [0, n). */
export function randomInt(rng: Random, n: number): number {
  return Math.floor(rng.float() * n);
}

/** Fisher-Yates shuffle of a copy of `items`. */
export function shuffled<T>(rng: Random, items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}

/** A random hex identifier of `bytes` bytes drawn from `rng`. */
export function randomId(rng: Random, bytes = 8): string {
  let s = "";
  for (let i = 0; i < bytes; i++) {
    s += randomInt(rng, 256).toString(16).padStart(2, "0");
  }
  return s;
}

/** "host:port" of a node's mesh endpoint. */
export type Address = string;

/**
 * A message between nodes: a plain object that CBOR can carry (no functions,
 * no class instances other than Uint8Array/Map). `t` names its kind.
 */
export interface Message {
  t: string;
  [field: string]: unknown;
}

/**
 * Best-effort, datagram-like delivery between nodes, addressed by mesh
 * address. A message may be dropped (peer down, queue full, partition) but is
 * never corrupted, and messages from one sender to one receiver arrive in the
 * order sent unless the simulator is told to reorder. Protocols that need
 * reliability (acks, retries) build it on top.
 */
export interface Transport {
  /** This node's advertised mesh address. */
  readonly local: Address;
  /**
   * Queue `msg` for `to`. Never throws; returns false if dropped at once.
   * `onLost`, if given, runs (at most once, later) if the message is dropped
   * before any of it was written to a socket (a dead connection, a refused
   * dial): it never reached `to`. A transport may never run it (a message
   * lost on the way is not known).
   */
  send(to: Address, msg: Message, onLost?: () => void): boolean;
  /** Register the handler for inbound messages (one handler; later replaces). */
  onMessage(handler: (from: Address, msg: Message) => void): void;
  /** Stop sending and receiving; release sockets. */
  close(): Promise<void>;
}

/**
 * Several protocols share one transport (one connection per pair of nodes):
 * each gets a channel, and messages carry the channel name in `ch`.
 */
export interface Mux {
  channel(name: string): Transport;
}

/**
 * `msg` carrying `ch: name`. Messages are built fresh per send (or reused on
 * one channel), so the tag is set in place: copying every message cost more
 * than encoding it. One that carries another channel's tag, or is frozen,
 * is copied instead.
 */
function tagged(msg: Message, name: string): Message {
  const ch = msg["ch"];
  if (ch === name) return msg;
  if (ch === undefined) {
    try {
      msg["ch"] = name;
      return msg;
    } catch {
      // frozen or sealed (module code is strict, so the assignment throws): copy below
    }
  }
  return { ...msg, ch: name };
}

/** Split one transport into named channels. */
export function mux(transport: Transport): Mux {
  const handlers = new Map<string, (from: Address, msg: Message) => void>();
  transport.onMessage((from, msg) => {
    const ch = msg["ch"];
    if (typeof ch !== "string") return;
    handlers.get(ch)?.(from, msg);
  });
  return {
    channel(name: string): Transport {
      return {
        local: transport.local,
        send: (to, msg, onLost) => transport.send(to, tagged(msg, name), onLost),
        onMessage: (handler) => {
          handlers.set(name, handler);
        },
        close: async () => {
          handlers.delete(name);
        },
      };
    },
  };
}

/** Leveled, structured logging; the runtime decides the format. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything (tests, simulator). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
