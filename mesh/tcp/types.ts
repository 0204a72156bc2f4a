/** The public shape of the TCP transport: its options, its peers, its counters. */
import type { Address, Clock, Logger, Random, Transport } from "../types.ts";
import type { BackoffPolicy } from "./backoff.ts";
import type { LivenessPolicy } from "./liveness.ts";

export interface TcpTlsOptions {
  /** PEM certificate of this node (presented to peers both ways). */
  cert: string;
  /** PEM private key of `cert`. */
  key: string;
  /** PEM CA bundle peers' certificates must chain to (default: system CAs). */
  ca?: string;
}

export interface TcpTransportOptions {
  /** "host:port" to listen on; port 0 picks a free port. */
  bind: string;
  /** Address other nodes dial and see as `from` (default: bind, with the real port). */
  advertise?: string;
  /** Nodes of different clusters refuse each other. Default "roomy". */
  cluster?: string;
  /** Stable node name. */
  name: string;
  /** Identity of this process start (a restarted node has a new one). */
  id: string;
  /** Shared secret; proven by HMAC, never sent. Must not be empty. */
  cookie: string;
  /** Largest frame accepted or sent. Default 4 MiB. */
  maxFrameBytes?: number;
  /** Per-peer bound on bytes queued and not yet written; beyond it send() drops. Default 16 MiB. */
  maxQueueBytes?: number;
  /** Mutual TLS under the handshake (which still runs). */
  tls?: TcpTlsOptions;
  logger?: Logger;
  /** Dial + handshake must finish within this. Default 5000 ms. */
  handshakeTimeoutMs?: number;
  /** Reconnect delays per address. Default 50 ms doubling to 5 s. */
  backoff?: Partial<BackoffPolicy>;
  /** Handshakes allowed in progress at once (a flood beyond is refused). Default 256. */
  maxPendingHandshakes?: number;
  /** When an open connection that carries nothing counts as stalled and is dropped (liveness.ts); null: never. Default LAN_LIVENESS. */
  liveness?: LivenessPolicy | null;
  /**
   * Channels (a message's `ch`, see mux) sent on the control lane, or
   * "channel:type" for one message type of a channel: a second connection
   * per pair, so their messages never wait behind the data lane's backlog
   * (lanes.ts). Default none: everything on the data lane.
   */
  controlChannels?: readonly string[];
  /** False: take no control lane and say nothing of lanes in hellos (an older node, as tests play one). Default true. */
  lanes?: boolean;
  /** Injected for tests; default the real clock. */
  clock?: Clock;
  /** Injected for tests (backoff jitter); default crypto randomness. */
  random?: Random;
}

export interface PeerInfo {
  name: string;
  id: string;
  /** The peer's advertised address (what send() takes and `from` carries). */
  address: Address;
  /** Who dialed the connection that was kept. */
  direction: "in" | "out";
}

export interface PeerChange {
  type: "up" | "down";
  peer: PeerInfo;
}

export interface TcpTransportStats {
  /** Messages handed to sockets / decoded from peers. */
  framesSent: number;
  framesReceived: number;
  /** Bytes of those messages, frame headers included. */
  bytesSent: number;
  bytesReceived: number;
  /** socket.write() calls carrying messages (batching makes this << framesSent). */
  writes: number;
  /** Messages dropped: refused by send() (backoff, full queue, too big) or lost with a connection. */
  drops: number;
  /** Handshakes this node refused or abandoned (bad proof, wrong cluster/version, timeout, garbage). */
  authFailures: number;
  /** Authenticated connections closed for a malformed, oversized or truncated frame. */
  frameErrors: number;
  dials: number;
  dialFailures: number;
  /** Open connections dropped for carrying nothing (liveness.ts): a ping unanswered. */
  stalls: number;
  /** Authenticated, committed connections (one per peer and lane). */
  connectionsOpen: number;
  /** Sockets open, including those still handshaking or closing. */
  socketsOpen: number;
}

export interface TcpTransport extends Transport {
  /** Peers with a committed connection, sorted by address. */
  peers(): PeerInfo[];
  stats(): TcpTransportStats;
  /** Subscribe to connections coming up and going down; returns unsubscribe. */
  onPeerChange(fn: (change: PeerChange) => void): () => void;
  /** Called with an address whose dial was refused outright (nothing listening there). */
  onUnreachable(fn: (address: string) => void): () => void;
  /** Close the connection with `address` (it sent a malformed protocol message); it may dial again. */
  closePeer(address: string, reason: string): void;
  /** Why the last dial of `address` was refused once connected (a bad handshake, another protocol), until a session there opens. */
  refusal(address: string): string | undefined;
}

/** What a connection needs of a connected socket (adapter/sockets.ts wraps the runtime's in it). */
export interface ByteStream {
  /** "host:port" at the other end, for logs. */
  readonly remote: string;
  readonly destroyed: boolean;
  /** Queue `bytes`; false once the runtime's buffer is full (wait for `drain`). */
  write(bytes: Uint8Array): boolean;
  /** Send FIN after what was written. */
  end(): void;
  destroy(): void;
  /** Stop handing over `data` until resume() (the reader is behind); optional: without it, reads go on. */
  pause?(): void;
  resume?(): void;
  /** Every event of the stream, set once, before any can fire (same turn as it is handed over). */
  listen(events: ByteStreamEvents): void;
}

export interface ByteStreamEvents {
  data(chunk: Uint8Array): void;
  end(): void;
  error(code: string): void;
  drain(): void;
  close(): void;
}
