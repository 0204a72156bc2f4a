/**
 * One socket as a stream of frames: reads chunks into frame bodies with a
 * bounded reader, writes batches of bodies in one socket write, tracks write
 * backpressure, and closes exactly once with a reason.
 */
import type { Clock } from "../types.ts";
import type { ByteStream } from "./types.ts";
import { encodeFrames, FrameError, FrameReader } from "../wire/frame.ts";

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
  /** Settles when the socket is fully closed. */
  readonly done: Promise<void>;

  constructor(
    private readonly socket: ByteStream,
    /** Who is at the other end, for logs (socket address or dialed address). */
    readonly remote: string,
    maxFrameBytes: number,
    private readonly clock: Clock,
    private readonly counters: SocketCounters,
  ) {
    this.reader = new FrameReader(maxFrameBytes);
    counters.socketsOpen++;
    this.done = new Promise((resolve) => {
      socket.listen({
        data: (chunk) => this.onData(chunk),
        end: () => this.onEnd(),
        error: (code) => this.close(`socket error: ${code}`, "socket"),
        drain: () => {
          this.blocked = false;
          if (!this.closed) this.handler?.onDrain();
        },
        close: () => {
          counters.socketsOpen--;
          this.close("socket closed", "socket");
          resolve();
        },
      });
    });
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
    if (!this.socket.write(encodeFrames(bodies))) this.blocked = true;
  }

  /** Write bytes that are already whole frames (a FrameQueue's); they must not change afterwards. */
  writeFrames(frames: Uint8Array): void {
    if (this.closed || frames.length === 0) return;
    if (!this.socket.write(frames)) this.blocked = true;
  }

  /**
   * Close once. Graceful: flush what was written, then FIN (the socket is
   * destroyed after a grace period if the peer lingers); otherwise destroy.
   */
  close(reason: string, cause: CloseCause = "local", graceful = false): void {
    if (this.closed) return;
    this.closed = true;
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
    try {
      this.reader.pushFrames(chunk, this.onFrame);
    } catch (err) {
      if (err instanceof FrameError) this.close(err.message, "frame");
      else this.close(`internal error: ${(err as Error).message}`, "local");
    }
  }

  private onEnd(): void {
    if (this.closed) return;
    try {
      this.reader.end();
      this.close("peer closed the connection", "socket");
    } catch (err) {
      this.close((err as Error).message, "frame");
    }
  }
}
