/**
 * A big JSON body written as UTF-8 bytes straight into one buffer (the dump,
 * /v1/crdt), sized after its first items from their bytes per item, so the
 * text is held about once and no string is made per piece; and the
 * Response for it, whose buffer the server frees once written.
 */
import { releaseBuffer } from "../adapter/release.ts";
import { withPrebuilt } from "../adapter/prebuilt.ts";
import { JSON_CONTENT_TYPE } from "./json.ts";

/**
 * A 200 of JSON `body`, known bytes (prebuilt) the server may free once
 * written. The Response itself reads the bytes only if asked (Hono's
 * app.request, Deno.serve): `new Response(bytes)` would copy all of them.
 */
export function releasedJsonResponse(body: Uint8Array): Response {
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(body);
      c.close();
    },
  });
  const headers = { "content-type": JSON_CONTENT_TYPE, "content-length": String(body.byteLength) };
  const res = new Response(stream, { status: 200, headers });
  return withPrebuilt(res, { status: 200, headers: `content-type: ${JSON_CONTENT_TYPE}\r\n`, body, release: true });
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_LIST = 0x5b; // [
const CLOSE_LIST = 0x5d; // ]
/** The buffer's first size: a few hundred items, after which their bytes per item size it for all. */
const FIRST_BYTES = 64 * 1024;

/** UTF-8 bytes as they are written: ASCII copied a unit at a time, anything else through TextEncoder. */
export class JsonBytes {
  private buf = new Uint8Array(0);
  private at = 0;
  private readonly encoder = new TextEncoder();
  /** items (rooms, entries) written so far, of `total`: sizes the buffer for the rest */
  done = 0;
  constructor(private readonly total: number) {}

  byte(b: number): void {
    if (this.at === this.buf.length) this.room(1);
    this.buf[this.at++] = b;
  }

  /**
   * `people` as a JSON array of names, as JSON.stringify writes it, each
   * name read from `from` on (a person key's name after its prefix): written
   * straight from the strings, no string made per name or per room.
   */
  names(people: readonly string[], from: number): void {
    this.byte(OPEN_LIST);
    for (let j = 0; j < people.length; j++) {
      if (j > 0) this.byte(COMMA);
      this.name(people[j]!, from);
    }
    this.byte(CLOSE_LIST);
  }

  /** A name (`s` from index `from` on) as JSON.stringify writes it: quoted as is when nothing in it is escaped or beyond ASCII. */
  name(s: string, from = 0): void {
    const n = s.length - from;
    this.room(n + 2);
    const buf = this.buf;
    let at = this.at;
    buf[at++] = QUOTE;
    for (let i = from; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === QUOTE || c === BACKSLASH || c >= 0x80) return this.text(JSON.stringify(s.slice(from)));
      buf[at++] = c;
    }
    buf[at++] = QUOTE;
    this.at = at;
  }

  /** `s` as UTF-8. */
  text(s: string): void {
    // At most 3 bytes per UTF-16 unit.
    this.room(3 * s.length);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.at += this.encoder.encodeInto(s, buf.subarray(this.at)).written;
        return;
      }
      buf[at++] = c;
    }
    this.at = at;
  }

  /** UTF-8 bytes as they are. */
  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /** `s`, known to be ASCII. */
  ascii(s: string): void {
    this.room(s.length);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
    this.at = at;
  }

  bytes(): Uint8Array<ArrayBuffer> {
    return this.buf.subarray(0, this.at);
  }

  /** Room for `n` more bytes: else a buffer as big as the rooms so far say the whole needs (at least twice this one). */
  private room(n: number): void {
    const need = this.at + n;
    if (need <= this.buf.length) return;
    const guess = this.done === 0 ? 0 : Math.ceil((this.at / this.done) * this.total * 1.05);
    const grown = new Uint8Array(Math.max(need, guess, 2 * this.buf.length, FIRST_BYTES));
    grown.set(this.buf.subarray(0, this.at));
    releaseBuffer(this.buf);
    this.buf = grown;
  }
}
