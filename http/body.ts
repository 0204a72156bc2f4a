/**
 * Request bodies: read within a size limit, parsed as JSON, and the shapes
 * checked. Shape problems are `bad_request`; names inside are checked by the
 * core rules (`invalid_name`), so the same message reaches HTTP and library
 * callers.
 */
import { RoomyError } from "../core/errors.ts";

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

// decode() without {stream: true} keeps no state between calls: one is enough.
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The server refuses bodies past the hard cap itself (adapter/serve.ts), with
 * the app's JSON 413 (http/app.ts serverRefusal): then the whole body can be
 * read before checking. A little over the app's limit, which stays the
 * app's to enforce (route by route, after the token): what a body can make
 * the server hold is at most this for each of the requests a connection may
 * have in flight (128: 16 MiB; it was 1 MiB, 128 MiB, before any token check).
 */
export const HARD_BODY_CAP_BYTES = 2 * DEFAULT_MAX_BODY_BYTES;

/**
 * The body as a JSON object, at most `limit` bytes. `serverCapped`: the
 * server itself refuses bodies past a hard cap (Bun.serve's
 * maxRequestBodySize), so the body is read whole as text and then measured,
 * without touching the headers (on Bun the first look at req.headers costs
 * ~2 µs a request); otherwise the declared length is checked first and a
 * chunked body is counted as it streams in.
 */
export function readJson(req: Request, limit: number, serverCapped = false): Promise<Record<string, unknown>> {
  // Not async on the capped path: one promise (text()'s) and its then, no
  // async frame around them.
  if (serverCapped) return req.text().then((text) => parseBody(text, limit, true));
  return readCounted(req, limit);
}

/**
 * readJson's capped path after `req.text()`: for a caller that awaits the
 * text itself (http/instrument.ts), one promise fewer on every write.
 */
export function parseCappedBody(text: string, limit: number): Record<string, unknown> {
  return parseBody(text, limit, true);
}

async function readCounted(req: Request, limit: number): Promise<Record<string, unknown>> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  // With a declared length the server reads no more than that, so the whole
  // body can be taken at once (several times cheaper than a stream reader
  // under Bun); without one (chunked), count as it streams in.
  const bytes = declared !== null ? await wholeBody(req, limit) : await readLimited(req, limit);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw notUtf8();
  }
  return parseBody(text, limit, false);
}

/**
 * `text` as a JSON object. `measure`: the text was read whole (text()
 * decodes natively, cheaper than bytes then a TextDecoder, but replaces bad
 * UTF-8 with U+FFFD instead of failing), so its size is checked here.
 */
function parseBody(text: string, limit: number, measure: boolean): Record<string, unknown> {
  if (measure && text.length * 3 > limit && utf8Length(text) > limit) throw tooLarge(limit);
  // A U+FFFD is refused as the bad UTF-8 it most likely was, however the body was read, so Bun and Deno answer alike.
  if (text.includes("\uFFFD")) throw notUtf8();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Only a failed parse can be an empty body: no trim() on the way of every good one.
    if (text.trim() === "") throw new RoomyError("bad_request", "request body is empty; expected a JSON object");
    throw new RoomyError("bad_request", `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RoomyError("bad_request", "request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Bytes `s` takes in UTF-8 (lone surrogates count as the 3 bytes of U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function notUtf8(): RoomyError {
  return new RoomyError("bad_request", "request body is not valid UTF-8 (or holds U+FFFD, the mark of bytes that were not)");
}

async function wholeBody(req: Request, limit: number): Promise<Uint8Array> {
  // bytes() (Bun, Deno 2) hands over the body without the ArrayBuffer-then-view round trip.
  const r = req as { bytes?: () => Promise<Uint8Array> };
  const bytes = typeof r.bytes === "function" ? await r.bytes() : new Uint8Array(await req.arrayBuffer());
  if (bytes.byteLength > limit) throw tooLarge(limit);
  return bytes;
}

async function readLimited(req: Request, limit: number): Promise<Uint8Array> {
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

function tooLarge(limit: number): RoomyError {
  return new RoomyError("payload_too_large", `request body is larger than ${limit} bytes`);
}

/** A required field that must be a list (its items are checked by the rules). */
export function listField(body: Record<string, unknown>, name: string): unknown[] {
  const v = body[name];
  if (v === undefined) throw new RoomyError("bad_request", `field "${name}" is required`);
  if (!Array.isArray(v)) throw new RoomyError("bad_request", `field "${name}" must be a list of names`);
  return v;
}

/** A required field, passed on as is to the rules that check it. */
export function requiredField(body: Record<string, unknown>, name: string): unknown {
  const v = body[name];
  if (v === undefined) throw new RoomyError("bad_request", `field "${name}" is required`);
  return v;
}

/**
 * `body`, refused (bad_request) when it holds a field the route does not
 * take: a misspelt "capcity" must not create a room without a capacity, nor
 * a "room" beside the path's room be dropped unsaid.
 */
export function onlyFields(body: Record<string, unknown>, allowed: readonly string[]): Record<string, unknown> {
  for (const k in body) {
    if (!allowed.includes(k)) {
      throw new RoomyError("bad_request", `unknown field ${JSON.stringify(k)}: this route takes ${allowed.map((f) => JSON.stringify(f)).join(", ")}`);
    }
  }
  return body;
}
