/**
 * Compact CBOR encoding of LWW-map deltas. Writer identities repeat across
 * entries, so they go once into a table; each entry is then five flat items:
 * key, wall, counter, writer index, value (CBOR `undefined` marks a
 * tombstone). Decoding validates every field: a malformed delta is refused
 * whole, never half-merged.
 */
// The pure-JS entry: the default one loads the optional native string
// extractor (cbor-extract), which crashes under Bun 1.4.
import { Encoder } from "cbor-x/encode";
import { Decoder } from "cbor-x/decode";
import { RoomyError } from "./errors.ts";
import type { Delta, DeltaEntry } from "./lww-map.ts";

const FORMAT = 1;

// Plain CBOR maps and arrays, no cbor-x record extension: any CBOR reader can
// decode what we write.
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** The delta as a plain CBOR-ready array. */
export function deltaToWire(delta: Delta): unknown[] {
  const nodes: string[] = [];
  const index = new Map<string, number>();
  const flat: unknown[] = new Array(delta.e.length * 5);
  let i = 0;
  for (const en of delta.e) {
    let ni = index.get(en.ts.n);
    if (ni === undefined) {
      ni = nodes.length;
      nodes.push(en.ts.n);
      index.set(en.ts.n, ni);
    }
    flat[i++] = en.k;
    flat[i++] = en.ts.w;
    flat[i++] = en.ts.c;
    flat[i++] = ni;
    flat[i++] = en.d ? undefined : en.v === undefined ? null : en.v;
  }
  return [FORMAT, nodes, flat];
}

/** Inverse of deltaToWire; throws `bad_request` on anything malformed. */
export function deltaFromWire(wire: unknown): Delta {
  if (!Array.isArray(wire) || wire.length !== 3 || wire[0] !== FORMAT) bad("not a delta of format 1");
  const nodes = wire[1];
  const flat = wire[2];
  if (!Array.isArray(nodes) || !nodes.every((n) => typeof n === "string")) bad("writer table is not a list of strings");
  if (!Array.isArray(flat) || flat.length % 5 !== 0) bad("entries are not a list of 5-tuples");
  const e: DeltaEntry[] = new Array(flat.length / 5);
  for (let i = 0, j = 0; i < flat.length; i += 5, j++) {
    const k = flat[i];
    const w = flat[i + 1];
    const c = flat[i + 2];
    const ni = flat[i + 3];
    const v = flat[i + 4];
    if (typeof k !== "string") bad(`entry ${j}: key is not a string`);
    if (!Number.isSafeInteger(w) || w < 0) bad(`entry ${j}: wall time is not a non-negative integer`);
    if (!Number.isSafeInteger(c) || c < 0) bad(`entry ${j}: counter is not a non-negative integer`);
    if (!Number.isInteger(ni) || ni < 0 || ni >= nodes.length) bad(`entry ${j}: writer index out of range`);
    const ts = { w: w as number, c: c as number, n: nodes[ni as number] as string };
    e[j] = v === undefined ? { k, ts, d: true } : { k, ts, v };
  }
  return { e };
}

export function encodeDelta(delta: Delta): Uint8Array {
  return encoder.encode(deltaToWire(delta));
}

export function decodeDelta(bytes: Uint8Array): Delta {
  let wire: unknown;
  try {
    wire = decoder.decode(bytes);
  } catch (err) {
    bad(`not CBOR: ${(err as Error).message}`);
  }
  return deltaFromWire(wire);
}

function bad(why: string): never {
  throw new RoomyError("bad_request", `malformed delta: ${why}`);
}
