/**
 * The registry's wire messages (channel "reg") and the checks that turn an
 * inbound object into one of them. Anything malformed is dropped by the
 * caller: a bad peer must not crash the node.
 */
import { isErrorCode, RoomyError, type ErrorCode } from "../../core/errors.ts";
import type { Address, Message } from "../types.ts";

/**
 * A call ("c") or a cast ("s", no reply) to a process, as one tuple:
 * [id, name, msg, hops, ttl, exp, origin?]. `id` is unique per origin; `hops`
 * counts forwards so far; `ttl` is how many more ms the caller waits (each
 * hop recomputes it); `exp` is when the caller gives up, on the ORIGIN's
 * clock: a copy that sat in a cut TCP connection and arrives after the caller
 * answered `unavailable` is dropped, not run seconds later over newer writes
 * (ttl alone restarts at every arrival). `origin`, the address the reply goes
 * to, is sent only once the call is forwarded. A tuple rather than a map,
 * and one-letter tags: this is the hot path, and decoding map keys costs
 * more than the values.
 */
export interface CallMsg extends Message {
  t: "c" | "s";
  a: CallTuple;
  /** the sender's clock reading as it sent ([w, c, n]: n its process id), for the write barrier */
  k?: [number, number, string];
  /** a forward's origin's member id (the first hop's is its `k`); a field of its own, which nodes before it ignore */
  i?: string;
}

export type CallTuple = [id: number, name: string, msg: unknown, hops: number, ttl: number, exp: number, origin?: Address];

/** The answer to a call: a value, or an error as {code, message}. */
export interface ReplyMsg extends Message {
  t: "r";
  id: number;
  v?: unknown;
  e?: WireError;
}

/**
 * The caller of call `id` (sent by this node, its origin) says its own
 * client left: a node holding the call after a stall refuses it unrun
 * (stalled-calls.ts). A node from before this message drops it as malformed.
 */
export interface CancelMsg extends Message {
  t: "x";
  id: number;
}

/**
 * The node that held call `id` (started by the receiver) sent it on to node
 * `to` as hop `h`: the caller now waits on `to` (calls.ts moved). A node
 * from before this message drops it as malformed.
 */
export interface MovedMsg extends Message {
  t: "mv";
  id: number;
  to: string;
  h: number;
}

/** An error on the wire; `n`: refused before the call could run (RoomyError.noEffect). */
export interface WireError {
  code: ErrorCode;
  message: string;
  n?: true;
}

/**
 * Fence query: "the committed configuration moved to epoch `e` of
 * generation `g`; adopt it (refuse writes stamped older) and tell me how long
 * a lease you granted under an older epoch may still be counted on".
 */
export interface FenceQueryMsg extends Message {
  t: "fq";
  q: number;
  g: number;
  e: number;
  /** adopt the fence now (otherwise only say how long old leases may count) */
  a?: boolean;
}

/** The answer: fence adopted; `w` ms until every vouch this node gave to a node at an older epoch has expired. */
export interface FenceReplyMsg extends Message {
  t: "fr";
  q: number;
  g: number;
  e: number;
  w: number;
  /** the answering node's own epoch: at `e` or later, no old lease of its own matters */
  c?: number;
  /** the latest epoch of this generation the answering node served at (-1: none yet, a restarted node may hold nothing) */
  s?: number;
}

/** "Have you handed off, under epoch `e`, what you ran that I now own?" (asked of a name's previous owner). */
export interface SweptQueryMsg extends Message {
  t: "sq";
  g: number;
  e: number;
}

/** "Yes: under epoch `e` (or later) nothing of yours is left here or in flight to you." */
export interface SweptMsg extends Message {
  t: "sw";
  g: number;
  e: number;
}

/** A handoff: the process `n` with the state its previous owner gave up. */
export interface HandoffMsg extends Message {
  t: "ho";
  hid: string;
  n: string;
  s?: unknown;
  /** no state: the process starts fresh on the new owner */
  f?: boolean;
  /** the sender is draining: place without it */
  dr?: boolean;
}

export interface HandoffAckMsg extends Message {
  t: "hk";
  hid: string;
}

/** Lease ping: `s` is the sender's clock when sent, echoed back. */
export interface LeasePingMsg extends Message {
  t: "lp";
  s: number;
  /** the sender's name */
  n: string;
  /** the sender's member id (its incarnation; absent from a node before it) */
  i?: string;
  /** the sender is draining: the configuration should drop it */
  dr?: boolean;
  /** the sender's generation and committed epoch (a vouch counts only between nodes at the same one) */
  g: number;
  e: number;
  /** the latest epoch of that generation the sender caught up for and served at (the leader waits for a majority) */
  r?: number;
  /** 1: outside the configuration, it pulled its peers' data (presync.ts): it may be made a holder */
  y?: number;
}

export interface LeasePongMsg extends Message {
  t: "lk";
  s: number;
  /** the answering node's name */
  n: string;
  /** the answering node's generation and epoch (its fence, if higher) */
  g: number;
  e: number;
}

export type RegistryMsg =
  | CallMsg
  | MovedMsg
  | ReplyMsg
  | FenceQueryMsg
  | FenceReplyMsg
  | SweptQueryMsg
  | SweptMsg
  | HandoffMsg
  | HandoffAckMsg
  | LeasePingMsg
  | LeasePongMsg
  | CancelMsg;

const isStr = (x: unknown): x is string => typeof x === "string";
const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** The message if it is well formed, else null. */
export function parseMessage(msg: Message): RegistryMsg | null {
  const m = msg as Record<string, unknown>;
  switch (m["t"]) {
    case "c":
    case "s": {
      const a = m["a"];
      if (!Array.isArray(a) || (a.length !== 6 && a.length !== 7)) return null;
      return isNum(a[0]) && isStr(a[1]) && isNum(a[3]) && isNum(a[4]) && isNum(a[5]) && (a.length === 6 || isStr(a[6]))
        ? (msg as CallMsg)
        : null;
    }
    case "r": {
      if (!isNum(m["id"])) return null;
      const e = m["e"];
      if (e !== undefined && (typeof e !== "object" || e === null)) return null;
      return msg as ReplyMsg;
    }
    case "fq":
      return isNum(m["q"]) && isNum(m["g"]) && isNum(m["e"]) && (m["a"] === undefined || typeof m["a"] === "boolean") ? (msg as FenceQueryMsg) : null;
    case "fr":
      return isNum(m["q"]) && isNum(m["g"]) && isNum(m["e"]) && isNum(m["w"]) && (m["c"] === undefined || isNum(m["c"])) && (m["s"] === undefined || isNum(m["s"])) ? (msg as FenceReplyMsg) : null;
    case "sq":
    case "sw":
      return isNum(m["g"]) && isNum(m["e"]) ? (msg as SweptQueryMsg | SweptMsg) : null;
    case "ho":
      return isStr(m["hid"]) && isStr(m["n"]) ? (msg as HandoffMsg) : null;
    case "hk":
      return isStr(m["hid"]) ? (msg as HandoffAckMsg) : null;
    case "lp":
      return isNum(m["s"]) && isStr(m["n"]) && isNum(m["g"]) && isNum(m["e"]) && (m["r"] === undefined || isNum(m["r"])) && (m["y"] === undefined || isNum(m["y"]))
        ? (msg as LeasePingMsg)
        : null;
    case "lk":
      return isNum(m["s"]) && isStr(m["n"]) && isNum(m["g"]) && isNum(m["e"]) ? (msg as LeasePongMsg) : null;
    case "x":
      return isNum(m["id"]) ? (msg as CancelMsg) : null;
    case "mv":
      return isNum(m["id"]) && isStr(m["to"]) && isNum(m["h"]) ? (msg as MovedMsg) : null;
    default:
      return null;
  }
}

/** An error as it crosses the wire. */
export function errorToWire(err: unknown): WireError {
  if (err instanceof RoomyError) return err.noEffect ? { code: err.code, message: err.message, n: true } : { code: err.code, message: err.message };
  return { code: "internal", message: err instanceof Error ? err.message : String(err) };
}

/** The wire form back into a RoomyError (an unknown code becomes `internal`). */
export function errorFromWire(e: { code?: unknown; message?: unknown; n?: unknown }): RoomyError {
  const code: ErrorCode = isErrorCode(e.code) ? e.code : "internal";
  return new RoomyError(code, typeof e.message === "string" ? e.message : "remote error", e.n === true);
}

/** Any thrown value as a RoomyError, so local and remote calls fail alike. */
export function asRoomyError(err: unknown): RoomyError {
  return err instanceof RoomyError ? err : errorFromWire(errorToWire(err));
}

export function unavailable(message: string): RoomyError {
  return new RoomyError("unavailable", message);
}
