/**
 * The registry's wire messages (channel "reg") and the checks that turn an
 * inbound object into one of them. Anything malformed is dropped by the
 * caller: a bad peer must not crash the node.
 */
import { isErrorCode, RoomyError, type ErrorCode } from "../../core/errors.ts";
import type { Address, Message } from "../types.ts";

/**
 * A call ("c") or a cast ("s", no reply) to a process, as one tuple:
 * [id, name, msg, hops, ttl, origin?]. `id` is unique per origin; `hops` counts
 * forwards so far; `ttl` is how many more ms the caller waits (each hop
 * recomputes it); `origin`, the address the reply goes to, is sent only once
 * the call is forwarded (on the first hop the sender is the origin). A tuple
 * rather than a map, and one-letter tags: this is the hot path, and decoding
 * map keys costs more than the values.
 */
export interface CallMsg extends Message {
  t: "c" | "s";
  a: CallTuple;
}

export type CallTuple = [id: number, name: string, msg: unknown, hops: number, ttl: number, origin?: Address];

/** The answer to a call: a value, or an error as {code, message}. */
export interface ReplyMsg extends Message {
  t: "r";
  id: number;
  v?: unknown;
  e?: { code: ErrorCode; message: string };
}

/** "Is any of these names running or starting with you?" */
export interface QueryMsg extends Message {
  t: "aq";
  q: number;
  n: string[];
}

/** Per name of the query, in order: see ACT_*. `v`: the nodes the answerer vouched for lately (lease.ts). */
export interface QueryReplyMsg extends Message {
  t: "ar";
  q: number;
  r: number[];
  v: string[];
}

/** Not here: the asker may start it. */
export const ACT_FREE = 0;
/** Running or starting here, and this node owns it in its view: ask again later. */
export const ACT_MINE = 1;
/** Being handed off from here right now: wait for the handoff. */
export const ACT_MOVING = 2;
/** Not here, but in this node's view the asker does not own it: views differ, ask again later. */
export const ACT_NOT_YOURS = 3;

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
  /** the sender is draining: place without it */
  dr?: boolean;
}

export interface LeasePongMsg extends Message {
  t: "lk";
  s: number;
  /** the answering node's name */
  n: string;
}

export type RegistryMsg =
  | CallMsg
  | ReplyMsg
  | QueryMsg
  | QueryReplyMsg
  | HandoffMsg
  | HandoffAckMsg
  | LeasePingMsg
  | LeasePongMsg;

const isStr = (x: unknown): x is string => typeof x === "string";
const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** The message if it is well formed, else null. */
export function parseMessage(msg: Message): RegistryMsg | null {
  const m = msg as Record<string, unknown>;
  switch (m["t"]) {
    case "c":
    case "s": {
      const a = m["a"];
      if (!Array.isArray(a) || (a.length !== 5 && a.length !== 6)) return null;
      return isNum(a[0]) && isStr(a[1]) && isNum(a[3]) && isNum(a[4]) && (a.length === 5 || isStr(a[5]))
        ? (msg as CallMsg)
        : null;
    }
    case "r": {
      if (!isNum(m["id"])) return null;
      const e = m["e"];
      if (e !== undefined && (typeof e !== "object" || e === null)) return null;
      return msg as ReplyMsg;
    }
    case "aq":
      return isNum(m["q"]) && Array.isArray(m["n"]) && (m["n"] as unknown[]).every(isStr) ? (msg as QueryMsg) : null;
    case "ar":
      return isNum(m["q"]) &&
        Array.isArray(m["r"]) &&
        (m["r"] as unknown[]).every(isNum) &&
        Array.isArray(m["v"]) &&
        (m["v"] as unknown[]).every(isStr)
        ? (msg as QueryReplyMsg)
        : null;
    case "ho":
      return isStr(m["hid"]) && isStr(m["n"]) ? (msg as HandoffMsg) : null;
    case "hk":
      return isStr(m["hid"]) ? (msg as HandoffAckMsg) : null;
    case "lp":
      return isNum(m["s"]) && isStr(m["n"]) ? (msg as LeasePingMsg) : null;
    case "lk":
      return isNum(m["s"]) && isStr(m["n"]) ? (msg as LeasePongMsg) : null;
    default:
      return null;
  }
}

/** An error as it crosses the wire. */
export function errorToWire(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof RoomyError) return { code: err.code, message: err.message };
  return { code: "internal", message: err instanceof Error ? err.message : String(err) };
}

/** The wire form back into a RoomyError (an unknown code becomes `internal`). */
export function errorFromWire(e: { code?: unknown; message?: unknown }): RoomyError {
  const code: ErrorCode = isErrorCode(e.code) ? e.code : "internal";
  return new RoomyError(code, typeof e.message === "string" ? e.message : "remote error");
}

/** Any thrown value as a RoomyError, so local and remote calls fail alike. */
export function asRoomyError(err: unknown): RoomyError {
  return err instanceof RoomyError ? err : errorFromWire(errorToWire(err));
}

export function unavailable(message: string): RoomyError {
  return new RoomyError("unavailable", message);
}
