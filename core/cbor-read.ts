/**
 * The reading half of core/cbor-write.ts: decodes JSON-like CBOR directly,
 * checking every length against the input before trusting it, and hands
 * anything else (tags, byte strings, indefinite lengths, non-text map keys,
 * big integers) to cbor-x, so it reads whatever cbor-x reads.
 */
// The pure-JS entry: the default one loads the optional native string
// extractor (cbor-extract), which crashes under Bun 1.4.
import { Decoder } from "cbor-x/decode";
import { MAX_DEPTH } from "./cbor-write.ts";

const fallbackDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });

const TWO_32 = 4294967296;
const CACHE_SIZE = 4096;

/** Thrown for malformed input; callers turn it into their own error. */
export class CborError extends Error {
  override name = "CborError";
}

// ignoreBOM: a leading U+FEFF is part of the string, not a marker to strip.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class CborReader {
  private readonly b: Uint8Array;
  private readonly view: DataView;
  pos = 0;
  /** major type of the last head read */
  private major = 0;
  private readonly codes: number[] = [];
  private cache: (string | undefined)[] | undefined;

  constructor(bytes: Uint8Array) {
    this.b = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.pos === this.b.length;
  }

  /** The next byte, not consumed (-1 at the end). */
  peek(): number {
    return this.pos < this.b.length ? this.b[this.pos]! : -1;
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
    if (p >= b.length) throw new CborError("unexpected end of input");
    const ib = b[p++]!;
    this.major = ib >> 5;
    const ai = ib & 31;
    let n: number;
    if (ai < 24) {
      n = ai;
    } else if (ai === 24) {
      if (p + 1 > b.length) throw new CborError("unexpected end of input");
      n = b[p++]!;
    } else if (ai === 25) {
      if (p + 2 > b.length) throw new CborError("unexpected end of input");
      n = (b[p]! << 8) | b[p + 1]!;
      p += 2;
    } else if (ai === 26) {
      if (p + 4 > b.length) throw new CborError("unexpected end of input");
      n = this.view.getUint32(p);
      p += 4;
    } else if (ai === 27) {
      if (p + 8 > b.length) throw new CborError("unexpected end of input");
      n = this.view.getUint32(p) * TWO_32 + this.view.getUint32(p + 4);
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
    // Fast path: a one-byte head (0..23), most counters and indices.
    const ib = this.b[this.pos]!;
    if (ib < 24) {
      this.pos++;
      return ib;
    }
    const start = this.pos;
    let n = this.head();
    // Integers beyond 32 bits come as floats from cbor-x (and from us).
    if (this.major === 7 && this.b[start] === 0xfb) n = this.view.getFloat64(start + 1);
    else if (this.major === 7 && this.b[start] === 0xfa) n = this.view.getFloat32(start + 1);
    else if (this.major !== 0) n = -1;
    if (!Number.isSafeInteger(n) || n < 0) throw new CborError(`${what} is not a non-negative integer`);
    return n;
  }

  /** The length of a definite array. */
  array(what: string): number {
    const n = this.head();
    if (this.major !== 4 || n < 0) throw new CborError(`${what} is not an array`);
    // Every item takes at least a byte: refuse absurd lengths before allocating.
    if (n > this.b.length - this.pos) throw new CborError(`${what} is longer than the input`);
    return n;
  }

  /** A definite-length text string; `repeats` when it is likely seen before. */
  text(what: string, repeats = false): string {
    // Fast path: a one-byte head, strings under 24 bytes.
    const ib = this.b[this.pos]!;
    if (ib >= 0x60 && ib < 0x78) {
      this.pos++;
      return this.utf8(ib - 0x60, repeats);
    }
    const n = this.head();
    if (this.major !== 3 || n < 0) throw new CborError(`${what} is not a string`);
    return this.utf8(n, repeats);
  }

  private utf8(n: number, repeats: boolean): string {
    const b = this.b;
    const start = this.pos;
    const end = start + n;
    if (end > b.length) throw new CborError("string runs past the end of input");
    this.pos = end;
    if (n > 64) return this.decodeUtf8(start, end);
    let or = 0;
    for (let i = start; i < end; i++) or |= b[i]!;
    if (or >= 0x80) return this.decodeUtf8(start, end);
    // Short ASCII (most keys and values) without a TextDecoder call, and
    // repeated short strings (object keys, small values) from a cache.
    if (repeats && n <= 12 && b.length >= 4096) return this.cached(start, n);
    return n <= 16 ? ascii16(b, start, n) : this.ascii64(start, n);
  }

  private cached(p: number, n: number): string {
    const b = this.b;
    let h = n;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ b[p + i]!, 0x01000193);
    h = (h ^ (h >>> 15)) & (CACHE_SIZE - 1);
    const cache = (this.cache ??= new Array<string | undefined>(CACHE_SIZE));
    const c = cache[h];
    if (c !== undefined && c.length === n) {
      let i = 0;
      while (i < n && c.charCodeAt(i) === b[p + i]) i++;
      if (i === n) return c;
    }
    const s = ascii16(b, p, n);
    cache[h] = s;
    return s;
  }

  private ascii64(p: number, n: number): string {
    // One fromCharCode over an array gives a flat string; appending char by
    // char would build a rope that costs more later, when it is hashed.
    const codes = this.codes;
    codes.length = n;
    for (let i = 0; i < n; i++) codes[i] = this.b[p + i]!;
    return String.fromCharCode.apply(null, codes);
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
    const start = this.pos;
    const n = this.head();
    switch (this.major) {
      case 0:
        if (Number.isSafeInteger(n)) return n;
        break;
      case 1:
        if (Number.isSafeInteger(n)) return -1 - n;
        break;
      case 3:
        if (n >= 0) return this.utf8(n, true);
        break;
      case 4: {
        if (n < 0) break;
        if (n > this.b.length - this.pos) throw new CborError("array is longer than the input");
        const a: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) a[i] = this.value(depth + 1);
        return a;
      }
      case 5: {
        if (n < 0) break;
        if (n > this.b.length - this.pos) throw new CborError("map is longer than the input");
        const o: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          // Keys other than text (cbor-x turns them into strings) take the slow path.
          if (this.peek() >> 5 !== 3) return this.fallback(start, depth);
          const k = this.text("map key", true);
          const v = this.value(depth + 1);
          if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
          else o[k] = v;
        }
        return o;
      }
      case 7:
        switch (this.b[start]) {
          case 0xf4:
            return false;
          case 0xf5:
            return true;
          case 0xf6:
            return null;
          case 0xf7:
            return undefined;
          case 0xfa:
            return this.view.getFloat32(start + 1);
          case 0xfb:
            return this.view.getFloat64(start + 1);
        }
        break;
    }
    return this.fallback(start, depth);
  }

  /** Decode the item at `start` with cbor-x. */
  private fallback(start: number, depth: number): unknown {
    this.pos = start;
    this.skip(depth);
    try {
      return fallbackDecoder.decode(this.b.subarray(start, this.pos));
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
          if (this.pos + n > this.b.length) throw new CborError("string runs past the end of input");
          this.pos += n;
          return;
        }
        // Indefinite: definite chunks of the same type up to a break.
        while (this.peek() !== 0xff) {
          const len = this.head();
          if (this.major !== major || len < 0) throw new CborError("bad chunk in an indefinite string");
          if (this.pos + len > this.b.length) throw new CborError("string runs past the end of input");
          this.pos += len;
        }
        this.pos++;
        return;
      case 4:
      case 5: {
        const per = major === 5 ? 2 : 1;
        if (n >= 0) {
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

const fcc = String.fromCharCode;

/** `n` <= 16 ASCII bytes at `p` as a string, in one call (a flat string). */
function ascii16(b: Uint8Array, p: number, n: number): string {
  switch (n) {
    case 0:
      return "";
    case 1:
      return fcc(b[p]!);
    case 2:
      return fcc(b[p]!, b[p + 1]!);
    case 3:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!);
    case 4:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!);
    case 5:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!);
    case 6:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!);
    case 7:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!);
    case 8:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!);
  }
  const x = p + 8;
  switch (n) {
    case 9:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!);
    case 10:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!);
    case 11:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!);
    case 12:
      // prettier-ignore
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!, b[x + 3]!);
    case 13:
      // prettier-ignore
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!, b[x + 3]!, b[x + 4]!);
    case 14:
      // prettier-ignore
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!, b[x + 3]!, b[x + 4]!, b[x + 5]!);
    case 15:
      // prettier-ignore
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!, b[x + 3]!, b[x + 4]!, b[x + 5]!, b[x + 6]!);
    default:
      // prettier-ignore
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!, b[x + 3]!, b[x + 4]!, b[x + 5]!, b[x + 6]!, b[x + 7]!);
  }
}
