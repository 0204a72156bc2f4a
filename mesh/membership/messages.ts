/**
 * The membership protocol's messages. Short field names: they cross the wire
 * as CBOR, many times a second. Inbound messages are validated here; a
 * malformed one is dropped by the caller.
 */
import type { Address, Message } from "../types.ts";
import type { MemberState } from "./types.ts";

/** What an update says about a member. */
export const ALIVE = 0;
export const SUSPECT = 1;
export const DEAD = 2;
export const LEFT = 3;
export type UpdateKind = typeof ALIVE | typeof SUSPECT | typeof DEAD | typeof LEFT;

/**
 * One piece of news about a member, piggybacked on other messages. Every
 * update names the identity it is about (`i`), so it cannot be applied to
 * another process that took the same name.
 */
export interface Update {
  k: UpdateKind;
  /** member name */
  n: string;
  /** member id (process identity) */
  i: string;
  /** member address */
  a: Address;
  /** incarnation */
  c: number;
  /** for suspect/dead: the name of the member that suspects/declares */
  f?: string;
}

/** A member in a push-pull state: [name, id, address, incarnation, kind]. */
export type MemberTuple = [string, string, Address, number, UpdateKind];

/**
 * Ping: "are you (n, i)?" from f (id fi). `c` is the incarnation the sender
 * holds for the target and `x` is 1 if it holds it suspect: a target that
 * sees the sender is behind answers with its current alive record, and one
 * that sees it is suspected refutes, even if gossip about it was lost.
 */
export interface PingMsg extends Message {
  t: "p";
  s: number;
  n: string;
  i: string;
  f: string;
  fi: string;
  c?: number;
  x?: 1;
  b?: Update[];
}

export interface AckMsg extends Message {
  t: "a";
  s: number;
  /** the acking node's clock as it answered a direct ping (clock-offsets.ts); absent from older nodes and on relayed acks */
  w?: number;
  b?: Update[];
}

/**
 * Ask the receiver to ping (n, i) at `a` and forward the ack with seq `s`.
 * `c` and `x` as in PingMsg, passed on to the target.
 */
export interface PingReqMsg extends Message {
  t: "pr";
  s: number;
  n: string;
  i: string;
  a: Address;
  c?: number;
  x?: 1;
  b?: Update[];
}

/** Lifeguard: "I tried, the target did not answer me either." */
export interface NackMsg extends Message {
  t: "nk";
  s: number;
  b?: Update[];
}

/** A message that only carries updates. */
export interface GossipMsg extends Message {
  t: "g";
  b?: Update[];
}

/** Full-state exchange: `r` 0 asks (and pushes), 1 answers. */
export interface PushPullMsg extends Message {
  t: "pp";
  s: number;
  r: 0 | 1;
  /** sender's name */
  f: string;
  m: MemberTuple[];
  b?: Update[];
}

export type MembershipMsg = PingMsg | AckMsg | PingReqMsg | NackMsg | GossipMsg | PushPullMsg;

export function kindOf(state: MemberState): UpdateKind {
  switch (state) {
    case "alive":
      return ALIVE;
    case "suspect":
      return SUSPECT;
    case "dead":
      return DEAD;
    case "left":
      return LEFT;
  }
}

export function stateOf(k: UpdateKind): MemberState {
  return k === ALIVE ? "alive" : k === SUSPECT ? "suspect" : k === DEAD ? "dead" : "left";
}

/** Estimated encoded size of an update (strings dominate; numbers are small). */
export function updateSize(u: Update): number {
  return u.n.length + u.i.length + u.a.length + (u.f?.length ?? 0) + 24;
}

function isStr(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= 512;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function isKind(v: unknown): v is UpdateKind {
  return v === ALIVE || v === SUSPECT || v === DEAD || v === LEFT;
}

/** A well-formed update, or undefined. */
export function parseUpdate(v: unknown): Update | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (!isKind(o.k) || !isStr(o.n) || !isStr(o.i) || !isStr(o.a) || !isCount(o.c)) return undefined;
  if (o.f !== undefined && !isStr(o.f)) return undefined;
  const u: Update = { k: o.k, n: o.n, i: o.i, a: o.a, c: o.c };
  if (o.f !== undefined) u.f = o.f as string;
  return u;
}

/** The well-formed updates a message carries (malformed ones are skipped). */
export function updatesOf(msg: Message): Update[] {
  const b = msg.b;
  if (!Array.isArray(b)) return [];
  const out: Update[] = [];
  for (const v of b) {
    const u = parseUpdate(v);
    if (u) out.push(u);
  }
  return out;
}

export function parseTuple(v: unknown): MemberTuple | undefined {
  if (!Array.isArray(v) || v.length !== 5) return undefined;
  const [n, i, a, c, k] = v as unknown[];
  if (!isStr(n) || !isStr(i) || !isStr(a) || !isCount(c) || !isKind(k)) return undefined;
  return [n, i, a, c, k];
}

/** Checks the fields each message kind needs; false drops the message. */
export function isWellFormed(msg: Message): msg is MembershipMsg {
  switch (msg.t) {
    case "p":
      return isCount(msg.s) && isStr(msg.n) && isStr(msg.i) && isStr(msg.f) && isStr(msg.fi);
    case "a":
    case "nk":
      return isCount(msg.s);
    case "pr":
      return isCount(msg.s) && isStr(msg.n) && isStr(msg.i) && isStr(msg.a);
    case "g":
      return true;
    case "pp":
      return isCount(msg.s) && (msg.r === 0 || msg.r === 1) && isStr(msg.f) && Array.isArray(msg.m);
    default:
      return false;
  }
}
