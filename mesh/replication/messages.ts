/**
 * The replication channel's messages, and their validation. Every message
 * carries its sender's name `n` and process identity `i`.
 *
 *   d   {s, d, e}       writes: seq ranges + the joined delta of those writes,
 *                       stamped with the writer's epoch e when they were made
 *                       (absent: 0, an older peer)
 *   a   {s, l}          ack of the seqs of a `d`; l (absent: none): the read
 *                       leases I granted that still run, [name, id, ms left] each
 *   fx  {s, e}          the `d` of seqs s was refused, not merged: my fence e
 *                       is above its stamp
 *   dg  {r, h, z, u}    anti-entropy round r: my digest; answer in chunks of z
 *                       (u: urgent, do not decline)
 *   eq  {r}             round r: our digests are equal
 *   bz  {r}             round r declined: busy sending you writes
 *   lf  {r, b, h, e, hz} round r: the buckets b differ; my leaf digests of
 *                       them; the buckets e differ too, and you hold nothing
 *                       there (no leaf digests needed); hz: my collection
 *                       horizon [w, c, n] or null
 *   lw  {r, m, s, z}    round r: send me your entries of the leaves in bitmap m
 *                       (bit bucket * LEAVES + leaf), in chunks of z; and of
 *                       the leaves in bitmap s, those whose print is not among
 *                       the ones I send next (ls: I hold those already)
 *   ls  {r, c, l, p}    round r: chunk c of the prints of my entries of the
 *                       leaves s (8 bytes each; l: the last one)
 *   lk  {r, c}          round r: chunk c of your `ls` is noted
 *   ae  {r, c, l, d, hz, u} round r: chunk c of my entries of those leaves
 *                       (l: the last one); hz as in lf; u (last chunk): your
 *                       prints I hold no entry for, or null (too many: all)
 *   ak  {r, c}          round r: chunk c of your `ae` is merged (send more)
 *   ap  {r, c, l, d}    round r: chunk c of the initiator's entries the
 *                       responder lacked or held older (l: the last one)
 *   pk  {r, c}          round r: chunk c of your `ap` is merged
 *
 * Deltas (`d`) travel as the bytes of core's encodeDelta: encoded once for
 * every peer, and decoded by core's compact reader rather than as generic
 * CBOR objects (several times faster at 10,000 entries). A `d` that is the
 * plain array of deltaToWire is accepted too.
 *
 * A message is checked whole before anything of it is used: a malformed one
 * is refused entirely, never half-merged.
 */
import { MAX_READERS, type ReaderList } from "./lease-grants.ts";
import { RoomyError } from "../../core/errors.ts";
import { decodeDelta, deltaFromWire, encodeDelta } from "../../core/crdt/lww-codec.ts";
import type { Timestamp } from "../../core/crdt/hlc.ts";
import { type Delta, type Digest, LEAVES } from "../../core/crdt/lww-map.ts";
import type { Message } from "../types.ts";
import { isRanges } from "./seq-ranges.ts";

export interface Sender {
  /** member name */
  n: string;
  /** member identity (per process start) */
  i: string;
}

/** A replication message as parseMessage checked it off the wire. */
export type ReplMsg =
  | (Sender & { t: "d"; s: number[]; delta: Delta; e: number })
  | (Sender & { t: "a"; s: number[]; l?: ReaderList })
  | (Sender & { t: "fx"; s: number[]; e: number })
  | (Sender & { t: "dg"; r: number; digest: Digest; z: number; u: boolean })
  | (Sender & { t: "eq"; r: number })
  | (Sender & { t: "bz"; r: number })
  | (Sender & { t: "lf"; r: number; b: number[]; h: Uint32Array; e: number[]; hz: Timestamp | null })
  | (Sender & { t: "lw"; r: number; m: Uint8Array; s: Uint8Array; z: number })
  | (Sender & { t: "ls"; r: number; c: number; l: boolean; p: number[] })
  | (Sender & { t: "lk"; r: number; c: number })
  | (Sender & { t: "ae"; r: number; c: number; l: boolean; delta: Delta; hz: Timestamp | null; u: number[] | null })
  | (Sender & { t: "ak"; r: number; c: number })
  | (Sender & { t: "ap"; r: number; c: number; l: boolean; delta: Delta })
  | (Sender & { t: "pk"; r: number; c: number });

/** Chunk messages (they carry entries) and their acks. */
export type ChunkKind = "ae" | "ap";

export function dataMsg(from: Sender, s: number[], delta: Delta, epoch: number): Message {
  return { t: "d", n: from.n, i: from.i, s, d: encodeDelta(delta), e: epoch };
}

export function fencedMsg(from: Sender, s: number[], fence: number): Message {
  return { t: "fx", n: from.n, i: from.i, s, e: fence };
}

/** An ack; `readers`: the read leases the acking node granted that still run (lease-grants.ts). */
export function ackMsg(from: Sender, s: number[], readers?: ReaderList): Message {
  return readers === undefined ? { t: "a", n: from.n, i: from.i, s } : { t: "a", n: from.n, i: from.i, s, l: readers };
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

export function leavesMsg(from: Sender, r: number, b: number[], h: Uint32Array, e: number[], horizon: Timestamp | null): Message {
  return { t: "lf", n: from.n, i: from.i, r, b, h: wordsToBytes(h), e, hz: horizonWire(horizon) };
}

export function wantMsg(from: Sender, r: number, full: Uint8Array, printed: Uint8Array, chunk: number): Message {
  return { t: "lw", n: from.n, i: from.i, r, m: packBits(full), s: packBits(printed), z: chunk };
}

export function printsMsg(from: Sender, r: number, c: number, last: boolean, prints: number[]): Message {
  return { t: "ls", n: from.n, i: from.i, r, c, l: last, p: printsToBytes(prints) };
}

export function printsAckMsg(from: Sender, r: number, c: number): Message {
  return { t: "lk", n: from.n, i: from.i, r, c };
}

/** Prints (53-bit integers) as little-endian doubles. */
export function printsToBytes(prints: readonly number[]): Uint8Array {
  const out = new Uint8Array(prints.length * 8);
  const view = new DataView(out.buffer);
  for (let k = 0; k < prints.length; k++) view.setFloat64(8 * k, prints[k]!, true);
  return out;
}

function printsOf(v: unknown): number[] {
  if (!(v instanceof Uint8Array) || v.length % 8 !== 0) bad("prints are not a byte string of 8-byte numbers");
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const out: number[] = new Array(v.length / 8);
  for (let k = 0; k < out.length; k++) {
    const x = view.getFloat64(8 * k, true);
    if (!Number.isSafeInteger(x) || x < 0) bad("a print is not a 53-bit integer");
    out[k] = x;
  }
  return out;
}

/** A chunk of entries: `ae` (responder to initiator) or `ap` (the push back). */
export function chunkMsg(
  kind: ChunkKind, from: Sender, r: number, c: number, last: boolean, delta: Delta, horizon: Timestamp | null, unmatched?: number[] | null,
): Message {
  const m: Message = { t: kind, n: from.n, i: from.i, r, c, l: last, d: encodeDelta(delta) };
  if (kind === "ae") m["hz"] = horizonWire(horizon);
  if (unmatched !== undefined) m["u"] = unmatched === null ? null : printsToBytes(unmatched);
  return m;
}

/** The ack of chunk c of an `ae` (ak) or an `ap` (pk). */
export function chunkAckMsg(kind: ChunkKind, from: Sender, r: number, c: number): Message {
  return { t: kind === "ae" ? "ak" : "pk", n: from.n, i: from.i, r, c };
}

function horizonWire(h: Timestamp | null): [number, number, string] | null {
  return h === null ? null : [h.w, h.c, h.n];
}

function leafBits(v: unknown, buckets: number): Uint8Array {
  const size = Math.ceil((buckets * LEAVES) / 8);
  if (!(v instanceof Uint8Array) || v.length !== size) bad(`leaf bitmap is not ${size} bytes`);
  return unpackBits(v, buckets * LEAVES);
}

/** One byte per leaf (0 or not) as one bit per leaf. */
export function packBits(flags: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(flags.length / 8));
  for (let k = 0; k < flags.length; k++) if (flags[k] !== 0) out[k >> 3]! |= 1 << (k & 7);
  return out;
}

export function unpackBits(bits: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = (bits[k >> 3]! >> (k & 7)) & 1;
  return out;
}

/** Validate `msg` whole; throws RoomyError("bad_request") if anything is off. */
export function parseMessage(msg: Message, buckets: number): ReplMsg {
  const n = msg["n"];
  const i = msg["i"];
  if (typeof n !== "string" || n.length === 0 || n.length > 1024) bad("sender name missing");
  if (typeof i !== "string" || i.length === 0 || i.length > 1024) bad("sender id missing");
  switch (msg.t) {
    case "d":
      return { t: "d", n, i, s: ranges(msg["s"]), delta: deltaOf(msg["d"]), e: msg["e"] === undefined ? 0 : epoch(msg["e"]) };
    case "a":
      return msg["l"] === undefined ? { t: "a", n, i, s: ranges(msg["s"]) } : { t: "a", n, i, s: ranges(msg["s"]), l: readerList(msg["l"]) };
    case "fx":
      return { t: "fx", n, i, s: ranges(msg["s"]), e: epoch(msg["e"]) };
    case "dg":
      return { t: "dg", n, i, r: round(msg["r"]), digest: digestFromBytes(msg["h"], buckets), z: count(msg["z"], "z"), u: msg["u"] === true };
    case "eq":
      return { t: "eq", n, i, r: round(msg["r"]) };
    case "bz":
      return { t: "bz", n, i, r: round(msg["r"]) };
    case "lf": {
      const b = bucketList(msg["b"], buckets);
      const e = bucketList(msg["e"], buckets);
      if (b.length + e.length === 0) bad("no bucket differs");
      if (b.some((x) => e.includes(x))) bad("a bucket listed twice");
      return { t: "lf", n, i, r: round(msg["r"]), b, h: wordsFromBytes(msg["h"], b.length * LEAVES * 2), e, hz: horizonOf(msg["hz"]) };
    }
    case "lw":
      return { t: "lw", n, i, r: round(msg["r"]), m: leafBits(msg["m"], buckets), s: leafBits(msg["s"], buckets), z: count(msg["z"], "z") };
    case "ls":
      return { t: "ls", n, i, r: round(msg["r"]), c: index(msg["c"]), l: flag(msg["l"]), p: printsOf(msg["p"]) };
    case "lk":
      return { t: "lk", n, i, r: round(msg["r"]), c: index(msg["c"]) };
    case "ae": {
      const u = msg["u"] === undefined || msg["u"] === null ? null : printsOf(msg["u"]);
      return { t: "ae", n, i, r: round(msg["r"]), c: index(msg["c"]), l: flag(msg["l"]), delta: deltaOf(msg["d"]), hz: horizonOf(msg["hz"]), u };
    }
    case "ap":
      return { t: "ap", n, i, r: round(msg["r"]), c: index(msg["c"]), l: flag(msg["l"]), delta: deltaOf(msg["d"]) };
    case "ak":
    case "pk":
      return { t: msg.t, n, i, r: round(msg["r"]), c: index(msg["c"]) };
    default:
      bad(`unknown message type ${JSON.stringify(String(msg.t)).slice(0, 40)}`);
  }
}

/** Digest words as little-endian bytes (the same on every platform). */
export function digestToBytes(d: Digest): Uint8Array {
  return wordsToBytes(d.h);
}

export function digestFromBytes(v: unknown, buckets: number): Digest {
  return { buckets, h: wordsFromBytes(v, buckets * 2) };
}

function wordsToBytes(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  for (let k = 0; k < words.length; k++) view.setUint32(4 * k, words[k]!, true);
  return out;
}

function wordsFromBytes(v: unknown, words: number): Uint32Array {
  if (!(v instanceof Uint8Array)) bad("digest is not a byte string");
  if (v.length !== words * 4) bad(`digest has ${v.length} bytes, expected ${words * 4}`);
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const h = new Uint32Array(words);
  for (let k = 0; k < words; k++) h[k] = view.getUint32(4 * k, true);
  return h;
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

/** A chunk index: bounded, so a forged one cannot grow the receiver's bookkeeping. */
function index(v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) >= MAX_CHUNKS) bad("chunk index out of range");
  return v as number;
}

function flag(v: unknown): boolean {
  if (typeof v !== "boolean") bad("last-chunk flag is not a boolean");
  return v;
}

/** More chunks than any map could need at one entry each (2^24 keys). */
export const MAX_CHUNKS = 1 << 24;

function bucketList(v: unknown, buckets: number): number[] {
  if (!Array.isArray(v) || v.length > buckets) bad("buckets are not a list");
  const seen = new Set<number>();
  for (const b of v) {
    if (!Number.isInteger(b) || b < 0 || b >= buckets) bad("bucket out of range");
    if (seen.has(b)) bad("bucket listed twice");
    seen.add(b);
  }
  return v as number[];
}

function bad(why: string): never {
  throw new RoomyError("bad_request", `replication: malformed message: ${why}`);
}

/** Readers an ack lists: at most MAX_READERS [name, id, ms left]. */
function readerList(v: unknown): ReaderList {
  if (!Array.isArray(v) || v.length > MAX_READERS) bad("readers not a short list");
  const out: ReaderList = [];
  for (const x of v as unknown[]) {
    const ok = Array.isArray(x) && x.length === 3 && [x[0], x[1]].every((s) => typeof s === "string" && s.length > 0 && s.length <= 1024);
    if (!ok) bad("a reader is not [name, id, ms]");
    const ms = (x as unknown[])[2];
    if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < 0 || ms > 60_000) bad("a reader's time left is out of range");
    out.push([(x as string[])[0]!, (x as string[])[1]!, ms as number]);
  }
  return out;
}
