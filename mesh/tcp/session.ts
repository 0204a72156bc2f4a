/**
 * The handshake state machine of one connection (see handshake.ts for the
 * messages): hello, proof, commit from the chooser answered by ready, then
 * messages.
 * Decisions that involve other connections (which one to keep) are the
 * transport's, reached through the hooks.
 */
import type { Clock, Message, Timer } from "../types.ts";
import type { ByteStream } from "./types.ts";
import { encode } from "../wire/codec.ts";
import { decodeBody, FrameError, FRAME_HEADER_BYTES, isMessage } from "../wire/frame.ts";
import { type CloseCause, Connection, type SocketCounters } from "./connection.ts";
import { Liveness, PING_TYPE, PONG_TYPE, type Traffic, type Watched } from "./liveness.ts";
import {
  checkHello,
  computeProof,
  HANDSHAKE_MAX_FRAME_BYTES,
  type Hello,
  type HelloSelf,
  makeHello,
  parseCommit,
  parseHello,
  parseProof,
  parseRefuse,
  type RefuseReason,
  type HandshakeRole,
  verifyProof,
} from "./handshake.ts";

export type SessionPhase = "connecting" | "hello" | "proof" | "await-commit" | "open" | "closed";

/**
 * How a session ended: we refused the peer, the peer refused us, it sent a
 * bad frame, the socket failed or ended, the handshake timed out, or we
 * closed it (shutdown, superseded).
 */
export type EndKind = "refused" | "peer-refused" | "frame" | "socket" | "timeout" | "stalled" | "local";

export interface SessionEnd {
  kind: EndKind;
  reason: string;
  /** The phase the session was in when it ended. */
  phase: SessionPhase;
  /** The refusal's reason code, whichever side refused. */
  refuse?: string;
}

export interface SessionHooks {
  /** Epoch of the last committed connection with this peer that closed here (0: none). */
  lostEpoch(peer: Hello): number;
  /** Both proofs verified; the transport must commit(), refuse() or wait for the chooser. */
  onAuthenticated(s: Session, peerLost: number): void;
  /** The chooser committed this connection. */
  onCommit(s: Session, epoch: number): void;
  deliver(s: Session, msg: Message, frameBytes: number): void;
  onDrain(s: Session): void;
  onEnd(s: Session, end: SessionEnd): void;
  /** An accepted connection's hello came: the hooks of the lane it dialed for, which take the session over, or null to keep it. */
  adopt?(s: Session, peer: Hello): SessionHooks | null;
}

export interface SessionConfig {
  cookie: string;
  self: HelloSelf;
  maxFrameBytes: number;
  handshakeTimeoutMs: number;
  clock: Clock;
  counters: SocketCounters;
}

const PING = encode({ t: PING_TYPE });
const PONG = encode({ t: PONG_TYPE });

export class Session implements Watched {
  phase: SessionPhase = "connecting";
  /** The peer's hello, once received. */
  peer: Hello | null = null;
  /** Epoch of the commit, once open. */
  epoch = 0;
  /** Key of the link (peer address) this session belongs to; set by the transport. */
  address: string | null = null;
  readonly conn: Connection;
  private readonly own: Hello;
  private timer: Timer | null;
  /** Chooser only: the peer has answered our commit with ready. */
  private confirmed = false;
  private ending: Omit<SessionEnd, "phase"> | null = null;
  readonly liveness: Liveness;

  constructor(
    socket: ByteStream,
    readonly role: HandshakeRole,
    remote: string,
    private readonly config: SessionConfig,
    private hooks: SessionHooks,
  ) {
    this.own = makeHello(config.self);
    this.conn = new Connection(socket, remote, HANDSHAKE_MAX_FRAME_BYTES, config.clock, config.counters);
    this.conn.attach({
      onFrame: (bytes, start, end) => this.onFrame(bytes, start, end),
      onDrain: () => this.hooks.onDrain(this),
      onClose: (reason, cause) => this.onClose(reason, cause),
    });
    this.timer = config.clock.setTimer(config.handshakeTimeoutMs, () => this.onTimeout());
    this.liveness = new Liveness(config.clock.now());
  }

  // ---- Watched (liveness.ts) ----

  get watchable(): boolean {
    return this.phase === "open" && this.confirmed && this.peer?.pings === true;
  }

  traffic(): Traffic {
    const c = this.conn;
    const t = { heard: c.heard, behind: c.backlogBytes > 0, wrote: c.wrote };
    c.heard = false;
    c.wrote = false;
    return t;
  }

  ping(): void {
    this.say(PING);
  }

  alive(): void {
    this.say(PONG);
  }

  /** A liveness frame: not a write of ours, or the two sides would ping each other for ever. */
  private say(frame: Uint8Array): void {
    const c = this.conn;
    const wrote = c.wrote;
    c.write([frame]);
    c.wrote = wrote;
  }

  stalled(reason: string): void {
    this.finish({ kind: "stalled", reason }, false);
  }

  /** The socket is connected: say hello. */
  start(): void {
    if (this.phase !== "connecting") return;
    this.phase = "hello";
    this.conn.write([encode(this.own)]);
  }

  get isOpen(): boolean {
    return this.phase === "open";
  }

  /**
   * Chooser: this connection is kept; tell the peer, then data may flow. The
   * handshake timer keeps running until the peer's ready: a commit the peer
   * never saw (its side died, ours is half-open) must not block its redials.
   */
  commit(epoch: number): void {
    this.conn.write([encode({ t: "commit", epoch })]);
    this.open(epoch, false);
  }

  /** Refuse the peer with a reason it will log, then close. */
  refuse(reason: RefuseReason, detail = ""): void {
    if (this.phase === "closed") return;
    this.conn.write([encode({ t: "refuse", reason })]);
    this.finish({ kind: "refused", reason: detail ? `${reason}: ${detail}` : reason, refuse: reason }, true);
  }

  /** Close for a local reason (shutdown, superseded); graceful flushes what was written. */
  close(reason: string, graceful = true): void {
    this.finish({ kind: "local", reason }, graceful);
  }

  private open(epoch: number, confirmed: boolean): void {
    this.epoch = epoch;
    this.phase = "open";
    this.confirmed = confirmed;
    if (confirmed) this.cancelTimer();
    this.conn.setMaxFrameBytes(this.config.maxFrameBytes);
  }

  private onFrame(bytes: Uint8Array, start: number, end: number): void {
    const value = decodeBody(bytes, start, end);
    if (this.phase === "open") {
      if (!isMessage(value)) throw new FrameError("malformed", "not a message (map with a string `t`)");
      if (!this.confirmed) {
        if (value.t !== "ready") throw new FrameError("malformed", "expected ready");
        this.confirmed = true;
        this.cancelTimer();
        return;
      }
      const t = value.t;
      if ((t === PING_TYPE || t === PONG_TYPE) && value["ch"] === undefined) {
        if (t === PING_TYPE) this.say(PONG);
        return;
      }
      this.hooks.deliver(this, value, end - start + FRAME_HEADER_BYTES);
      return;
    }
    const refused = parseRefuse(value);
    if (refused) {
      this.finish({ kind: "peer-refused", reason: `refused by peer: ${refused.reason}`, refuse: refused.reason }, false);
      return;
    }
    switch (this.phase) {
      case "hello":
        return this.onHello(value);
      case "proof":
        return this.onProof(value);
      case "await-commit": {
        const commit = parseCommit(value);
        if (!commit) return this.refuse("protocol", "expected commit");
        // ready goes out before any data the transport flushes in onCommit.
        this.conn.write([encode({ t: "ready" })]);
        this.open(commit.epoch, true);
        this.hooks.onCommit(this, commit.epoch);
        return;
      }
    }
  }

  private onHello(value: unknown): void {
    const hello = parseHello(value);
    if ("refuse" in hello) return this.refuse(hello.refuse, "bad hello");
    const why = checkHello(this.own, hello);
    if (why) return this.refuse(why, `peer ${hello.name}@${hello.address} cluster "${hello.cluster}"`);
    this.peer = hello;
    if (this.role === "acceptor") this.hooks = this.hooks.adopt?.(this, hello) ?? this.hooks;
    const [dialer, acceptor] = this.role === "dialer" ? [this.own, hello] : [hello, this.own];
    const mac = computeProof(this.config.cookie, this.role, dialer, acceptor);
    this.conn.write([encode({ t: "proof", mac, lost: this.hooks.lostEpoch(hello) })]);
    this.phase = "proof";
  }

  private onProof(value: unknown): void {
    const proof = parseProof(value);
    if (!proof) return this.refuse("protocol", "expected proof");
    const peer = this.peer!;
    const [dialer, acceptor] = this.role === "dialer" ? [this.own, peer] : [peer, this.own];
    const peerRole = this.role === "dialer" ? "acceptor" : "dialer";
    if (!verifyProof(this.config.cookie, peerRole, dialer, acceptor, proof.mac)) {
      return this.refuse("proof", `peer ${peer.name}@${peer.address} does not hold the cookie this node holds (their cookies differ: --cookie, --cookie-file, ROOMY_COOKIE or ROOMY_COOKIE_FILE)`);
    }
    this.phase = "await-commit";
    this.hooks.onAuthenticated(this, proof.lost);
  }

  private onTimeout(): void {
    this.timer = null;
    if (this.phase === "connecting") this.finish({ kind: "timeout", reason: "connect timeout" }, false);
    else if (this.phase === "open") this.finish({ kind: "timeout", reason: "commit not confirmed by the peer" }, false);
    else if (this.phase !== "closed") this.refuse("timeout", `in phase ${this.phase}`);
  }

  private finish(end: Omit<SessionEnd, "phase">, graceful: boolean): void {
    if (this.phase === "closed" || this.ending) return;
    this.ending = end;
    this.conn.close(end.reason, "local", graceful);
  }

  private onClose(reason: string, cause: CloseCause): void {
    const phase = this.phase;
    this.phase = "closed";
    this.cancelTimer();
    const fallback: Omit<SessionEnd, "phase"> = { kind: cause === "frame" ? "frame" : "socket", reason };
    const end = this.ending ?? fallback;
    this.hooks.onEnd(this, { ...end, phase });
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}
