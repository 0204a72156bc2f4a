/**
 * Framing of the mesh stream: each frame is a 4-byte big-endian body length
 * followed by that many bytes of CBOR. The reader accepts the stream in
 * chunks split anywhere and never holds more than one header plus one
 * maximum-size body, whatever a peer sends.
 */
import type { Message } from "../types.ts";
import { decodeRange } from "./codec.ts";
import { releaseBuffer } from "../../adapter/release.ts";

export const FRAME_HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

export type FrameErrorReason = "oversized" | "malformed" | "truncated";

/** A stream the peer broke; the connection it came on must be closed. */
export class FrameError extends Error {
  readonly reason: FrameErrorReason;
  constructor(reason: FrameErrorReason, detail: string) {
    super(`${reason} frame: ${detail}`);
    this.name = "FrameError";
    this.reason = reason;
  }
}

/** Write `bodies` as consecutive frames into one buffer (one socket write). */
export function encodeFrames(bodies: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const b of bodies) total += FRAME_HEADER_BYTES + b.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  for (const b of bodies) {
    view.setUint32(at, b.length);
    out.set(b, at + FRAME_HEADER_BYTES);
    at += FRAME_HEADER_BYTES + b.length;
  }
  return out;
}

/** Splits a byte stream into frame bodies. */
export class FrameReader {
  /** Largest body accepted; may be changed between chunks (e.g. after auth). */
  maxFrameBytes: number;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  /** push() is running: its callback may keep a body's view */
  private keepBodies = false;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes of an incomplete frame currently held. */
  get buffered(): number {
    return this.headerFill + this.bodyFill;
  }

  /**
   * Feed one chunk; `onBody` gets each complete body in order. Throws
   * FrameError("oversized") on a length over the limit (before allocating)
   * and FrameError("malformed") on an empty frame. Bodies delivered before
   * the bad header have been delivered.
   */
  push(chunk: Uint8Array, onBody: (body: Uint8Array) => void): void {
    // onBody may keep its view: the bodies this reader put together are left to the collector.
    this.keepBodies = true;
    try {
      this.pushFrames(chunk, (bytes, start, end) => onBody(bytes.subarray(start, end)));
    } finally {
      this.keepBodies = false;
    }
  }

  /**
   * As push(), but each body is handed as `bytes[start..end)`, no view made
   * (most bodies lie whole inside the chunk). `bytes` is only valid during
   * the call. Reads `chunk` from `from`; after each frame delivered, `stop`
   * (if given) may end the call there: returns where it stopped (the
   * chunk's length once all of it is read), so the rest can be fed later.
   */
  pushFrames(
    chunk: Uint8Array,
    onFrame: (bytes: Uint8Array, start: number, end: number) => void,
    from = 0,
    stop?: () => boolean,
  ): number {
    // A socket's Buffer as a plain Uint8Array, once per chunk: views of it are
    // then cheaper to make, and every reader downstream sees one array type.
    if (chunk.constructor !== Uint8Array) chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let i = from;
    const n = chunk.length;
    while (i < n) {
      if (this.body !== null) {
        const take = Math.min(n - i, this.body.length - this.bodyFill);
        this.body.set(chunk.subarray(i, i + take), this.bodyFill);
        this.bodyFill += take;
        i += take;
        if (this.bodyFill === this.body.length) {
          const body = this.body;
          this.body = null;
          this.bodyFill = 0;
          onFrame(body, 0, body.length);
          // Handled (`bytes` is valid only during the call; decoding copies what it keeps): a big one goes back now.
          if (!this.keepBodies) releaseBuffer(body);
          if (stop?.() === true) return i;
        }
        continue;
      }
      let length: number;
      if (this.headerFill === 0 && n - i >= FRAME_HEADER_BYTES) {
        // Fast path: the whole header is in this chunk.
        length = readUint32(chunk, i);
        i += FRAME_HEADER_BYTES;
      } else {
        this.header[this.headerFill++] = chunk[i++]!;
        if (this.headerFill < FRAME_HEADER_BYTES) continue;
        this.headerFill = 0;
        length = readUint32(this.header, 0);
      }
      this.checkLength(length);
      if (n - i >= length) {
        // Whole body present: no copy.
        onFrame(chunk, i, i + length);
        i += length;
        if (stop?.() === true) return i;
      } else {
        this.body = new Uint8Array(length);
      }
    }
    return n;
  }

  /** The stream ended: throws FrameError("truncated") if a frame was cut. */
  end(): void {
    const held = this.buffered;
    this.headerFill = 0;
    this.body = null;
    this.bodyFill = 0;
    if (held > 0) {
      throw new FrameError("truncated", `stream ended inside a frame (${held} bytes held)`);
    }
  }

  private checkLength(length: number): void {
    if (length > this.maxFrameBytes) {
      const what = foreignProtocol(length);
      if (what !== null) throw new FrameError("malformed", `not a roomy mesh peer: ${what}`);
      throw new FrameError("oversized", `${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
    }
    if (length === 0) throw new FrameError("malformed", "empty frame");
  }
}

const HTTP_REQUESTS = ["GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI", "PATC", "CONN", "TRAC"];

/**
 * What a stream that is not roomy's speaks, read from a frame's length (its
 * first four bytes): a seed given as an admin API port answers in HTTP, and
 * "1213486160 bytes exceeds the limit" said nothing to whoever typed it.
 */
export function foreignProtocol(length: number): string | null {
  const text = String.fromCharCode(length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
  if (text === "HTTP") return "it answered in HTTP: that address is an admin API (--http), not a mesh address (--bind, port 4370 by default)";
  if (HTTP_REQUESTS.includes(text)) return "it sent an HTTP request: point HTTP clients and probes at the admin API (--http), not the mesh port";
  if (text === "SSH-") return "it speaks SSH";
  if (length >>> 24 === 0x16 && ((length >>> 16) & 0xff) === 0x03) return "it began a TLS handshake: one side runs the mesh with TLS (--tls-cert), the other without";
  // A TLS server answers a plain hello with an alert record (0x15 0x03 0x0N).
  if (length >>> 24 === 0x15 && ((length >>> 16) & 0xff) === 0x03) return "it answered with a TLS alert: it runs the mesh with TLS (--tls-cert) and this node without";
  return null;
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
}

/** Decode a body as CBOR; throws FrameError("malformed") if it is not. */
export function decodeBody(body: Uint8Array, start = 0, end = body.length): unknown {
  try {
    return decodeRange(body, start, end);
  } catch (err) {
    throw new FrameError("malformed", `invalid CBOR (${(err as Error).message})`);
  }
}

/** Decode a body that must be a Message (a map with a string `t`). */
export function decodeMessage(body: Uint8Array): Message {
  const value = decodeBody(body);
  if (!isMessage(value)) throw new FrameError("malformed", "not a message (map with a string `t`)");
  return value;
}

export function isMessage(value: unknown): value is Message {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Map) &&
    typeof (value as { t?: unknown }).t === "string"
  );
}
