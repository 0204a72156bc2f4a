/**
 * The mesh handshake, as pure functions (no sockets), so it can be tested on
 * its own. Both sides send a hello; each then proves it holds the cluster
 * cookie with HMAC-SHA256 over a transcript of both hellos (both fresh nonces,
 * both identities) and its own role, so a proof can be neither replayed into
 * another session nor reflected back at its sender. The cookie never crosses
 * the wire.
 *
 *   dialer -> hello      <- hello acceptor
 *   dialer -> proof      <- proof acceptor     (each verifies the other's)
 *   chooser -> commit | refuse("duplicate")    (see transport: one per pair)
 *   other side -> ready                        (then messages both ways)
 */
import { equalInConstantTime, hmacSha256, randomBytes } from "../../adapter/crypto.ts";

/** Bumped when the mesh wire protocol changes incompatibly. */
export const PROTOCOL_VERSION = 1;
export const NONCE_BYTES = 32;
export const MAC_BYTES = 32;
/** Handshake frames are tiny; an unauthenticated peer gets no more than this. */
export const HANDSHAKE_MAX_FRAME_BYTES = 4096;

const DOMAIN = "roomy-mesh-handshake-v1";
const MAX_FIELD = 512;

export type HandshakeRole = "dialer" | "acceptor";

export type RefuseReason =
  | "version" // different protocol version
  | "cluster" // different cluster name
  | "self" // connected to itself
  | "proof" // HMAC did not verify: wrong cookie or tampering
  | "protocol" // unexpected or malformed handshake message
  | "timeout" // handshake not finished in time
  | "duplicate"; // a connection between the two nodes already exists

export interface Hello {
  t: "hello";
  v: number;
  cluster: string;
  name: string;
  /** Per-process-start identity. */
  id: string;
  /** Advertised mesh address ("host:port"). */
  address: string;
  nonce: Uint8Array;
  /** Answers liveness pings (liveness.ts); absent from older nodes' hellos, which are never pinged. */
  pings?: boolean;
  /** Takes a second connection for the control lane (lanes.ts); absent from older nodes' hellos, which are never dialed for one. */
  lanes?: boolean;
  /** The dialer's lane for this connection: absent for the data lane. Covered by the proofs. */
  lane?: Lane;
}

/** The one lane besides the data lane: membership and consensus, clear of bulk traffic (lanes.ts). */
export type Lane = "control";

/** Who a node says it is in its hellos. */
export interface HelloSelf {
  cluster: string;
  name: string;
  id: string;
  address: string;
  /** The lane this side dials for (dialers only). */
  lane?: Lane;
  /** False: say nothing of lanes (an older node, as tests play one). */
  lanes?: boolean;
}

export interface Proof {
  t: "proof";
  mac: Uint8Array;
  /**
   * Epoch of the last committed connection with this peer identity that this
   * side saw close (0 if none); lets the chooser replace a connection it still
   * thinks is open. Not secret, so not covered by the MAC.
   */
  lost: number;
}

/** Sent by the chooser: this connection is the one; data may flow. */
export interface Commit {
  t: "commit";
  epoch: number;
}

export interface Refuse {
  t: "refuse";
  reason: string;
}

export function newNonce(): Uint8Array {
  return randomBytes(NONCE_BYTES);
}

export function makeHello(self: HelloSelf, nonce: Uint8Array = newNonce()): Hello {
  const { cluster, name, id, address } = self;
  const hello: Hello = { t: "hello", v: PROTOCOL_VERSION, cluster, name, id, address, nonce, pings: true };
  if (self.lanes !== false) hello.lanes = true;
  if (self.lane !== undefined) hello.lane = self.lane;
  return hello;
}

/** The peer's hello, or why it must be refused (version is checked first). */
export function parseHello(value: unknown): Hello | { refuse: RefuseReason } {
  const o = asRecord(value);
  if (!o || o["t"] !== "hello") return { refuse: "protocol" };
  if (o["v"] !== PROTOCOL_VERSION) return { refuse: "version" };
  const { cluster, name, id, address, nonce } = o;
  if (
    !isField(cluster) || !isField(name) || !isField(id) || !isField(address) ||
    !(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES
  ) {
    return { refuse: "protocol" };
  }
  const lane = o["lane"];
  if (lane !== undefined && lane !== "control") return { refuse: "protocol" };
  const hello: Hello = { t: "hello", v: PROTOCOL_VERSION, cluster, name, id, address, nonce: Uint8Array.from(nonce), pings: o["pings"] === true };
  if (o["lanes"] === true) hello.lanes = true;
  if (lane !== undefined) hello.lane = lane;
  return hello;
}

/** Why `own` must refuse `peer`, or null if they may go on to the proofs. */
export function checkHello(own: Hello, peer: Hello): RefuseReason | null {
  if (peer.v !== own.v) return "version";
  if (peer.cluster !== own.cluster) return "cluster";
  if (peer.id === own.id) return "self";
  return null;
}

/** The bytes a proof covers; every field length-prefixed so none can bleed into another. */
export function transcript(prover: HandshakeRole, dialer: Hello, acceptor: Hello): Uint8Array {
  const text = new TextEncoder();
  const parts: Uint8Array[] = [text.encode(DOMAIN), text.encode(prover)];
  for (const h of [dialer, acceptor]) {
    parts.push(
      u32(h.v),
      text.encode(h.cluster),
      text.encode(h.name),
      text.encode(h.id),
      text.encode(h.address),
      h.nonce,
    );
    // Only when present, so a hello without one proves as older nodes compute.
    if (h.lane !== undefined) parts.push(text.encode(`lane:${h.lane}`));
  }
  let total = 0;
  for (const p of parts) total += 4 + p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(u32(p.length), at);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

/** The MAC `prover` sends in its proof. */
export function computeProof(cookie: string, prover: HandshakeRole, dialer: Hello, acceptor: Hello): Uint8Array {
  const mac = hmacSha256(cookie, transcript(prover, dialer, acceptor));
  return new Uint8Array(mac.buffer, mac.byteOffset, mac.byteLength);
}

/** Constant-time check of the MAC received from `prover`. */
export function verifyProof(
  cookie: string,
  prover: HandshakeRole,
  dialer: Hello,
  acceptor: Hello,
  mac: Uint8Array,
): boolean {
  if (mac.length !== MAC_BYTES) return false;
  return equalInConstantTime(computeProof(cookie, prover, dialer, acceptor), mac);
}

export function parseProof(value: unknown): Proof | null {
  const o = asRecord(value);
  if (!o || o["t"] !== "proof") return null;
  const { mac, lost } = o;
  if (!(mac instanceof Uint8Array) || mac.length !== MAC_BYTES) return null;
  if (!isCount(lost)) return null;
  return { t: "proof", mac, lost };
}

export function parseCommit(value: unknown): Commit | null {
  const o = asRecord(value);
  if (!o || o["t"] !== "commit" || !isCount(o["epoch"]) || o["epoch"] < 1) return null;
  return { t: "commit", epoch: o["epoch"] };
}

export function parseRefuse(value: unknown): Refuse | null {
  const o = asRecord(value);
  if (!o || o["t"] !== "refuse" || typeof o["reason"] !== "string") return null;
  return { t: "refuse", reason: o["reason"].slice(0, 64) };
}

/**
 * Of two connected nodes, the one with the smaller identity chooses which
 * connection between them is kept; both sides compute the same answer.
 */
export function isChooser(ownId: string, peerId: string): boolean {
  return ownId < peerId;
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
    ? (value as Record<string, unknown>)
    : null;
}

function isField(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= MAX_FIELD;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}
