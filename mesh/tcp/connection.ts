/**
 * One socket as a stream of frames: reads chunks into frame bodies with a
 * bounded reader, writes batches of bodies in one socket write, tracks write
 * backpressure, and closes exactly once with a reason.
 *
 * Frames are handled for at most TURN_BUDGET_MS of one event-loop turn: one
 * read can hold thousands of frames (a burst of room creations, a window of
 * replication batches), and handling them all at once stalled the loop for
 * 50-120 ms. The rest of the read waits, in order, for a later turn (the
 * injected defer); meanwhile the socket is paused, so a peer that sends
 * faster than we handle fills its own buffers, as it did when we read
 * nothing until the long turn ended.
 */
import { runtimeDefer } from "../../adapter/defer.ts";
import type { Clock } from "../types.ts";
import type { ByteStream } from "./types.ts";
import { encodeFrames, FrameError, FrameReader } from "../wire/frame.ts";

/**
 * Longest stretch of frame handling in one turn (ms); checked after each frame.
 * 4, with every other turn budget halved too: on the loaded scale cluster (4
 * nodes and a client on 2 cores) a node's longest stall was 79-88 ms against
 * 97-159 ms with 8, at the same walk-ins a second (interleaved A/B, 3 pairs).
 */
export const TURN_BUDGET_MS = 4;

/** Who ended the connection: a bad frame from the peer, the socket, or us. */
export type CloseCause = "frame" | "socket" | "local";

export interface ConnectionHandler {
  /** One complete frame body, `bytes[start..end)` (valid during the call only); may throw FrameError to close the connection. */
  onFrame(bytes: Uint8Array, start: number, end: number): void;
  /** The socket accepted more writes after a full buffer. */
  onDrain(): void;
  /** Called once, synchronously from close() or when the socket ends. */
  onClose(reason: string, cause: CloseCause): void;
}

/** Counters a connection keeps up to date. */
export interface SocketCounters {
  socketsOpen: number;
}

/** How long a gracefully closed socket may linger before it is destroyed. */
export const CLOSE_GRACE_MS = 1000;

export class Connection {
  private readonly reader: FrameReader;
  private handler: ConnectionHandler | null = null;
  private blocked = false;
  private closed = false;
  /** Chunks read but not yet handled (oldest first), and how far into the first. */
  private backlog: Uint8Array[] = [];
  private backlogAt = 0;
  /** A later turn will handle the backlog. */
  private scheduled = false;
  private deadline = 0;
  private readonly overBudget = (): boolean => this.clock.now() >= this.deadline;
  /** Bytes arrived / frames written since the liveness watch last looked (liveness.ts). */
  heard = false;
  wrote = false;
  /** Settles when the socket is fully closed. */
  readonly done: Promise<void>;

  constructor(
    private readonly socket: ByteStream,
    /** Who is at the other end, for logs (socket address or dialed address). */
    readonly remote: string,
    maxFrameBytes: number,
    private readonly clock: Clock,
    private readonly counters: SocketCounters,
    /** Runs a function on a later turn, after pending I/O (the runtime's setImmediate). */
    private readonly defer: (fn: () => void) => void = runtimeDefer,
  ) {
    this.reader = new FrameReader(maxFrameBytes);
    counters.socketsOpen++;
    this.done = new Promise((resolve) => {
      socket.listen({
        data: (chunk) => this.onData(chunk),
        end: () => this.onEnd(),
        error: (code) => {
          // What arrived before the error was sent to us: handle it first, as when it was handled on arrival.
          this.handleAll();
          this.close(`socket error: ${code}`, "socket");
        },
        drain: () => {
          this.blocked = false;
          this.heard = true; // the peer's side took our bytes: it is alive (liveness.ts)
          if (!this.closed) this.handler?.onDrain();
        },
        close: () => {
          counters.socketsOpen--;
          this.handleAll();
          this.close("socket closed", "socket");
          resolve();
        },
      });
    });
  }

  /** Bytes read and not yet handled (waiting for a later turn). */
  get backlogBytes(): number {
    let n = 0;
    for (const c of this.backlog) n += c.length;
    return n - this.backlogAt;
  }

  /** Attach the handler (before any event can fire: same tick as construction). */
  attach(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True while the socket's buffer is full; wait for onDrain. */
  get isBlocked(): boolean {
    return this.blocked;
  }

  setMaxFrameBytes(n: number): void {
    this.reader.maxFrameBytes = n;
  }

  /** Write `bodies` as frames in one socket write. */
  write(bodies: readonly Uint8Array[]): void {
    if (this.closed || bodies.length === 0) return;
    this.wrote = true;
    if (!this.socket.write(encodeFrames(bodies))) this.blocked = true;
  }

  /** Write bytes that are already whole frames (a FrameQueue's); they must not change afterwards. */
  writeFrames(frames: Uint8Array): void {
    if (this.closed || frames.length === 0) return;
    this.wrote = true;
    if (!this.socket.write(frames)) this.blocked = true;
  }

  /**
   * Close once. Graceful: flush what was written, then FIN (the socket is
   * destroyed after a grace period if the peer lingers); otherwise destroy.
   */
  close(reason: string, cause: CloseCause = "local", graceful = false): void {
    if (this.closed) return;
    this.closed = true;
    this.backlog = [];
    this.backlogAt = 0;
    if (graceful && !this.socket.destroyed) {
      this.socket.end();
      this.clock.setTimer(CLOSE_GRACE_MS, () => this.socket.destroy());
    } else {
      this.socket.destroy();
    }
    this.handler?.onClose(reason, cause);
  }

  private readonly onFrame = (bytes: Uint8Array, start: number, end: number): void => {
    if (!this.closed) this.handler?.onFrame(bytes, start, end);
  };

  private onData(chunk: Uint8Array): void {
    if (this.closed) return;
    this.heard = true;
    if (this.backlog.length > 0) {
      // Behind already: after what came before it (a paused socket may still hand over what it had read).
      this.backlog.push(chunk);
      return;
    }
    this.deadline = this.clock.now() + TURN_BUDGET_MS;
    const at = this.feed(chunk, 0, this.overBudget);
    if (at < chunk.length && !this.closed) {
      // Kept past this call: a copy, whatever the runtime does with its read buffer.
      this.backlog.push(chunk.slice(at));
      this.backlogAt = 0;
      this.later();
    }
  }

  /** Frames of `chunk` from `from` until `stop` says so; where it stopped (the chunk's length once all is read, or closed). */
  private feed(chunk: Uint8Array, from: number, stop?: () => boolean): number {
    try {
      return this.reader.pushFrames(chunk, this.onFrame, from, stop);
    } catch (err) {
      if (err instanceof FrameError) this.close(err.message, "frame");
      else this.close(`internal error: ${(err as Error).message}`, "local");
      return chunk.length;
    }
  }

  private later(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.socket.pause?.();
    this.defer(() => {
      this.scheduled = false;
      this.deadline = this.clock.now() + TURN_BUDGET_MS;
      this.drain(this.overBudget);
    });
  }

  /** Handle the backlog, oldest first, until `stop` says so; then resume reading, or come back later. */
  private drain(stop?: () => boolean): void {
    while (this.backlog.length > 0 && !this.closed) {
      const chunk = this.backlog[0]!;
      const at = this.feed(chunk, this.backlogAt, stop);
      if (at < chunk.length) {
        this.backlogAt = at;
        break;
      }
      this.backlog.shift();
      this.backlogAt = 0;
      if (stop?.() === true) break;
    }
    if (this.closed) return;
    if (this.backlog.length > 0) return this.later();
    this.socket.resume?.();
  }

  /** The socket is ending: whatever is still waiting is handled now, in order. */
  private handleAll(): void {
    if (!this.closed && this.backlog.length > 0) this.drain();
  }

  private onEnd(): void {
    if (this.closed) return;
    this.handleAll();
    if (this.closed) return;
    try {
      this.reader.end();
      this.close("peer closed the connection", "socket");
    } catch (err) {
      this.close((err as Error).message, "frame");
    }
  }
}
