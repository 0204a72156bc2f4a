/**
 * GET /v1/dump's body, written a few hundred rooms per turn: a dump of a
 * million people is ~12 MB of JSON, and orderedJson() would build it in one
 * turn of several hundred milliseconds. The dump is complete before its
 * first byte (the app gathers every room or fails), so a failure is never a
 * half-written 200. The text is what orderedJson() writes: rooms in sorted
 * order (integer-like names included), each list as given.
 */
import { runtimeDefer } from "../adapter/defer.ts";
import { withPrebuilt } from "../adapter/prebuilt.ts";
import { INDEX_LIKE, JSON_CONTENT_TYPE } from "./json.ts";

/** Rooms written per turn (about 10 people each at scale: ~15 KB, about a ms; 2,000 took 4-15 ms alone, several times that under load). */
export const DUMP_ROOMS_PER_TURN = 500;

/** The dump's rooms in the order orderedJson() prints them. */
function roomOrder(dump: Record<string, string[]>): string[] {
  const keys = Object.keys(dump);
  // JavaScript lists integer-like keys first: then the insertion order (sorted) is lost.
  if (keys.length > 0 && INDEX_LIKE.test(keys[0]!)) keys.sort();
  return keys;
}

/** `dump` as JSON text, piece by piece (`perPiece` rooms each); joined, equal to orderedJson(dump). */
export function* dumpJsonPieces(dump: Record<string, string[]>, perPiece = DUMP_ROOMS_PER_TURN): Generator<string> {
  const keys = roomOrder(dump);
  if (keys.length === 0) {
    yield "{}";
    return;
  }
  for (let from = 0; from < keys.length; from += perPiece) {
    let s = from === 0 ? "{" : ",";
    const to = Math.min(keys.length, from + perPiece);
    for (let i = from; i < to; i++) {
      const k = keys[i]!;
      // A list of strings: JSON.stringify writes exactly what orderedJson() would, natively.
      s += (i === from ? "" : ",") + JSON.stringify(k) + ":" + JSON.stringify(dump[k]);
    }
    yield to === keys.length ? s + "}" : s;
  }
}

/**
 * A 200 whose body is `dump`, encoded one piece per turn of the event loop
 * and handed to the server whole, as known bytes (prebuilt): a streamed body
 * was read back and joined by the server in one turn (10 MB at a million
 * people: 25-50 ms), where joining the pieces here is one copy.
 */
export async function dumpResponse(dump: Record<string, string[]>): Promise<Response> {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const pieces = dumpJsonPieces(dump);
  for (let next = pieces.next(); next.done !== true; next = pieces.next()) {
    const bytes = encoder.encode(next.value);
    chunks.push(bytes);
    total += bytes.byteLength;
    await new Promise<void>((resolve) => runtimeDefer(resolve));
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  const res = new Response(body, { status: 200, headers: { "content-type": JSON_CONTENT_TYPE } });
  return withPrebuilt(res, { status: 200, headers: `content-type: ${JSON_CONTENT_TYPE}\r\n`, body });
}
