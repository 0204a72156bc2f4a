/**
 * Plain or mutually authenticated TLS sockets, both ways. With TLS, each side
 * presents its certificate and requires the other's to chain to the CA.
 * Host names are not checked: nodes dial whatever address discovery gave
 * them (often a pod IP), so peers are identified by the CA and then by the
 * cookie handshake, which still runs inside TLS.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import type { TcpTlsOptions } from "../mesh/tcp/types.ts";

export interface Listener {
  /** The port actually bound (differs from the requested one when that was 0). */
  readonly port: number;
  close(): Promise<void>;
}

export interface ListenHandlers {
  /** A connected (and, with TLS, verified) inbound socket. */
  onSocket(socket: net.Socket): void;
  /** A TLS client failed verification before any handshake of ours. */
  onTlsError(err: Error, remote: string): void;
}

export function listen(host: string, port: number, tlsOpts: TcpTlsOptions | undefined, h: ListenHandlers): Promise<Listener> {
  const server: net.Server = tlsOpts
    ? tls.createServer(
      { cert: tlsOpts.cert, key: tlsOpts.key, ca: tlsOpts.ca, requestCert: true, rejectUnauthorized: true },
      (socket) => h.onSocket(socket),
    )
    : net.createServer((socket) => h.onSocket(socket));
  if (tlsOpts) {
    server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
      h.onTlsError(err, `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`);
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

/** Start a dial; `ready` names the event after which the socket may carry data. */
export function dial(host: string, port: number, tlsOpts: TcpTlsOptions | undefined): { socket: net.Socket; ready: string } {
  if (!tlsOpts) return { socket: net.connect({ host, port }), ready: "connect" };
  const socket = tls.connect({
    host,
    port,
    cert: tlsOpts.cert,
    key: tlsOpts.key,
    ca: tlsOpts.ca,
    rejectUnauthorized: true,
    checkServerIdentity: () => undefined,
  });
  return { socket, ready: "secureConnect" };
}
