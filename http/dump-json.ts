/**
 * GET /v1/dump's body, written a slice of rooms per turn: a dump of a
 * million people is ~11 MB of JSON, and orderedJson() would build it in one
 * turn of several hundred milliseconds. The dump is complete before its
 * first byte (the app gathers every room or fails), so a failure is never a
 * half-written 200. The text is what orderedJson() writes for dump(): rooms
 * in sorted order (integer-like names included), each list sorted.
 */
import { runtimeDefer } from "../adapter/defer.ts";
import { withPrebuilt } from "../adapter/prebuilt.ts";
import type { DumpText } from "../core/rooms/rooms.ts";
import { JSON_CONTENT_TYPE } from "./json.ts";

/** Rooms written per turn (about 10 people each at scale: ~11 KB of text, well under a ms from the index's keys). */
export const DUMP_ROOMS_PER_TURN = 1000;

/** `dump` as JSON text, piece by piece (`perPiece` rooms each); joined, equal to orderedJson of the same dump as a record. */
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
 * A 200 whose body is `dump`, written one piece per turn of the event loop
 * straight into one buffer, and handed to the server whole, as known bytes
 * (prebuilt): a streamed body was read back and joined by the server in one
 * turn (10 MB at a million people: 25-50 ms). The buffer is sized after the
 * first pieces from their bytes per room, so the dump's text is held about
 * once (pieces, their join and its encoding were three copies: ~33 MB at a
 * million people, which the process kept as RSS).
 */
export async function dumpResponse(dump: DumpText, perPiece = DUMP_ROOMS_PER_TURN): Promise<Response> {
  const encoder = new TextEncoder();
  const total = dump.rooms.length;
  let buf = new Uint8Array(0);
  let at = 0;
  let done = 0;
  for (const piece of dumpJsonPieces(dump, perPiece)) {
    // At most 3 bytes per UTF-16 unit: room for the piece, or grow to what the rooms so far say the whole needs.
    const need = at + 3 * piece.length;
    if (need > buf.length) {
      const guess = done === 0 ? 0 : Math.ceil((at / done) * total * 1.05);
      const grown = new Uint8Array(Math.max(need, guess));
      grown.set(buf.subarray(0, at));
      buf = grown;
    }
    at += encoder.encodeInto(piece, buf.subarray(at)).written;
    done = Math.min(total, done + perPiece);
    await new Promise<void>((resolve) => runtimeDefer(resolve));
  }
  const body = buf.subarray(0, at);
  const res = new Response(body, { status: 200, headers: { "content-type": JSON_CONTENT_TYPE } });
  return withPrebuilt(res, { status: 200, headers: `content-type: ${JSON_CONTENT_TYPE}\r\n`, body });
}
