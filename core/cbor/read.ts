/**
 * The reading half of core/cbor/write.ts: decodes JSON-like CBOR and byte
 * strings directly, checking every length against the input before trusting
 * it, and hands anything else (tags, indefinite lengths, non-text map keys,
 * 64-bit integers, half floats, other simple values) to cbor-x, so it reads
 * whatever cbor-x reads. Decoded byte strings are copies: they never pin the
 * (possibly large) input they came in.
 */
// The pure-JS entry: the default one loads the optional native string
// extractor (cbor-extract), which crashes under Bun 1.4.
import { Decoder } from "cbor-x/decode";
import { float32At, float64At } from "./floats.ts";
import { ascii16, cachedAscii, latin1View, type Latin1Slicer, StringCache } from "./text.ts";
import { MAX_DEPTH } from "./write.ts";

export { StringCache } from "./text.ts";

/** What the reader hands items it does not decode itself to. */
export interface FallbackDecoder {
  decode(bytes: Uint8Array): unknown;
}

const defaultFallback: FallbackDecoder = new Decoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true });

const TWO_32 = 4294967296;
/** Strings up to this many bytes may come from a StringCache. */
const CACHED_MAX = 16;
/** Inputs at least this big are read with a StringCache and a latin1 view. */
const BIG_INPUT = 4096;
/** ASCII strings at least this long come from the latin1 view when there is one. */
const LATIN1_MIN = 9;
/** Beyond this, TextDecoder's own ASCII path is as fast. */
const LATIN1_MAX = 256;

/** Thrown for malformed input; callers turn it into their own error. */
export class CborError extends Error {
  override name = "CborError";
}

// ignoreBOM: a leading U+FEFF is part of the string, not a marker to strip.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export interface CborReaderOptions {
  /** Cache for repeated short strings (default: one per large input). */
  cache?: StringCache;
  /** Decoder for the items this reader leaves to cbor-x. */
  fallback?: FallbackDecoder;
}

export class CborReader {
  private b: Uint8Array;
  private end: number;
  /** where the next item starts (an index into the whole input array) */
  pos = 0;
  /** major type of the last head read */
  private major = 0;
  private cache: StringCache | undefined;
  /** for a big input: its bytes as a latin1 view, for ASCII strings */
  private lat: Latin1Slicer | undefined;
  private readonly fallbackDecoder: FallbackDecoder;

  constructor(bytes: Uint8Array, opts?: CborReaderOptions) {
    this.b = plain(bytes);
    this.end = bytes.length;
    const big = bytes.length >= BIG_INPUT;
    this.cache = opts?.cache ?? (big ? new StringCache() : undefined);
    this.lat = big ? latin1View(this.b) : undefined;
    this.fallbackDecoder = opts?.fallback ?? defaultFallback;
  }

  /** Read `bytes[start..end)` next (one reader, many small inputs: no reader per input). */
  reset(bytes: Uint8Array, start = 0, end = bytes.length): void {
    if (start < 0 || end > bytes.length || start > end) throw new RangeError("reset: range outside the input");
    this.b = plain(bytes);
    this.pos = start;
    this.end = end;
    this.lat = end - start >= BIG_INPUT ? latin1View(this.b) : undefined;
  }

  get done(): boolean {
    return this.pos === this.end;
  }

  /** The next byte, not consumed (-1 at the end). */
  peek(): number {
    return this.pos < this.end ? this.b[this.pos]! : -1;
  }

  skipByte(): void {
    this.pos++;
  }

  /**
   * Read a head; returns its argument, or -1 for an indefinite length.
   * Arguments beyond 2^53 come back inexact: callers that need them exact
   * check `Number.isSafeInteger`.
   */
  head(): number {
    const b = this.b;
    let p = this.pos;
    if (p >= this.end) throw new CborError("unexpected end of input");
    const ib = b[p++]!;
    this.major = ib >> 5;
    const ai = ib & 31;
    let n: number;
    if (ai < 24) {
      n = ai;
    } else if (ai === 24) {
      if (p + 1 > this.end) throw new CborError("unexpected end of input");
      n = b[p++]!;
    } else if (ai === 25) {
      if (p + 2 > this.end) throw new CborError("unexpected end of input");
      n = (b[p]! << 8) | b[p + 1]!;
      p += 2;
    } else if (ai === 26) {
      if (p + 4 > this.end) throw new CborError("unexpected end of input");
      n = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
      p += 4;
    } else if (ai === 27) {
      if (p + 8 > this.end) throw new CborError("unexpected end of input");
      const hi = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
      const lo = b[p + 4]! * 0x1000000 + ((b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!);
      n = hi * TWO_32 + lo;
      p += 8;
    } else if (ai === 31 && this.major >= 2 && this.major <= 5) {
      n = -1;
    } else if (ai === 31 && this.major === 7) {
      throw new CborError("unexpected break");
    } else {
      throw new CborError(`reserved additional information ${ai}`);
    }
    this.pos = p;
    return n;
  }

  /** An unsigned integer that fits exactly in a number. */
  uint(what: string): number {
    // Fast paths: heads of one to three bytes (0..65535), most counters and indices.
    const p = this.pos;
    if (p < this.end) {
      const ib = this.b[p]!;
      if (ib < 24) {
        this.pos = p + 1;
        return ib;
      }
      if (ib === 24 && p + 2 <= this.end) {
        this.pos = p + 2;
        return this.b[p + 1]!;
      }
      if (ib === 25 && p + 3 <= this.end) {
        this.pos = p + 3;
        return (this.b[p + 1]! << 8) | this.b[p + 2]!;
      }
    }
    const start = p;
    let n = this.head();
    // Integers beyond 32 bits come as floats from cbor-x (and from us).
    if (this.major === 7 && this.b[start] === 0xfb) n = float64At(this.b, start + 1);
    else if (this.major === 7 && this.b[start] === 0xfa) n = float32At(this.b, start + 1);
    else if (this.major !== 0) n = -1;
    if (!Number.isSafeInteger(n) || n < 0) throw new CborError(`${what} is not a non-negative integer`);
    return n;
  }

  /** The length of a definite array. */
  array(what: string): number {
    const n = this.head();
    if (this.major !== 4 || n < 0) throw new CborError(`${what} is not an array`);
    // Every item takes at least a byte: refuse absurd lengths before allocating.
    if (n > this.end - this.pos) throw new CborError(`${what} is longer than the input`);
    return n;
  }

  /** A definite-length text string; `repeats` when it is likely seen before. */
  text(what: string, repeats = false): string {
    // Fast path: a one-byte head, strings under 24 bytes.
    const p = this.pos;
    const ib = p < this.end ? this.b[p]! : 0;
    if (ib >= 0x60 && ib < 0x78) {
      this.pos = p + 1;
      return this.utf8(ib - 0x60, repeats);
    }
    const n = this.head();
    if (this.major !== 3 || n < 0) throw new CborError(`${what} is not a string`);
    return this.utf8(n, repeats);
  }

  private utf8(n: number, repeats: boolean): string {
    const start = this.pos;
    const end = start + n;
    if (end > this.end) throw new CborError("string runs past the end of input");
    this.pos = end;
    if (repeats && n <= CACHED_MAX && this.cache !== undefined) return cachedAscii(this.b, start, n, this.cache) ?? this.decodeUtf8(start, end);
    const lat = this.lat;
    if (n > 16 && (lat === undefined || n > LATIN1_MAX)) return this.decodeUtf8(start, end);
    // ASCII without a TextDecoder call (several times faster at this size).
    const b = this.b;
    let or = 0;
    for (let i = start; i < end; i++) or |= b[i]!;
    if (or >= 0x80) return this.decodeUtf8(start, end);
    return n >= LATIN1_MIN && lat !== undefined ? lat.latin1Slice(start, end) : ascii16(b, start, n);
  }

  private decodeUtf8(start: number, end: number): string {
    try {
      return utf8.decode(this.b.subarray(start, end));
    } catch {
      throw new CborError("invalid UTF-8 in a string");
    }
  }

  /** Any value; what this reader does not handle itself goes to cbor-x. */
  value(depth = 0): unknown {
    if (depth > MAX_DEPTH) throw new CborError(`nested deeper than ${MAX_DEPTH}`);
    const b = this.b;
    const start = this.pos;
    if (start >= this.end) throw new CborError("unexpected end of input");
    const ib = b[start]!;
    // One-byte heads inline: small integers, short strings, small arrays and maps.
    if ((ib & 31) < 24) {
      this.pos = start + 1;
      const n = ib & 31;
      switch (ib >> 5) {
        case 0:
          return n;
        case 1:
          return -1 - n;
        case 2:
          return this.bytes(n);
        case 3:
          return this.utf8(n, true);
        case 4:
          return this.list(n, depth);
        case 5:
          return this.map(n, start, depth);
        case 7:
          switch (ib) {
            case 0xf4:
              return false;
            case 0xf5:
              return true;
            case 0xf6:
              return null;
            case 0xf7:
              return undefined;
          }
      }
      return this.fallback(start, depth);
    }
    const n = this.head();
    switch (this.major) {
      // A 64-bit head (0x1b, 0x3b) is how cbor-x writes a bigint: it reads it back as one, and so do we (below).
      case 0:
        if ((ib & 31) !== 27) return n;
        break;
      case 1:
        if ((ib & 31) !== 27) return -1 - n;
        break;
      case 2:
        if (n >= 0) return this.bytes(n);
        break;
      case 3:
        if (n >= 0) return this.utf8(n, true);
        break;
      case 4:
        if (n >= 0) return this.list(n, depth);
        break;
      case 5:
        if (n >= 0) return this.map(n, start, depth);
        break;
      case 7:
        if (ib === 0xfa) return float32At(this.b, start + 1);
        if (ib === 0xfb) return float64At(this.b, start + 1);
        break;
    }
    return this.fallback(start, depth);
  }

  /** A definite byte string of `n` bytes, copied into a Uint8Array of its own. */
  private bytes(n: number): Uint8Array {
    const start = this.pos;
    if (start + n > this.end) throw new CborError("byte string runs past the end of input");
    this.pos = start + n;
    return this.b.slice(start, start + n);
  }

  private list(n: number, depth: number): unknown[] {
    if (n > this.end - this.pos) throw new CborError("array is longer than the input");
    const a: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) a[i] = this.value(depth + 1);
    return a;
  }

  private map(n: number, start: number, depth: number): unknown {
    if (n > this.end - this.pos) throw new CborError("map is longer than the input");
    const b = this.b;
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const p = this.pos;
      const kb = p < this.end ? b[p]! : 0;
      let k: string;
      if (kb >= 0x60 && kb < 0x78) {
        this.pos = p + 1;
        k = this.utf8(kb - 0x60, true);
      } else if (kb >> 5 === 3 && kb !== 0x7f) {
        k = this.text("map key", true);
      } else {
        // Keys other than definite text (cbor-x turns them into strings) take the slow path.
        return this.fallback(start, depth);
      }
      const v = this.value(depth + 1);
      if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      else o[k] = v;
    }
    return o;
  }

  /** Decode the item at `start` with cbor-x. */
  private fallback(start: number, depth: number): unknown {
    this.pos = start;
    this.skip(depth);
    try {
      return this.fallbackDecoder.decode(this.b.subarray(start, this.pos));
    } catch (err) {
      throw new CborError((err as Error).message);
    }
  }

  /** Step over one well-formed item. */
  private skip(depth: number): void {
    if (depth > MAX_DEPTH) throw new CborError(`nested deeper than ${MAX_DEPTH}`);
    const n = this.head();
    const major = this.major;
    switch (major) {
      case 2:
      case 3:
        if (n >= 0) {
          if (this.pos + n > this.end) throw new CborError("string runs past the end of input");
          this.pos += n;
          return;
        }
        // Indefinite: definite chunks of the same type up to a break.
        while (this.peek() !== 0xff) {
          const len = this.head();
          if (this.major !== major || len < 0) throw new CborError("bad chunk in an indefinite string");
          if (this.pos + len > this.end) throw new CborError("string runs past the end of input");
          this.pos += len;
        }
        this.pos++;
        return;
      case 4:
      case 5: {
        const per = major === 5 ? 2 : 1;
        if (n >= 0) {
          if (n > this.end - this.pos) throw new CborError("container is longer than the input");
          for (let i = 0; i < n * per; i++) this.skip(depth + 1);
          return;
        }
        while (this.peek() !== 0xff) {
          if (this.peek() < 0) throw new CborError("unexpected end of input");
          for (let i = 0; i < per; i++) this.skip(depth + 1);
        }
        this.pos++;
        return;
      }
      case 6:
        this.skip(depth + 1);
        return;
      default:
        // 0, 1, 7: the head was all of it.
        return;
    }
  }
}

/** A Buffer (or other subclass) as a plain Uint8Array: the JIT then sees one array type. */
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
