/**
 * The CBOR codec of everything that crosses the wire (mesh frames, replicated
 * deltas). Plain CBOR that any peer can read: no cbor-x record or
 * structured-clone extensions, objects as ordinary CBOR maps, Uint8Array as a
 * bare byte string.
 *
 * JSON-like values and byte strings (all our messages) go through core's
 * hand-written writer and reader; anything else (a Map, a Date, a bigint,
 * tags, indefinite lengths) through cbor-x with the options below, so the
 * bytes are what cbor-x would accept and we read whatever cbor-x writes.
 * Why not cbor-x throughout: in its pure-JS mode (the native one is unusable
 * under Bun) it decoded a registry call in ~1.4 µs, four times our reader,
 * which keeps a cache of short strings (map keys, tags, names) seen before.
 */
// Subpath entries: the package root loads the optional native extractor
// (cbor-extract), which corrupts long string batches and aborts Bun 1.4.
import { Decoder } from "cbor-x/decode";
import { Encoder } from "cbor-x/encode";
import { CborReader, StringCache } from "../../core/cbor/read.ts";
import { CborWriter } from "../../core/cbor/write.ts";

/** The cbor-x options of the wire format (for code that builds its own Encoder). */
export const CODEC_OPTIONS = {
  // Records are a cbor-x extension; plain maps keep the format portable.
  useRecords: false,
  // CBOR maps decode to plain objects; a JS Map still round-trips because
  // cbor-x marks it with the registered tag 259 (explicit map).
  mapsAsObjects: true,
  structuredClone: false,
  // Uint8Array as a bare byte string (major type 2), not tag 64.
  tagUint8Array: false,
  // Decoded byte strings must not pin the (possibly large) frame they came in.
  copyBuffers: true,
} as const;

/** cbor-x with the wire's options: for writers of wire bytes (FrameQueue) to hand what is not JSON-like to. */
export const fallbackEncoder = new Encoder(CODEC_OPTIONS);
const fallbackDecoder = new Decoder(CODEC_OPTIONS);
/** Messages are encoded one after another into shared 64 KiB buffers (see CborWriter.take). */
const writer = new CborWriter(64 * 1024, fallbackEncoder);
const strings = new StringCache(4096);

/**
 * Encode a value (a Message, a delta...) to CBOR. Throws if it cannot be.
 * The result is a view of a shared buffer: read it, copy it, never write to it.
 */
export function encode(value: unknown): Uint8Array {
  try {
    writer.value(value);
  } catch (err) {
    writer.abandon();
    throw err;
  }
  return writer.take();
}

// One reader for every message: decoding never calls back into decode().
const reader = new CborReader(new Uint8Array(0), { cache: strings, fallback: fallbackDecoder });

/** Decode one complete CBOR item. Throws on malformed or trailing input. */
export function decode(bytes: Uint8Array): unknown {
  return decodeRange(bytes, 0, bytes.length);
}

/** Decode the one complete CBOR item in `bytes[start..end)` (a frame inside a socket chunk). */
export function decodeRange(bytes: Uint8Array, start: number, end: number): unknown {
  reader.reset(bytes, start, end);
  const v = reader.value();
  if (!reader.done) throw new Error(`trailing bytes after the item (${end - reader.pos})`);
  return v;
}
