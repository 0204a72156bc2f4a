/**
 * Compact CBOR encoding of LWW-map deltas:
 *
 *   [2, [writer...], base, [key, wall - base, counter, writer index, value, ...]]
 *
 * Writer identities repeat across entries, so they go once into a table; wall
 * times are stored relative to the smallest one (`base`), one to five bytes
 * instead of nine; each entry is five flat items, and CBOR `undefined` as the
 * value marks a tombstone. Decoding validates every field and builds the
 * whole delta before returning it: a malformed delta is refused whole
 * (`bad_request`), never half-merged.
 */
import { CborReader } from "../cbor/read.ts";
import { CborWriter } from "../cbor/write.ts";
import { RoomyError } from "../errors.ts";
import type { Delta, DeltaEntry } from "./lww-map.ts";
import type { Timestamp } from "./hlc.ts";
import { hash32 } from "../hash.ts";
import { RecentWriters } from "./recent-writers.ts";

export const FORMAT = 2;

/** The delta as a plain CBOR-ready array (what encodeDelta writes). */
export function deltaToWire(delta: Delta): unknown[] {
  const e = delta.e;
  const base = baseWall(delta);
  const { nodes, ni } = writerTable(delta);
  const flat: unknown[] = new Array(e.length * 5);
  for (let i = 0, j = 0; i < e.length; i++) {
    const en = e[i]!;
    flat[j++] = en.k;
    flat[j++] = en.ts.w - base;
    flat[j++] = en.ts.c;
    flat[j++] = ni[i];
    flat[j++] = en.d === true ? undefined : en.v === undefined ? null : en.v;
  }
  return [FORMAT, nodes, base, flat];
}

/** Inverse of deltaToWire; throws `bad_request` on anything malformed. */
export function deltaFromWire(wire: unknown): Delta {
  if (!Array.isArray(wire) || wire.length !== 4 || wire[0] !== FORMAT) bad(`not a delta of format ${FORMAT}`);
  const [, nodes, base, flat] = wire as unknown[];
  if (!Array.isArray(nodes) || !nodes.every((n) => typeof n === "string")) bad("writer table is not a list of strings");
  if (!isUint(base)) bad("base wall time is not a non-negative integer");
  if (!Array.isArray(flat) || flat.length % 5 !== 0) bad("entries are not a list of 5-tuples");
  const e: DeltaEntry[] = new Array(flat.length / 5);
  let lastText: string | undefined; // as in decodeDelta: one string for a run of equal values
  let prev: Timestamp | undefined;
  for (let i = 0, j = 0; i < flat.length; i += 5, j++) {
    const k = flat[i];
    const dw = flat[i + 1];
    const c = flat[i + 2];
    const ni = flat[i + 3];
    const v = flat[i + 4];
    if (typeof k !== "string") bad(`entry ${j}: key is not a string`);
    if (!isUint(dw) || !Number.isSafeInteger(base + dw)) bad(`entry ${j}: wall time is not a non-negative integer`);
    if (!isUint(c)) bad(`entry ${j}: counter is not a non-negative integer`);
    if (!isUint(ni) || ni >= nodes.length) bad(`entry ${j}: writer index out of range`);
    // The keys of one write share its stamp (as in decodeDelta).
    if (prev === undefined || prev.w !== base + dw || prev.c !== c || prev.n !== nodes[ni]) prev = sharedStamp(base + dw, c, nodes[ni] as string);
    const ts = prev;
    e[j] = v === undefined ? { k, ts, d: true } : { k, ts, v: typeof v === "string" && v === lastText ? lastText : v };
    if (typeof v === "string" && v !== lastText) lastText = v;
  }
  return { e };
}

export function encodeDelta(delta: Delta): Uint8Array {
  const e = delta.e;
  const n = e.length;
  const base = baseWall(delta);
  const { nodes, ni } = writerTable(delta);
  const out = new CborWriter(64 + n * 32);
  out.head(4, 4);
  out.head(0, FORMAT);
  out.head(4, nodes.length);
  for (const node of nodes) out.text(node);
  out.uint(base);
  out.head(4, n * 5);
  for (let i = 0; i < n; i++) {
    const en = e[i]!;
    const ts = en.ts;
    out.text(en.k);
    out.uint(ts.w - base);
    out.uint(ts.c);
    out.uint(ni[i]!);
    if (en.d === true) out.byte(0xf7);
    else out.value(en.v === undefined ? null : en.v);
  }
  return out.finish();
}

export function decodeDelta(bytes: Uint8Array): Delta {
  const r = new CborReader(bytes);
  let j = -1;
  try {
    if (r.array("delta") !== 4 || r.uint("format") !== FORMAT) bad(`not a delta of format ${FORMAT}`);
    const nn = r.array("writer table");
    const nodes: string[] = new Array(nn);
    for (let i = 0; i < nn; i++) nodes[i] = r.text("writer");
    const base = r.uint("base wall time");
    const flat = r.array("entries");
    if (flat % 5 !== 0) bad("entries are not a list of 5-tuples");
    const e: DeltaEntry[] = new Array(flat / 5);
    // The keys of one write share its stamp: one Timestamp object for a run of them.
    let ts: Timestamp = { w: -1, c: -1, n: "" };
    let tsNi = -1;
    let lastText: string | undefined;
    for (j = 0; j < e.length; j++) {
      const k = r.text("key");
      const w = base + r.uint("wall time");
      if (!Number.isSafeInteger(w)) bad(`entry ${j}: wall time out of range`);
      const c = r.uint("counter");
      const ni = r.uint("writer index");
      if (ni >= nn) bad(`entry ${j}: writer index out of range`);
      if (w !== ts.w || c !== ts.c || ni !== tsNi) {
        ts = sharedStamp(w, c, nodes[ni]!);
        tsNi = ni;
      }
      if (r.peek() === 0xf7) {
        r.skipByte();
        e[j] = { k, ts, d: true };
      } else {
        const v = r.value();
        // A write's keys often share a value (everyone walked into one room): keep one string, not one per key.
        if (typeof v === "string" && v === lastText) e[j] = { k, ts, v: lastText };
        else {
          e[j] = { k, ts, v };
          if (typeof v === "string") lastText = v;
        }
      }
    }
    j = -1;
    if (!r.done) bad("trailing bytes after the delta");
    return { e };
  } catch (err) {
    if (err instanceof RoomyError) throw err;
    bad(`${j >= 0 ? `entry ${j}: ` : ""}${(err as Error).message}`);
  }
}

/** Writer identities in order of appearance, and each entry's index. */
function writerTable(delta: Delta): { nodes: string[]; ni: Uint32Array } {
  const e = delta.e;
  const nodes: string[] = [];
  const index = new Map<string, number>();
  const ni = new Uint32Array(e.length);
  // Writers come in runs: skip the map lookup while the writer repeats.
  let last: string | undefined;
  let lastIndex = 0;
  for (let i = 0; i < e.length; i++) {
    const ts = e[i]!.ts;
    if (ts.n !== last) {
      last = ts.n;
      let x = index.get(last);
      if (x === undefined) {
        x = nodes.length;
        nodes.push(last);
        index.set(last, x);
      }
      lastIndex = x;
    }
    if (!isUint(ts.c)) throw new RangeError(`entry ${i}: counter is not a non-negative integer`);
    ni[i] = lastIndex;
  }
  return { nodes, ni };
}

/** The smallest wall time in the delta (0 when empty). */
function baseWall(delta: Delta): number {
  const e = delta.e;
  if (e.length === 0) return 0;
  let base = Infinity;
  for (let i = 0; i < e.length; i++) {
    const w = e[i]!.ts.w;
    if (!isUint(w)) throw new RangeError(`entry ${i}: wall time is not a non-negative integer`);
    if (w < base) base = w;
  }
  return base;
}

function isUint(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

function bad(why: string): never {
  throw new RoomyError("bad_request", `malformed delta: ${why}`);
}

/**
 * Stamps decoded lately, by a hash of their fields: the keys of one write
 * that come in different deltas (a snapshot or anti-entropy goes bucket by
 * bucket, so a write's keys arrive far apart) share one Timestamp object, as
 * they do when the write's own delta arrives. Direct-mapped: a collision
 * simply replaces the older stamp. In chunks of STAMP_CHUNK slots, made as
 * first written: a write into one long-lived array of 262,144 slots had
 * every young collection re-scan all of it (core/crdt/column.ts), at tens
 * of thousands of deltas a second.
 */
const STAMP_BITS = 18;
const STAMP_CHUNK_BITS = 7;
const STAMP_CHUNK = 1 << STAMP_CHUNK_BITS;
const stamps = new Array<(Timestamp | undefined)[] | undefined>(1 << (STAMP_BITS - STAMP_CHUNK_BITS)).fill(undefined);
let lastWriter = "";
let lastWriterHash = 0;
/** Writer ids as first decoded: one string per writer, not one per delta that names it. */
const writers = new Map<string, string>();
const MAX_WRITERS = 4096;
/** The last few writers switched to, interned, with their hashes (a switch was a map lookup and a hash). */
const recent = new RecentWriters();

/** {w, c, n}, the same object as an equal stamp decoded lately if there is one. */
function sharedStamp(w: number, c: number, n: string): Timestamp {
  if (n !== lastWriter) switchWriter(n);
  n = lastWriter;
  const h = Math.imul((w | 0) ^ Math.imul((w / 4294967296) | 0, 0x27d4eb2d) ^ Math.imul(c, 0x9e3779b1) ^ lastWriterHash, 0x85ebca6b);
  const slot = (h ^ (h >>> 15)) >>> (32 - STAMP_BITS);
  const chunk = (stamps[slot >>> STAMP_CHUNK_BITS] ??= new Array<Timestamp | undefined>(STAMP_CHUNK).fill(undefined));
  const at = slot & (STAMP_CHUNK - 1);
  const t = chunk[at];
  if (t !== undefined && t.w === w && t.c === c && t.n === n) return t;
  return (chunk[at] = { w, c, n });
}

/** Make `n` (its interned string and hash) the writer sharedStamp stamps with. */
function switchWriter(n: string): void {
  let i = recent.find(n);
  if (i < 0) {
    let known = writers.get(n);
    if (known === undefined) {
      if (writers.size >= MAX_WRITERS) writers.clear();
      writers.set(n, (known = n));
    }
    i = recent.add(known, hash32(known) | 0, 0);
  }
  lastWriter = recent.id(i);
  lastWriterHash = recent.first(i);
}
