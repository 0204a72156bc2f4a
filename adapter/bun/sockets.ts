/**
 * The mesh's plain-TCP sockets under Bun: Bun.listen / Bun.connect (uSockets)
 * as a ByteStream, without node:net's stream layer (under Bun a JS Duplex
 * over the same native socket: every write and read went through Writable
 * and Readable machinery, ~30% of a busy node's CPU).
 *
 * Bun's write is unbuffered: it returns how many bytes the kernel took. What
 * it did not take waits here, in order, and goes out on `drain`; write()
 * answers false while anything waits (node:net answers false past 16 KiB
 * buffered: either way the mesh stops writing until `drain`).
 *
 * Ends behave as node:net's (allowHalfOpen false), which the mesh was built on:
 * - end(): FIN once what waits here is written; reading goes on until the
 *   peer's FIN closes the socket (or destroy()). Bun's own end() would close
 *   the descriptor at once, and a close with unread bytes sends RST, which
 *   can discard what the peer has not read yet (a refusal's reason).
 * - destroy(): what waits here is dropped and the descriptor closed (FIN, or
 *   RST when unread bytes remain, as close(2) does); then `close`, in a
 *   later microtask, never from inside destroy().
 * - a peer's FIN: `end`, then `close` (Bun closes our side too).
 * - failures (refused or reset): `error` with the code (ECONNREFUSED, ...),
 *   then `close`; `close` comes exactly once, whatever happened.
 * A destroy() while still connecting closes the socket as soon as Bun hands
 * it over (Bun.connect cannot be cancelled); `close` is emitted at once. So
 * a dial abandoned at the handshake timeout to a host that drops packets
 * stays in the kernel until its SYNs time out, and one that connects after
 * all is closed unused (the peer sees a connection end before its hello).
 */
import type { Socket, SocketHandler, TCPSocketListener } from "bun";
import type { ByteStream, ByteStreamEvents } from "../../mesh/tcp/types.ts";

/** The per-socket state Bun keeps for us (socket.data). */
type Data = BunStream | null;

/** Keep-alive probes after this much silence: notices a peer that vanished without a FIN. */
const KEEPALIVE_MS = 15_000;

class BunStream implements ByteStream {
  private sock: Socket<Data> | null = null;
  private events: ByteStreamEvents | null = null;
  /** Bytes the kernel has not taken yet, oldest first. */
  private pending: Uint8Array[] = [];
  /** A write answered false: `drain` is owed once `pending` is written. */
  private owesDrain = false;
  /** end() was called: FIN once `pending` is written. */
  private ending = false;
  private gone = false;
  private closeSent = false;

  constructor(readonly remote: string) {}

  get destroyed(): boolean {
    return this.gone;
  }

  listen(events: ByteStreamEvents): void {
    this.events = events;
  }

  write(bytes: Uint8Array): boolean {
    if (this.gone || this.ending) return false;
    if (this.sock === null) {
      // Still connecting: sent on open, as node:net does.
      this.pending.push(bytes);
      return true;
    }
    if (this.pending.length === 0) {
      const n = this.sock.write(bytes);
      if (n === bytes.length) return true;
      // -1: the socket is closing; its close event follows.
      if (n < 0) return false;
      this.pending.push(n === 0 ? bytes : bytes.subarray(n));
    } else {
      this.pending.push(bytes);
    }
    this.owesDrain = true;
    return false;
  }

  end(): void {
    if (this.gone || this.ending) return;
    this.ending = true;
    if (this.sock !== null && this.pending.length === 0) this.sock.shutdown();
  }

  destroy(): void {
    if (this.gone) return;
    this.gone = true;
    this.pending = [];
    // Bun's end() with allowHalfOpen false: shutdown and close(2), no linger (terminate() would always RST).
    this.sock?.end();
    this.sendClose();
  }

  pause(): void {
    this.sock?.pause();
  }

  resume(): void {
    this.sock?.resume();
  }

  // ---- from Bun's handlers ----

  opened(sock: Socket<Data>): void {
    this.sock = sock;
    if (this.gone) {
      sock.end();
      return;
    }
    sock.setNoDelay(true);
    sock.setKeepAlive(true, KEEPALIVE_MS);
    this.writable();
  }

  /** Write what waits; then the FIN or the drain owed. */
  writable(): void {
    const sock = this.sock;
    if (sock === null || this.gone) return;
    while (this.pending.length > 0) {
      const b = this.pending[0]!;
      const n = sock.write(b);
      if (n === b.length) {
        this.pending.shift();
        continue;
      }
      if (n > 0) this.pending[0] = b.subarray(n);
      return;
    }
    if (this.ending) {
      sock.shutdown();
      return;
    }
    if (this.owesDrain) {
      this.owesDrain = false;
      this.events?.drain();
    }
  }

  data(chunk: Uint8Array): void {
    if (!this.gone) this.events?.data(chunk);
  }

  ended(): void {
    if (!this.gone) this.events?.end();
  }

  failed(err: Error): void {
    if (this.gone) return;
    this.events?.error((err as Error & { code?: string }).code ?? err.message);
    this.closed();
  }

  closed(): void {
    this.gone = true;
    this.pending = [];
    this.sendClose();
  }

  private sendClose(): void {
    if (this.closeSent) return;
    this.closeSent = true;
    // Never from inside destroy() (node:net's close is asynchronous too); Bun may close synchronously in sock.end().
    queueMicrotask(() => this.events?.close());
  }
}

function handlers(onOpen?: (sock: Socket<Data>) => void): SocketHandler<Data> {
  const h: SocketHandler<Data, "uint8array"> = {
    // Plain Uint8Arrays, not Buffers: the frame reader wraps a Buffer in one first.
    binaryType: "uint8array",
    open(sock) {
      if (onOpen !== undefined) onOpen(sock);
      else sock.data?.opened(sock);
    },
    data: (sock, chunk) => sock.data?.data(chunk),
    drain: (sock) => sock.data?.writable(),
    end: (sock) => sock.data?.ended(),
    close(sock, err) {
      const s = sock.data;
      if (s === null) return;
      if (err !== undefined) s.failed(err);
      else s.closed();
    },
    // A handler of ours threw: the socket is in an unknown state.
    error(sock, err) {
      const s = sock.data;
      if (s === null) return;
      s.failed(err);
      sock.end();
    },
    connectError(sock, err) {
      sock.data?.failed(err);
    },
  };
  // Bun's listen/connect types know only the default binaryType ("buffer"); data is a Uint8Array either way.
  return h as unknown as SocketHandler<Data>;
}

export interface BunListener {
  readonly port: number;
  close(): Promise<void>;
}

/** Listen on host:port; `onSocket` gets each accepted socket (its events set in the same turn, as the mesh does). */
export function bunListen(host: string, port: number, onSocket: (stream: ByteStream) => void): BunListener {
  let open = 0;
  let stopped: (() => void) | null = null;
  const base = handlers((sock) => {
    open++;
    const s = new BunStream(`${sock.remoteAddress}:${sock.remotePort}`);
    sock.data = s;
    onSocket(s);
    s.opened(sock);
  });
  const listener: TCPSocketListener<Data> = Bun.listen<Data>({
    hostname: host,
    port,
    data: null,
    socket: {
      ...base,
      close(sock, err) {
        base.close!(sock, err);
        // node:net's server.close() settles once its connections are gone, too.
        if (--open === 0 && stopped !== null) stopped();
      },
    },
  });
  return {
    port: listener.port,
    close: () => {
      listener.stop(false);
      if (open === 0) return Promise.resolve();
      return new Promise((resolve) => (stopped = resolve));
    },
  };
}

/** Dial host:port: the stream at once, `onReady` once connected (never, if the dial fails: error then close). */
export function bunDial(host: string, port: number): { stream: ByteStream; onReady(fn: () => void): void } {
  const s = new BunStream(`${host}:${port}`);
  let ready: (() => void) | null = null;
  let connected = false;
  const base = handlers();
  Bun.connect<Data>({
    hostname: host,
    port,
    data: s,
    socket: {
      ...base,
      open(sock) {
        s.opened(sock);
        if (s.destroyed) return;
        connected = true;
        ready?.();
      },
    },
  }).catch(() => {
    // Reported through connectError (error, then close).
  });
  return {
    stream: s,
    onReady: (fn) => {
      if (connected) fn();
      else ready = fn;
    },
  };
}
