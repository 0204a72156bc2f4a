/**
 * The replication channel's messages, and their validation. Every message
 * carries its sender's name `n` and process identity `i`.
 *
 *   d   {s, d, e}       writes: seq ranges + the joined delta of those writes,
 *                       stamped with the writer's epoch e when they were made
 *                       (absent: 0, an older peer)
 *   a   {s}             ack of the seqs of a `d`
 *   fx  {s, e}          the `d` of seqs s was refused, not merged: my fence e
 *                       is above its stamp
 *   dg  {r, h, z, u}    anti-entropy round r: my digest; answer in chunks of z
 *                       (u: urgent, do not decline)
 *   eq  {r}             round r: our digests are equal
 *   bz  {r}             round r declined: busy sending you writes
 *   ae  {r, b, c, of, d, hz} round r: my entries of differing buckets b, chunk c
 *                       of `of`; hz: my collection horizon [w, c, n] or null
 *   ap  {r, c, of, d}   round r: the initiator's entries the responder lacked
 *
 * Deltas (`d`) travel as the bytes of core's encodeDelta: encoded once for
 * every peer, and decoded by core's compact reader rather than as generic
 * CBOR objects (several times faster at 10,000 entries). A `d` that is the
 * plain array of deltaToWire is accepted too.
 *
 * A message is checked whole before anything of it is used: a malformed one
 * is refused entirely, never half-merged.
 */
import { RoomyError } from "../../core/errors.ts";
import { decodeDelta, deltaFromWire, encodeDelta } from "../../core/lww-codec.ts";
import type { Timestamp } from "../../core/hlc.ts";
import type { Delta, Digest } from "../../core/lww-map.ts";
import type { Message } from "../types.ts";
import { isRanges } from "./seq-ranges.ts";

export interface Sender {
  /** member name */
  n: string;
  /** member identity (per process start) */
  i: string;
}

export type Inbound =
  | (Sender & { t: "d"; s: number[]; delta: Delta; e: number })
  | (Sender & { t: "a"; s: number[] })
  | (Sender & { t: "fx"; s: number[]; e: number })
  | (Sender & { t: "dg"; r: number; digest: Digest; z: number; u: boolean })
  | (Sender & { t: "eq"; r: number })
  | (Sender & { t: "bz"; r: number })
  | (Sender & { t: "ae"; r: number; b: number[]; c: number; of: number; delta: Delta; hz: Timestamp | null })
  | (Sender & { t: "ap"; r: number; c: number; of: number; delta: Delta });

export function dataMsg(from: Sender, s: number[], delta: Delta, epoch: number): Message {
  return { t: "d", n: from.n, i: from.i, s, d: encodeDelta(delta), e: epoch };
}

export function fencedMsg(from: Sender, s: number[], fence: number): Message {
  return { t: "fx", n: from.n, i: from.i, s, e: fence };
}

export function ackMsg(from: Sender, s: number[]): Message {
  return { t: "a", n: from.n, i: from.i, s };
}

export function digestMsg(from: Sender, r: number, digest: Digest, chunk: number, urgent: boolean): Message {
  return { t: "dg", n: from.n, i: from.i, r, h: digestToBytes(digest), z: chunk, u: urgent };
}

export function busyMsg(from: Sender, r: number): Message {
  return { t: "bz", n: from.n, i: from.i, r };
}

export function eqMsg(from: Sender, r: number): Message {
  return { t: "eq", n: from.n, i: from.i, r };
}

export function aeMsg(from: Sender, r: number, b: number[], c: number, of: number, delta: Delta, horizon: Timestamp | null): Message {
  return { t: "ae", n: from.n, i: from.i, r, b, c, of, d: encodeDelta(delta), hz: horizon === null ? null : [horizon.w, horizon.c, horizon.n] };
}

export function pushMsg(from: Sender, r: number, c: number, of: number, delta: Delta): Message {
  return { t: "ap", n: from.n, i: from.i, r, c, of, d: encodeDelta(delta) };
}

/** Validate `msg` whole; throws RoomyError("bad_request") if anything is off. */
export function parseMessage(msg: Message, buckets: number): Inbound {
  const n = msg["n"];
  const i = msg["i"];
  if (typeof n !== "string" || n.length === 0 || n.length > 1024) bad("sender name missing");
  if (typeof i !== "string" || i.length === 0 || i.length > 1024) bad("sender id missing");
  switch (msg.t) {
    case "d":
      return { t: "d", n, i, s: ranges(msg["s"]), delta: deltaOf(msg["d"]), e: msg["e"] === undefined ? 0 : epoch(msg["e"]) };
    case "a":
      return { t: "a", n, i, s: ranges(msg["s"]) };
    case "fx":
      return { t: "fx", n, i, s: ranges(msg["s"]), e: epoch(msg["e"]) };
    case "dg":
      return { t: "dg", n, i, r: round(msg["r"]), digest: digestFromBytes(msg["h"], buckets), z: count(msg["z"], "z"), u: msg["u"] === true };
    case "eq":
      return { t: "eq", n, i, r: round(msg["r"]) };
    case "bz":
      return { t: "bz", n, i, r: round(msg["r"]) };
    case "ae": {
      const { c, of } = chunkOf(msg);
      return {
        t: "ae", n, i, r: round(msg["r"]), b: bucketList(msg["b"], buckets), c, of, delta: deltaOf(msg["d"]), hz: horizonOf(msg["hz"]),
      };
    }
    case "ap": {
      const { c, of } = chunkOf(msg);
      return { t: "ap", n, i, r: round(msg["r"]), c, of, delta: deltaOf(msg["d"]) };
    }
    default:
      bad(`unknown message type ${JSON.stringify(String(msg.t)).slice(0, 40)}`);
  }
}

/** Digest words as little-endian bytes (the same on every platform). */
export function digestToBytes(d: Digest): Uint8Array {
  const out = new Uint8Array(d.h.length * 4);
  const view = new DataView(out.buffer);
  for (let k = 0; k < d.h.length; k++) view.setUint32(4 * k, d.h[k]!, true);
  return out;
}

export function digestFromBytes(v: unknown, buckets: number): Digest {
  if (!(v instanceof Uint8Array)) bad("digest is not a byte string");
  if (v.length !== buckets * 8) bad(`digest has ${v.length} bytes, expected ${buckets * 8}`);
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const h = new Uint32Array(buckets * 2);
  for (let k = 0; k < h.length; k++) h[k] = view.getUint32(4 * k, true);
  return { buckets, h };
}

/** A delta as encodeDelta bytes or as deltaToWire's array; throws bad_request. */
export function deltaOf(v: unknown): Delta {
  return v instanceof Uint8Array ? decodeDelta(v) : deltaFromWire(v);
}

function horizonOf(v: unknown): Timestamp | null {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v) || v.length !== 3) bad("horizon is not [wall, counter, writer]");
  const [w, c, n] = v as unknown[];
  if (!Number.isSafeInteger(w) || (w as number) < 0 || !Number.isSafeInteger(c) || (c as number) < 0 || typeof n !== "string") {
    bad("horizon is not [wall, counter, writer]");
  }
  return { w: w as number, c: c as number, n: n as string };
}

function ranges(v: unknown): number[] {
  if (!isRanges(v)) bad("seqs are not a list of ranges");
  return v;
}

function epoch(v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) bad("epoch is not a non-negative integer");
  return v as number;
}

function round(v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) bad("round id is not a non-negative integer");
  return v as number;
}

function count(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) bad(`${what} is not a positive integer`);
  return v as number;
}

function chunkOf(msg: Message): { c: number; of: number } {
  const of = count(msg["of"], "chunk total");
  const c = msg["c"];
  if (!Number.isSafeInteger(c) || (c as number) < 0 || (c as number) >= of) bad("chunk index out of range");
  return { c: c as number, of };
}

function bucketList(v: unknown, buckets: number): number[] {
  if (!Array.isArray(v) || v.length > buckets) bad("buckets are not a list");
  for (const b of v) if (!Number.isInteger(b) || b < 0 || b >= buckets) bad("bucket out of range");
  return v as number[];
}

function bad(why: string): never {
  throw new RoomyError("bad_request", `replication: malformed message: ${why}`);
}
