/**
 * Plain or mutually authenticated TLS sockets, both ways. With TLS, each side
 * presents its certificate and requires the other's to chain to the CA.
 * Host names are not checked: nodes dial whatever address discovery gave
 * them (often a pod IP), so peers are identified by the CA and then by the
 * cookie handshake, which still runs inside TLS.
 *
 * Plain TCP under Bun goes through Bun's own sockets (bun/sockets.ts: node:net
 * there is a JS stream layer over them, a large share of a node's CPU);
 * TLS, and everything under Deno, through node:net and node:tls.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import type { ByteStream, ByteStreamEvents, TcpTlsOptions } from "../mesh/tcp/types.ts";
import { bunDial, bunListen } from "./bun/sockets.ts";

const underBun = (globalThis as { Bun?: unknown }).Bun !== undefined;

export interface Listener {
  /** The port actually bound (differs from the requested one when that was 0). */
  readonly port: number;
  close(): Promise<void>;
}

export interface ListenHandlers {
  /** A connected (and, with TLS, verified) inbound socket. */
  onSocket(stream: ByteStream): void;
  /** A TLS client failed verification before any handshake of ours. */
  onTlsError(err: Error, remote: string): void;
}

export function listen(host: string, port: number, tlsOpts: TcpTlsOptions | undefined, h: ListenHandlers): Promise<Listener> {
  if (underBun && !tlsOpts) {
    try {
      return Promise.resolve(bunListen(host, port, h.onSocket));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return nodeListen(host, port, tlsOpts, h);
}

/**
 * Whether `o` makes a TLS context (PEM that parses, a key that fits its
 * certificate): an error saying what is wrong, else null. Checked before a
 * node starts, so a bad file is a refused setting, not a crash at the first dial.
 */
export function tlsProblem(o: TcpTlsOptions): string | null {
  try {
    tls.createSecureContext({ cert: o.cert, key: o.key, ca: o.ca });
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Start a dial: the stream at once, `onReady` once it may carry data (connected; with TLS, verified). */
export function dial(host: string, port: number, tlsOpts: TcpTlsOptions | undefined): { stream: ByteStream; onReady(fn: () => void): void } {
  return underBun && !tlsOpts ? bunDial(host, port) : nodeDial(host, port, tlsOpts);
}

/** listen() through node:net / node:tls, whatever the runtime (exported for the adapter's tests). */
export function nodeListen(host: string, port: number, tlsOpts: TcpTlsOptions | undefined, h: ListenHandlers): Promise<Listener> {
  const server: net.Server = tlsOpts
    ? tls.createServer(
      { cert: tlsOpts.cert, key: tlsOpts.key, ca: tlsOpts.ca, requestCert: true, rejectUnauthorized: true },
      (socket) => h.onSocket(streamOf(socket, remoteOf(socket))),
    )
    : net.createServer((socket) => h.onSocket(streamOf(socket, remoteOf(socket))));
  if (tlsOpts) {
    server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
      h.onTlsError(err, remoteOf(socket));
      socket.destroy();
    });
  }
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const addr = server.address();
      const bound = typeof addr === "object" && addr !== null ? addr.port : port;
      resolve({
        port: bound,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

/** dial() through node:net / node:tls, whatever the runtime (exported for the adapter's tests). */
export function nodeDial(host: string, port: number, tlsOpts: TcpTlsOptions | undefined): { stream: ByteStream; onReady(fn: () => void): void } {
  if (!tlsOpts) {
    const plain = net.connect({ host, port });
    return { stream: streamOf(plain, `${host}:${port}`), onReady: (fn) => plain.once("connect", fn) };
  }
  const socket = tls.connect({
    host,
    port,
    cert: tlsOpts.cert,
    key: tlsOpts.key,
    ca: tlsOpts.ca,
    rejectUnauthorized: true,
    checkServerIdentity: () => undefined,
  });
  return { stream: streamOf(socket, `${host}:${port}`), onReady: (fn) => socket.once("secureConnect", fn) };
}

const remoteOf = (socket: net.Socket): string => `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;

/** The runtime's socket as a ByteStream: no Nagle delay, keep-alive probes on. */
function streamOf(socket: net.Socket, remote: string): ByteStream {
  socket.setNoDelay(true);
  // Lets the OS notice a peer that vanished without a FIN (power loss, partition).
  socket.setKeepAlive(true, 15_000);
  return {
    remote,
    get destroyed() {
      return socket.destroyed;
    },
    write: (bytes) => socket.write(bytes),
    end: () => void socket.end(),
    destroy: () => void socket.destroy(),
    pause: () => void socket.pause(),
    resume: () => void socket.resume(),
    listen(e: ByteStreamEvents): void {
      socket.on("data", (chunk: Buffer) => e.data(chunk));
      socket.on("end", () => e.end());
      socket.on("error", (err: Error & { code?: string }) => e.error(err.code ?? err.message));
      socket.on("drain", () => e.drain());
      socket.once("close", () => e.close());
    },
  };
}
