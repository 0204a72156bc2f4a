/**
 * The mesh's production Transport: authenticated TCP (optionally TLS), one
 * connection per pair of nodes, lazy dials with per-address backoff, bounded
 * per-peer queues flushed in one write per turn of the event loop.
 *
 * One connection per pair: of two nodes, the one with the smaller identity
 * (the chooser) decides. It commits the first of their connections to
 * authenticate and refuses later ones as duplicates, unless the other side
 * reports (in its proof) that it lost the committed one, in which case the new
 * one replaces it; a commit the other side never confirms (ready) times out.
 * Neither side sends data on a connection before the commit, so no message is
 * written to a connection that is then dropped, and the per-address queue
 * simply waits for whichever connection is committed.
 */
import { cryptoRandom } from "../../adapter/random.ts";
import { realClock } from "../../adapter/clock.ts";
import { atEndOfTurn, runtimeDefer } from "../../adapter/defer.ts";
import type { Address, Clock, Logger, Message, Random } from "../types.ts";
import { silentLogger } from "../types.ts";
import { decode, encode } from "../wire/codec.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/frame.ts";
import type { PushResult } from "../wire/frame-queue.ts";
import { formatAddress, isWildcardHost, parseAddress } from "./address.ts";
import { backoffDelay, type BackoffPolicy, DEFAULT_BACKOFF } from "./backoff.ts";
import { CLOSE_GRACE_MS } from "./connection.ts";
import { type Hello, HANDSHAKE_MAX_FRAME_BYTES, isChooser, type Lane } from "./handshake.ts";
import { type Link, PeerTable } from "./peer-table.ts";
import { LAN_LIVENESS, watchLiveness } from "./liveness.ts";
import { Session, type SessionConfig, type SessionEnd, type SessionHooks } from "./session.ts";
import { handshaking, openPeers, peerInfo, reportEnd, tellWatchers, within } from "./session-log.ts";
import { dial, type Listener, listen } from "../../adapter/sockets.ts";
import type { ByteStream, PeerChange, PeerInfo, TcpTransport, TcpTransportOptions, TcpTransportStats } from "./types.ts";

export type { PeerChange, PeerInfo, TcpTlsOptions, TcpTransport, TcpTransportOptions, TcpTransportStats } from "./types.ts";

/** One socket write carries at most about this much (always at least one frame). */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** Queued bytes for a peer beyond which send() writes at once instead of at the end of the turn. */
const EAGER_FLUSH_BYTES = 16 * 1024;

type Counters = Omit<TcpTransportStats, "connectionsOpen">;

/** One lane of the mesh (lanes.ts puts two together): its connections, one per peer, and their queues. */
export class TcpMesh implements TcpTransport, SessionHooks {
  local: Address = "";
  private handler: ((from: Address, msg: Message) => void) | null = null;
  private readonly table = new PeerTable();
  private readonly sessions = new Set<Session>();
  private readonly watchers = new Set<(c: PeerChange) => void>();
  private readonly unreachableWatchers = new Set<(address: string) => void>();
  /** Why a dial that connected was refused (a bad handshake, another protocol), per address until a session there opens. */
  private readonly refusals = new Map<string, string>();
  private readonly counters: Counters = {
    framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, writes: 0, drops: 0,
    authFailures: 0, frameErrors: 0, dials: 0, dialFailures: 0, stalls: 0, socketsOpen: 0,
  };
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly backoff: BackoffPolicy;
  private readonly maxFrameBytes: number;
  private readonly maxQueueBytes: number;
  private readonly maxPending: number;
  private config: SessionConfig | null = null;
  private listener: Listener | null = null;
  private closing: Promise<void> | null = null;
  private stopLiveness = (): void => {};
  /** Out-parameter of Link.take, reused. */
  private readonly frameCount = new Uint32Array(1);
  /** The control lane's mesh, which takes over the accepted connections dialed for it (data lane only). */
  control: TcpMesh | null = null;

  /** `lane`: the lane this mesh dials for (undefined: the data lane, which listens). */
  constructor(private readonly opts: TcpTransportOptions, private readonly lane?: Lane) {
    if (!opts.cookie) throw new Error("mesh: a non-empty cookie is required");
    if (!opts.name || !opts.id) throw new Error("mesh: name and id are required");
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? cryptoRandom();
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.maxFrameBytes = Math.max(HANDSHAKE_MAX_FRAME_BYTES, opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.maxQueueBytes = opts.maxQueueBytes ?? Math.max(16 * 1024 * 1024, 2 * this.maxFrameBytes);
    this.maxPending = opts.maxPendingHandshakes ?? 256;
  }

  async start(): Promise<void> {
    const bind = parseAddress(this.opts.bind);
    this.listener = await listen(bind.host, bind.port, this.opts.tls, {
      onSocket: (socket) => this.accept(socket),
      onTlsError: (err, remote) => {
        this.counters.authFailures++;
        this.log.warn("mesh: refused peer", { peer: remote, reason: `tls: ${err.message}` });
      },
    });
    if (this.opts.advertise) parseAddress(this.opts.advertise);
    else if (isWildcardHost(bind.host)) {
      this.log.warn("mesh: bound to a wildcard address without --advertise; peers cannot dial it", { bind: this.opts.bind });
    }
    this.configure(this.opts.advertise ?? formatAddress(bind.host, this.listener.port));
  }

  /** Ready to dial and to take sessions as `local` (a lane's mesh, without a listener of its own, is only this). */
  configure(local: Address): void {
    this.local = local;
    const self = { cluster: this.opts.cluster ?? "roomy", name: this.opts.name, id: this.opts.id, address: local };
    this.config = {
      cookie: this.opts.cookie,
      self: { ...self, lane: this.lane, lanes: this.opts.lanes !== false },
      maxFrameBytes: this.maxFrameBytes,
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs ?? 5000,
      clock: this.clock,
      counters: this.counters,
    };
    const lv = this.opts.liveness === undefined ? LAN_LIVENESS : this.opts.liveness;
    if (lv !== null) this.stopLiveness = watchLiveness(this.clock, lv, () => this.sessions);
  }

  // ---- Transport ----

  send(to: Address, msg: Message, onLost?: () => void): boolean {
    if (this.closing) return false;
    if (to === this.local) return this.loopback(msg);
    const link = this.table.forSend(to);
    if (!link) return this.drop("mesh: invalid address", { to });
    // Encoded straight into the link's queue of frames (no body of its own, no copy later).
    let queued: PushResult;
    try {
      queued = link.enqueue(msg, this.maxFrameBytes, this.maxQueueBytes, onLost);
    } catch (err) {
      return this.drop("mesh: message cannot be encoded", { to, t: msg.t, error: (err as Error).message });
    }
    if (queued === "oversized") {
      return this.drop("mesh: message over the frame limit", { to, t: msg.t, bytes: link.lastBodyBytes });
    }
    if (queued === "full") {
      this.counters.drops++;
      return false;
    }
    if (link.idle && !this.dial(link)) {
      link.dropLast();
      this.counters.drops++;
      return false;
    }
    if (link.conn) {
      // A big queue gains nothing by waiting for the tick's other messages:
      // write it now, so the peer can start on it while we go on (a burst
      // of writes pipelines instead of leaving all at once at the end).
      if (link.queuedBytes >= EAGER_FLUSH_BYTES) this.flush(link);
      else this.scheduleFlush(link);
    }
    return true;
  }

  onMessage = (handler: (from: Address, msg: Message) => void): void => void (this.handler = handler);

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.stopLiveness();
    this.closing = (async () => {
      for (const link of this.table.all()) this.flush(link);
      const done: Promise<void>[] = [];
      for (const s of [...this.sessions]) {
        done.push(s.conn.done);
        s.close("transport closed");
      }
      if (this.listener) done.push(this.listener.close());
      await within(this.clock, Promise.all(done), CLOSE_GRACE_MS + 500);
      for (const link of this.table.all()) link.clear();
    })();
    return this.closing;
  }

  // ---- TcpTransport ----

  closePeer(address: string, reason: string): void {
    for (const s of [...this.sessions]) if (s.address === address) s.close(reason);
  }

  peers(): PeerInfo[] {
    return openPeers(this.table.all());
  }

  stats(): TcpTransportStats {
    return { ...this.counters, connectionsOpen: openPeers(this.table.all()).length };
  }

  /** Why the last dial of `address` was refused once connected, if it was since the last session there (readyz says it of seeds). */
  refusal = (address: string): string | undefined => this.refusals.get(address);

  /** Called with an address whose dial was refused (nothing listening). */
  onUnreachable(fn: (address: string) => void): () => void {
    this.unreachableWatchers.add(fn);
    return () => this.unreachableWatchers.delete(fn);
  }

  onPeerChange(fn: (change: PeerChange) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /** Whether the peer at `address` said, on this lane's open connection, that it takes a control lane. */
  speaksLanes = (address: Address): boolean => this.table.get(address)?.conn?.peer?.lanes === true;

  /** Whether this lane's dials of `address` are failing (no connection, backing off): lanes.ts then sends on the data lane. */
  failing = (address: Address): boolean => this.table.get(address)?.failing === true;

  // ---- SessionHooks ----

  adopt(s: Session, peer: Hello): SessionHooks | null {
    const lane = peer.lane === undefined ? null : this.control;
    if (lane === null) return null;
    this.sessions.delete(s);
    lane.sessions.add(s);
    return lane;
  }

  lostEpoch(peer: Hello): number {
    const link = this.table.get(peer.address);
    return link && link.peerId === peer.id ? link.lost : 0;
  }

  onAuthenticated(s: Session, peerLost: number): void {
    const peer = s.peer!;
    const link = s.role === "dialer" ? this.table.alias(s.address!, peer.address) : this.table.getOrCreate(peer.address);
    for (const p of link.pending) p.address = link.address;
    s.address = link.address;
    link.pending.add(s);
    if (!isChooser(this.opts.id, peer.id)) return; // the peer decides; wait for its commit
    const cur = link.conn;
    if (cur && cur.peer!.id === peer.id && peerLost < cur.epoch) return s.refuse("duplicate");
    link.identify(peer.id);
    s.commit(link.epoch + 1);
    this.install(link, s);
  }

  onCommit(s: Session, epoch: number): void {
    const link = this.table.getOrCreate(s.address!);
    const cur = link.conn;
    if (cur && cur.peer!.id === s.peer!.id && cur.epoch >= epoch) return s.close("stale commit", false);
    this.install(link, s);
  }

  deliver(s: Session, msg: Message, frameBytes: number): void {
    this.counters.framesReceived++;
    this.counters.bytesReceived += frameBytes;
    try {
      this.handler?.(s.peer!.address, msg);
    } catch (err) {
      this.log.error("mesh: message handler threw", { from: s.peer!.address, t: msg.t, error: (err as Error).message });
    }
  }

  onDrain(s: Session): void {
    const link = s.address ? this.table.get(s.address) : undefined;
    if (link && link.conn === s) this.flush(link);
  }

  onEnd(s: Session, end: SessionEnd): void {
    this.sessions.delete(s);
    const link = s.address ? this.table.get(s.address) : undefined;
    link?.pending.delete(s);
    reportEnd(s, end, this.counters, this.log, this.closing !== null);
    if (!link) return;
    if (link.conn === s) {
      if (end.kind === "stalled") this.counters.stalls++;
      link.conn = null;
      link.lost = s.epoch;
      const dropped = link.clear();
      this.counters.drops += dropped;
      this.log.info("mesh: peer disconnected", { peer: link.address, name: s.peer!.name, reason: end.reason, dropped });
      this.emit({ type: "down", peer: peerInfo(s) });
    } else if (s.role === "dialer" && end.phase !== "open" && end.kind !== "local") {
      // A duplicate is no failure while the kept connection is on its way; with
      // nothing else pending, the chooser holds one we never saw: retry, paced.
      const duplicate = end.refuse === "duplicate";
      if (!duplicate) this.counters.dialFailures++;
      if (!duplicate && end.phase !== "connecting") this.refusals.set(link.address, end.reason);
      // Nothing listens there: the process is gone, not merely slow. Tell
      // membership so it can suspect at once (memberlist cannot know this over UDP).
      if (end.phase === "connecting" && end.reason.includes("ECONNREFUSED")) {
        for (const fn of this.unreachableWatchers) fn(link.address);
      }
      if (!duplicate || link.idle) {
        link.failures++;
        link.retryAt = this.clock.now() + backoffDelay(link.failures, this.random, this.backoff);
      }
    }
    this.settle(link);
  }

  // ---- internals ----

  private accept(socket: ByteStream): void {
    if (this.closing || !this.config) {
      socket.destroy();
      return;
    }
    const remote = socket.remote;
    // The control lane's count too: they were accepted here (adopt).
    if (handshaking(this.sessions, this.control?.sessions ?? []) >= this.maxPending) {
      this.log.warn("mesh: refused peer", { peer: remote, reason: "busy: too many handshakes in progress" });
      socket.destroy();
      return;
    }
    const s = new Session(socket, "acceptor", remote, this.config, this);
    this.sessions.add(s);
    s.start();
  }

  private dial(link: Link): boolean {
    if (this.clock.now() < link.retryAt || !this.config) return false; // backing off
    const { host, port } = parseAddress(link.address);
    this.counters.dials++;
    const { stream, onReady } = dial(host, port, this.opts.tls);
    const s = new Session(stream, "dialer", link.address, this.config, this);
    s.address = link.address;
    this.sessions.add(s);
    link.pending.add(s);
    onReady(() => s.start());
    return true;
  }

  /** Make `s` the link's connection, replacing any other, and start sending. */
  private install(link: Link, s: Session): void {
    const peer = s.peer!;
    link.pending.delete(s);
    link.identify(peer.id);
    link.epoch = Math.max(link.epoch, s.epoch);
    link.failures = 0;
    link.retryAt = 0;
    this.refusals.delete(link.address);
    const old = link.conn;
    link.conn = s;
    if (old) {
      const why = old.peer!.id === peer.id ? "superseded by a newer connection" : `peer ${peer.name} restarted`;
      this.emit({ type: "down", peer: peerInfo(old) });
      old.close(why, false);
    }
    this.log.info("mesh: peer connected", { peer: link.address, name: peer.name, id: peer.id, direction: s.role });
    this.emit({ type: "up", peer: peerInfo(s) });
    this.flush(link);
  }

  /** A link with queued messages and no way to send them: dial again, or drop them. */
  private settle(link: Link): void {
    if (!link.idle || link.queuedFrames === 0) return;
    if (this.closing || !this.dial(link)) this.counters.drops += link.clear();
  }

  /**
   * Write after the current burst of I/O callbacks (setImmediate), not after
   * each callback (a microtask): what every callback of the turn sent to a
   * peer (calls, replies, deltas, acks) leaves in one socket write.
   */
  private scheduleFlush(link: Link): void {
    if (link.flushScheduled) return;
    link.flushScheduled = true;
    runtimeDefer(() => {
      link.flushScheduled = false;
      this.flush(link);
    });
  }

  /** Write the link's queue in as few socket writes as possible, until the socket is full. */
  private flush(link: Link): void {
    const s = link.conn;
    if (!s || !s.isOpen) return;
    const count = this.frameCount;
    while (link.queuedFrames > 0 && !s.conn.isBlocked && !s.conn.isClosed) {
      const bytes = link.take(WRITE_BATCH_BYTES, count);
      s.conn.writeFrames(bytes);
      this.counters.writes++;
      this.counters.framesSent += count[0]!;
      this.counters.bytesSent += bytes.length;
    }
  }

  /** To itself: a copy through the codec (same isolation as over the wire), at the end of the turn. */
  private loopback(msg: Message): boolean {
    let copy: Message;
    try {
      copy = decode(encode(msg)) as Message;
    } catch (err) {
      return this.drop("mesh: message cannot be encoded", { to: this.local, t: msg.t, error: (err as Error).message });
    }
    atEndOfTurn(() => !this.closing && this.handler?.(this.local, copy));
    return true;
  }

  private drop(msg: string, fields: Record<string, unknown>): false {
    this.counters.drops++;
    this.log.warn(msg, fields);
    return false;
  }

  private emit(change: PeerChange): void {
    tellWatchers(this.watchers, change, this.log);
  }
}
