/**
 * The CBOR codec of everything that crosses the wire (mesh frames, replicated
 * deltas). Configured for plain CBOR that any peer can read: no cbor-x record
 * or structured-clone extensions, objects as ordinary CBOR maps.
 */
// Subpath entries: the package root loads the optional native extractor
// (cbor-extract), which corrupts long string batches and aborts Bun 1.4.
import { Decoder } from "cbor-x/decode";
import { Encoder } from "cbor-x/encode";

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

const encoder = new Encoder(CODEC_OPTIONS);
const decoder = new Decoder(CODEC_OPTIONS);

/** Encode a value (a Message, a delta...) to CBOR. Throws if it cannot be. */
export function encode(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Decode one complete CBOR item. Throws on malformed or trailing input. */
export function decode(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}
