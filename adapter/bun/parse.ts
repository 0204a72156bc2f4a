/**
 * HTTP/1.1 request parsing for serve.ts: the head (request line and
 * header fields) and the body's framing (Content-Length, or chunked). Strict
 * where leniency would let two parsers disagree about where a request ends
 * (both framings at once, a malformed length or chunk size, folded or
 * space-padded header names): those throw HeadError, answered 400.
 */

import { latin1AsUtf8 } from "../url-text.ts";

/** A request the server refuses: 400 (malformed) or 413 (body past the cap). */
export class HeadError extends Error {
  constructor(readonly status: 400 | 413) {
    super(`HTTP ${status}`);
  }
}

/** Thrown into a body read when the client left before sending all of it. */
export class ClientGoneError extends Error {
  constructor() {
    super("the client closed the connection before the whole request body arrived");
    this.name = "ClientGoneError";
  }
}

/** A body that fails when read: the handler sees the client's disconnect as a failed read, as under Bun.serve or Deno. */
export function failingBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.error(new ClientGoneError()) });
}

export interface RequestHead {
  method: string;
  target: string;
  /** Shared by requests with the same header section: copy it (a Request does), never change it. */
  headers: Headers;
  http10: boolean;
  /** The connection closes after this request's answer (Connection: close, or HTTP/1.0 without keep-alive). */
  close: boolean;
  expectContinue: boolean;
  /** -1: none given. */
  contentLength: number;
  chunked: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible ASCII and obs-text: no spaces or controls in a request target.
const TARGET = /^[\x21-\x7e\x80-\xff]+$/;
// Controls but tab, and CR or LF other than as a CRLF pair: a NUL or bare CR could smuggle.
// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
// Every header line a field name, a colon, a value: a line folded (leading space) or with a space before the colon fails.
const FIELDS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*)*$/;
const DIGITS = /^\d{1,15}$/;

/** What a header section says, parsed once per distinct text (see FIELDS_SEEN). */
interface Fields {
  headers: Headers;
  contentLength: number;
  chunked: boolean;
  /** Connection: close, or keep-alive (what HTTP/1.0 needs to stay open). */
  closeAsked: boolean;
  keepAliveAsked: boolean;
  expect100: boolean;
}

/**
 * Header sections already parsed, by their exact text: a client sends the
 * same few again and again (wrk, fetch and curl vary at most the length),
 * and a Headers handed to a Request is copied natively, about a microsecond
 * less than building one from the fields, besides the parsing. Bounded:
 * cleared when full, and long sections are not kept.
 */
const FIELDS_SEEN = new Map<string, Fields>();
const FIELDS_SEEN_MAX = 512;
const FIELDS_SEEN_MAX_CHARS = 2048;

/**
 * Whether a head still incomplete in `data` from `off` can never become one
 * this parser takes, so it is refused now rather than at the idle timeout:
 * a first byte that starts no method (a TLS ClientHello, 0x16), or a line
 * ended by a bare LF (RFC 9112 2.2 lets a server refuse those; we do, as
 * for a complete head).
 */
export function hopelessHead(data: Uint8Array, off: number): boolean {
  // A lone CR at the end may be the start of an empty line between requests (its LF still to come).
  if (off < data.length && !TOKEN.test(String.fromCharCode(data[off]!)) && !(data[off] === 13 && off + 1 === data.length)) return true;
  const lf = (data as Buffer).indexOf(10, off);
  return lf >= 0 && (lf === off || data[lf - 1] !== 13);
}

/** Parses the head in `data[off, end)` (`end`: where its closing CRLF CRLF starts). */
export function parseHead(data: Uint8Array, off: number, end: number): RequestHead {
  if (end - off > 64 * 1024) throw new HeadError(400);
  const text = (data as Buffer).toString("latin1", off, end);
  let eol = text.indexOf("\r\n");
  if (eol < 0) eol = text.length;
  const sp1 = text.indexOf(" ");
  const sp2 = sp1 < 0 ? -1 : text.indexOf(" ", sp1 + 1);
  if (sp2 < 0 || sp2 > eol) throw new HeadError(400);
  const method = text.slice(0, sp1);
  const raw = text.slice(sp1 + 1, sp2);
  const version = text.slice(sp2 + 1, eol);
  if (!TOKEN.test(method) || !TARGET.test(raw)) throw new HeadError(400);
  // Raw bytes past ASCII are read as the UTF-8 they are (url-text.ts); bytes that are not UTF-8 are refused.
  const target = latin1AsUtf8(raw);
  if (target === null) throw new HeadError(400);
  const http10 = version === "HTTP/1.0";
  if (!http10 && version !== "HTTP/1.1") throw new HeadError(400);
  const block = eol < text.length ? text.slice(eol + 2) : "";
  let f = FIELDS_SEEN.get(block);
  if (f === undefined) {
    f = parseFields(block);
    if (block.length <= FIELDS_SEEN_MAX_CHARS) {
      if (FIELDS_SEEN.size >= FIELDS_SEEN_MAX) FIELDS_SEEN.clear();
      FIELDS_SEEN.set(block, f);
    }
  }
  return {
    method,
    target,
    headers: f.headers,
    http10,
    close: f.closeAsked || (http10 && !f.keepAliveAsked),
    expectContinue: f.expect100 && !http10,
    contentLength: f.contentLength,
    chunked: f.chunked,
  };
}

function parseFields(block: string): Fields {
  if (BAD_CHARS.test(block) || (block !== "" && !FIELDS.test(block))) throw new HeadError(400);
  const headers = new Headers();
  let contentLength = -1;
  let te: string | null = null;
  let conn: string | null = null;
  let expect: string | null = null;
  let pos = 0;
  while (pos < block.length) {
    let next = block.indexOf("\r\n", pos);
    if (next < 0) next = block.length;
    const colon = block.indexOf(":", pos);
    const name = block.slice(pos, colon);
    const value = block.slice(colon + 1, next).trim();
    headers.append(name, value);
    pos = next + 2;
    const key = name.toLowerCase();
    if (key === "content-length") {
      // Repeats must agree ("5, 5" is one length); anything else could frame two ways.
      for (const v of value.split(",")) {
        const t = v.trim();
        if (!DIGITS.test(t) || (contentLength >= 0 && Number(t) !== contentLength)) throw new HeadError(400);
        contentLength = Number(t);
      }
    } else if (key === "transfer-encoding") te = te === null ? value : te + "," + value;
    else if (key === "connection") conn = conn === null ? value : conn + "," + value;
    else if (key === "expect") expect = value;
  }
  let chunked = false;
  if (te !== null) {
    // Only chunked is spoken; with a Content-Length too the framing is ambiguous (request smuggling).
    if (te.trim().toLowerCase() !== "chunked" || contentLength >= 0) throw new HeadError(400);
    chunked = true;
  }
  let closeAsked = false;
  let keepAliveAsked = false;
  for (const t of (conn ?? "").toLowerCase().split(",")) {
    const o = t.trim();
    if (o === "close") closeAsked = true;
    else if (o === "keep-alive") keepAliveAsked = true;
  }
  const expect100 = expect !== null && expect.toLowerCase() === "100-continue";
  return { headers, contentLength, chunked, closeAsked, keepAliveAsked, expect100 };
}

/** Reads one request's body as it arrives. */
export interface BodyReader {
  /** Takes what it can of `data` from `off`; returns where it stopped (what is left is not its). */
  feed(data: Uint8Array, off: number): number;
  complete: boolean;
  /** Why the body is refused (the connection then closes). */
  failed: 400 | 413 | null;
  bytes(): Uint8Array;
}

/** The reader for `head`'s body, or null when it has none. */
export function startBody(head: RequestHead, cap: number): BodyReader | null {
  if (head.chunked) return new ChunkedBody(cap);
  if (head.contentLength <= 0) return null;
  return new LengthBody(head.contentLength, cap);
}

abstract class Parts {
  complete = false;
  failed: 400 | 413 | null = null;
  protected parts: Uint8Array[] = [];
  protected total = 0;

  /**
   * A view, not a copy: Bun hands each read its own buffer, and the Request
   * made from the body copies it, so the chunk is not held on to for long.
   */
  protected take(data: Uint8Array, from: number, to: number): void {
    this.parts.push(data.subarray(from, to));
    this.total += to - from;
  }

  bytes(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  }
}

class LengthBody extends Parts implements BodyReader {
  constructor(
    private remaining: number,
    cap: number,
  ) {
    super();
    if (remaining > cap) this.failed = 413; // refused before a byte of it is read
  }

  feed(data: Uint8Array, off: number): number {
    if (this.failed !== null) return off;
    const n = Math.min(this.remaining, data.length - off);
    if (n > 0) this.take(data, off, off + n);
    this.remaining -= n;
    this.complete = this.remaining === 0;
    return off + n;
  }
}

const enum Chunk {
  Size,
  Data,
  DataEnd,
  Trailer,
}

const HEX = /^[0-9a-fA-F]{1,12}$/;
const CRLF = Buffer.from("\r\n");
/** Longest chunk-size line (with extensions) or trailer section taken. */
const MAX_LINE = 8 * 1024;

class ChunkedBody extends Parts implements BodyReader {
  private state = Chunk.Size;
  private left = 0;
  private trailerBytes = 0;

  constructor(private readonly cap: number) {
    super();
  }

  feed(data: Uint8Array, off: number): number {
    const buf = data as Buffer;
    while (!this.complete && this.failed === null) {
      if (this.state === Chunk.Data) {
        const n = Math.min(this.left, data.length - off);
        if (n === 0) return off;
        this.take(data, off, off + n);
        off += n;
        this.left -= n;
        if (this.left === 0) this.state = Chunk.DataEnd;
        continue;
      }
      if (this.state === Chunk.DataEnd) {
        if (data.length - off < 2) return off;
        if (data[off] !== 13 || data[off + 1] !== 10) this.failed = 400;
        off += 2;
        this.state = Chunk.Size;
        continue;
      }
      const eol = buf.indexOf(CRLF, off);
      if (eol < 0) {
        if (data.length - off > MAX_LINE) this.failed = 400;
        return off;
      }
      const line = buf.toString("latin1", off, eol);
      off = eol + 2;
      if (this.state === Chunk.Trailer) {
        // Trailer fields are read past and dropped; an empty line ends the body.
        this.trailerBytes += line.length + 2;
        if (line === "") this.complete = true;
        else if (this.trailerBytes > MAX_LINE) this.failed = 400;
        continue;
      }
      const semi = line.indexOf(";");
      const hex = (semi < 0 ? line : line.slice(0, semi)).trimEnd();
      if (!HEX.test(hex)) {
        this.failed = 400;
        break;
      }
      const size = parseInt(hex, 16);
      if (this.total + size > this.cap) this.failed = 413; // refused at the chunk that would pass the cap, before reading it
      else if (size === 0) this.state = Chunk.Trailer;
      else {
        this.left = size;
        this.state = Chunk.Data;
      }
    }
    return off;
  }
}
