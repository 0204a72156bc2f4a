/**
 * GET /v1/dump's body, written a slice of rooms per turn: a dump of a
 * million people is ~11 MB of JSON, and orderedJson() would build it in one
 * turn of several hundred milliseconds. The dump is complete before its
 * first byte (the app gathers every room or fails), so a failure is never a
 * half-written 200. The text is what orderedJson() writes for dump(): rooms
 * in sorted order (integer-like names included), each list sorted.
 */
import { runtimeDefer } from "../adapter/defer.ts";
import { releaseBuffer, withPrebuilt } from "../adapter/prebuilt.ts";
import type { DumpText } from "../core/rooms/rooms.ts";
import { JSON_CONTENT_TYPE } from "./json.ts";

/** Rooms written per turn (about 10 people each at scale: ~11 KB of text, well under a ms from the index's keys). */
export const DUMP_ROOMS_PER_TURN = 1000;

/** `dump` as JSON text, piece by piece (`perPiece` rooms each); joined, equal to orderedJson of the same dump as a record, and to the bytes dumpResponse writes. */
export function* dumpJsonPieces(dump: DumpText, perPiece = DUMP_ROOMS_PER_TURN): Generator<string> {
  const n = dump.rooms.length;
  if (n === 0) {
    yield "{}";
    return;
  }
  for (let from = 0; from < n; from += perPiece) {
    const to = Math.min(n, from + perPiece);
    yield (from === 0 ? "{" : ",") + dump.jsonOf(from, to) + (to === n ? "}" : "");
  }
}

/**
 * A 200 whose body is `dump`, written one slice of rooms per turn of the
 * event loop straight into one buffer, and handed to the server whole, as
 * known bytes (prebuilt): a streamed body was read back and joined by the
 * server in one turn (10 MB at a million people: 25-50 ms). Each room goes
 * in as its own bytes (its name, then its people's text as the dump holds
 * it): no string is made per slice or per room name, which at a million
 * people was ~15 MB of garbage a dump (slices of ~110 KB, a quoted name a
 * room), on top of this buffer, that an idle node kept resident. The
 * buffer is sized after the first rooms from their bytes per room, so the
 * text is held about once.
 */
export async function dumpResponse(dump: DumpText, perPiece = DUMP_ROOMS_PER_TURN): Promise<Response> {
  const total = dump.rooms.length;
  const out = new DumpBytes(total);
  if (total === 0) out.ascii("{}");
  for (let from = 0; from < total; from += perPiece) {
    const to = Math.min(total, from + perPiece);
    for (let i = from; i < to; i++) {
      out.byte(i === 0 ? OPEN : COMMA);
      out.name(dump.rooms[i]!);
      out.byte(COLON);
      const bytes = dump.roomBytes?.(i) ?? null;
      if (bytes !== null) out.raw(bytes);
      else out.text(dump.roomJson(i));
      out.done = i + 1;
    }
    if (to === total) out.byte(CLOSE);
    await new Promise<void>((resolve) => runtimeDefer(resolve));
  }
  // The answers' bytes are in the body now: their buffers go back at once.
  for (const b of dump.buffers?.() ?? []) releaseBuffer(b);
  const body = out.bytes();
  // The Response reads the bytes only if asked (Hono's app.request, Deno.serve):
  // `new Response(bytes)` would copy all of them, one more dump-sized buffer.
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

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const COMMA = 0x2c;
const COLON = 0x3a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** The buffer's first size: a few hundred rooms, after which their bytes per room size it for all. */
const FIRST_BYTES = 64 * 1024;

/** The dump's UTF-8 bytes as they are written: ASCII copied a unit at a time, anything else through TextEncoder. */
class DumpBytes {
  private buf = new Uint8Array(0);
  private at = 0;
  private readonly encoder = new TextEncoder();
  /** rooms written so far (sizes the buffer for the rest) */
  done = 0;
  constructor(private readonly total: number) {}

  byte(b: number): void {
    if (this.at === this.buf.length) this.room(1);
    this.buf[this.at++] = b;
  }

  /** A room's name as JSON.stringify writes it: quoted as is when nothing in it is escaped or beyond ASCII. */
  name(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === QUOTE || c === BACKSLASH || c >= 0x80) return this.text(JSON.stringify(s));
    }
    this.byte(QUOTE);
    this.ascii(s);
    this.byte(QUOTE);
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
