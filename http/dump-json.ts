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
 * and handed to the server whole, as known bytes (prebuilt): a streamed body
 * was read back and joined by the server in one turn (10 MB at a million
 * people: 25-50 ms). The pieces are joined and encoded once (a few ms for
 * 11 MB), not encoded piece by piece and copied again.
 */
export async function dumpResponse(dump: DumpText): Promise<Response> {
  const pieces: string[] = [];
  for (const piece of dumpJsonPieces(dump)) {
    pieces.push(piece);
    await new Promise<void>((resolve) => runtimeDefer(resolve));
  }
  const body = new TextEncoder().encode(pieces.join(""));
  pieces.length = 0;
  const res = new Response(body, { status: 200, headers: { "content-type": JSON_CONTENT_TYPE } });
  return withPrebuilt(res, { status: 200, headers: `content-type: ${JSON_CONTENT_TYPE}\r\n`, body });
}
