/**
 * A small, fast CBOR (RFC 8949) writer for JSON-like values, the hot path of
 * delta and wire-message encoding. It writes null, booleans, numbers,
 * strings, arrays, plain objects and Uint8Array (a bare byte string) itself
 * and hands anything else (bigint, typed arrays, dates, maps...) to cbor-x,
 * so the bytes are plain CBOR any reader decodes.
 * Why not cbor-x throughout: building an intermediate array for it and
 * copying cost about 3x more than writing entries directly.
 */
// The pure-JS entry: the default one loads the optional native string
// extractor (cbor-extract), which crashes under Bun 1.4.
import { Encoder } from "cbor-x/encode";

/** What the writer hands values it does not encode itself to. */
export interface FallbackEncoder {
  encode(value: unknown): Uint8Array;
}

const defaultFallback: FallbackEncoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });

/** A new buffer for take() once less than this is left in the current one. */
const TAKE_RESERVE = 1024;

/** Nesting beyond this is refused (when writing, most likely a cycle). */
export const MAX_DEPTH = 256;

const TWO_32 = 4294967296;
// Lone surrogates become U+FFFD, as in utf8Tail below.
const utf8Encoder = new TextEncoder();
/**
 * Two ways to use it: write one item and finish(); or, for many small items
 * (wire messages), keep one writer and take() each item as a view of a shared
 * buffer, as cbor-x does: later items go after it, never over it. Between
 * take()s the written bytes are "pending": they may be patched, cut back, or
 * taken a part at a time (a queue of frames, say).
 */
export class CborWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  /** where the pending bytes start (everything before was taken) */
  private base = 0;
  private readonly sizeHint: number;
  private readonly fallback: FallbackEncoder;
  /** Nothing enumerable on Object.prototype (checked once per writer): for-in then lists own keys only. */
  private readonly forInSafe = cleanObjectPrototype();

  constructor(sizeHint = 256, fallback: FallbackEncoder = defaultFallback) {
    this.sizeHint = Math.max(64, sizeHint);
    this.buf = new Uint8Array(this.sizeHint);
    this.view = new DataView(this.buf.buffer);
    this.fallback = fallback;
  }

  /** The bytes written; copied to a tight buffer when much was left unused. */
  finish(): Uint8Array {
    const unused = this.buf.length - this.pos;
    if (unused > 65536 && unused * 2 > this.pos) return this.buf.slice(0, this.pos);
    return this.buf.subarray(0, this.pos);
  }

  /** Bytes written since the last take(). */
  get pending(): number {
    return this.pos - this.base;
  }

  /**
   * The first `n` pending bytes (default: all) as a view that later writes
   * never overwrite; what follows stays pending.
   */
  take(n = this.pos - this.base): Uint8Array {
    const out = this.buf.subarray(this.base, this.base + n);
    this.base += n;
    if (this.base === this.pos && this.buf.length - this.pos < TAKE_RESERVE) {
      this.buf = new Uint8Array(this.sizeHint);
      this.view = new DataView(this.buf.buffer);
      this.pos = this.base = 0;
    }
    return out;
  }

  /** Keep only the first `n` pending bytes (undo an item that failed half-way). */
  truncate(n: number): void {
    this.pos = this.base + Math.max(0, Math.min(n, this.pos - this.base));
  }

  /** Drop all pending bytes. */
  abandon(): void {
    this.pos = this.base;
  }

  /** Leave `n` bytes to be filled in later with setUint32 (a length, say). */
  reserve(n: number): void {
    this.room(n);
    this.pos += n;
  }

  /** Write `n` big-endian over 4 pending bytes at offset `at`. */
  setUint32(at: number, n: number): void {
    this.view.setUint32(this.base + at, n);
  }

  /** The big-endian uint32 at pending offset `at`. */
  getUint32(at: number): number {
    return this.view.getUint32(this.base + at);
  }

  /** Append raw bytes. */
  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private room(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    // Only the pending bytes move: views handed out by take() keep the old buffer.
    const keep = this.pos - this.base;
    let size = this.buf.length;
    while (size < keep + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(this.base, this.pos));
    this.buf = b;
    this.view = new DataView(b.buffer);
    this.pos = keep;
    this.base = 0;
  }

  /** Replace the one-byte head `rel` bytes past `base` by the head of `major` with argument `n`, moving what follows. */
  private rehead(rel: number, major: number, n: number): void {
    const extra = headSize(n) - 1;
    this.room(extra); // may move the pending bytes: `at` is taken after
    const at = this.base + rel;
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos);
    const end = this.pos + extra;
    this.pos = at;
    this.head(major, n);
    this.pos = end;
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = b;
  }

  /** A head: major type and its argument, a non-negative safe integer. */
  head(major: number, n: number): void {
    this.room(9);
    const b = this.buf;
    const m = major << 5;
    let p = this.pos;
    if (n < 24) {
      b[p++] = m | n;
    } else if (n < 0x100) {
      b[p++] = m | 24;
      b[p++] = n;
    } else if (n < 0x10000) {
      b[p++] = m | 25;
      b[p++] = n >>> 8;
      b[p++] = n;
    } else if (n < TWO_32) {
      b[p++] = m | 26;
      b[p++] = n >>> 24;
      b[p++] = n >>> 16;
      b[p++] = n >>> 8;
      b[p++] = n;
    } else {
      b[p++] = m | 27;
      this.view.setUint32(p, Math.floor(n / TWO_32));
      this.view.setUint32(p + 4, n >>> 0);
      p += 8;
    }
    this.pos = p;
  }

  /** A text string, UTF-8 (a lone surrogate becomes U+FFFD, as TextEncoder does). */
  text(s: string): void {
    const len = s.length;
    if (len < 24) {
      // Short ASCII, the common case: one-byte head, one byte per unit.
      if (this.pos + 24 > this.buf.length) this.grow(24);
      const b = this.buf;
      const start = this.pos;
      let p = start + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === len) {
        b[start] = 0x60 | len;
        this.pos = p;
        return;
      }
    }
    this.textSlow(s);
  }

  private textSlow(s: string): void {
    const len = s.length;
    if (len > 1024) {
      // Long text (a delta's key column): the native encoder is faster.
      const bytes = utf8Encoder.encode(s);
      this.head(3, bytes.length);
      this.room(bytes.length);
      this.buf.set(bytes, this.pos);
      this.pos += bytes.length;
      return;
    }
    this.room(len * 3 + 9);
    const b = this.buf;
    const start = this.pos;
    // Guess the header from the length in UTF-16 units (exact for ASCII).
    const guess = headSize(len);
    let p = start + guess;
    const from = p;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[p++] = c;
    }
    if (i < len) p = utf8Tail(s, i, b, p);
    const n = p - from;
    const need = headSize(n);
    if (need !== guess) b.copyWithin(start + need, from, p);
    this.pos = start;
    this.head(3, n);
    this.pos = start + need + n;
  }

  /** A non-negative safe integer. */
  uint(n: number): void {
    if (n < 24) {
      if (this.pos >= this.buf.length) this.grow(1);
      this.buf[this.pos++] = n;
    } else if (n < TWO_32) {
      this.head(0, n);
    } else {
      this.float(n);
    }
  }

  /**
   * A number. Integers beyond 32 bits go out as floats, exactly as cbor-x
   * writes them: its reader turns 64-bit CBOR integers into bigints.
   */
  number(n: number): void {
    if (Number.isInteger(n) && n < TWO_32 && n >= -TWO_32 && !(n === 0 && 1 / n < 0)) {
      if (n >= 0) this.uint(n);
      else this.head(1, -1 - n);
    } else {
      this.float(n);
    }
  }

  private float(n: number): void {
    if (Math.fround(n) === n) {
      this.room(5);
      this.buf[this.pos] = 0xfa;
      this.view.setFloat32(this.pos + 1, n);
      this.pos += 5;
    } else {
      this.room(9);
      this.buf[this.pos] = 0xfb;
      this.view.setFloat64(this.pos + 1, n);
      this.pos += 9;
    }
  }

  /** Any value: JSON-like ones directly, others through cbor-x. */
  value(v: unknown, depth = 0): void {
    switch (typeof v) {
      case "string":
        this.text(v);
        return;
      case "number":
        this.number(v);
        return;
      case "boolean":
        this.byte(v ? 0xf5 : 0xf4);
        return;
      case "undefined":
        this.byte(0xf7);
        return;
      case "object": {
        if (v === null) {
          this.byte(0xf6);
          return;
        }
        if (depth >= MAX_DEPTH) throw new RangeError(`value nested deeper than ${MAX_DEPTH} (a cycle?)`);
        if (Array.isArray(v)) {
          const n = v.length;
          this.head(4, n);
          for (let i = 0; i < n; i++) this.value(v[i], depth + 1);
          return;
        }
        if (v instanceof Uint8Array) {
          // A bare byte string (major type 2), as cbor-x writes it with tagUint8Array off.
          const n = v.length;
          this.head(2, n);
          this.room(n);
          this.buf.set(v, this.pos);
          this.pos += n;
          return;
        }
        const proto: unknown = Object.getPrototypeOf(v);
        if (proto === Object.prototype || proto === null) {
          const o = v as Record<string, unknown>;
          if (proto === null || !this.forInSafe) {
            const keys = Object.keys(o);
            this.head(5, keys.length);
            for (let i = 0; i < keys.length; i++) {
              const k = keys[i]!;
              this.text(k);
              this.value(o[k], depth + 1);
            }
            return;
          }
          // for-in walks the object without making a list of its keys; with
          // nothing enumerable on Object.prototype it yields exactly the own
          // enumerable keys Object.keys would, in the same order. The head
          // (the count) goes in once the keys are counted.
          const at = this.pos - this.base; // relative: a grow() moves the pending bytes
          this.byte(0xa0);
          let n = 0;
          for (const k in o) {
            this.text(k);
            this.value(o[k], depth + 1);
            n++;
          }
          if (n < 24) this.buf[this.base + at] = 0xa0 + n;
          else this.rehead(at, 5, n);
          return;
        }
        break;
      }
    }
    const bytes = this.fallback.encode(v);
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}

function cleanObjectPrototype(): boolean {
  for (const _ in Object.prototype) return false;
  return true;
}

function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < TWO_32 ? 5 : 9;
}

/** UTF-8 of `s` from index `i` on, into `b` at `p`; returns the new end. */
function utf8Tail(s: string, i: number, b: Uint8Array, p: number): number {
  const len = s.length;
  for (; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      b[p++] = c;
    } else if (c < 0x800) {
      b[p++] = 0xc0 | (c >> 6);
      b[p++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < len ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          b[p++] = 0xf0 | (cp >> 18);
          b[p++] = 0x80 | ((cp >> 12) & 63);
          b[p++] = 0x80 | ((cp >> 6) & 63);
          b[p++] = 0x80 | (cp & 63);
          i++;
          continue;
        }
        c = 0xfffd;
      }
      b[p++] = 0xe0 | (c >> 12);
      b[p++] = 0x80 | ((c >> 6) & 63);
      b[p++] = 0x80 | (c & 63);
    }
  }
  return p;
}
