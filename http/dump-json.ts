/**
 * GET /v1/dump's body, written a few thousand rooms per turn: a dump of a
 * million people is ~12 MB of JSON, and orderedJson() would build it in one
 * turn of several hundred milliseconds. The dump is complete before its
 * first byte (the app gathers every room or fails), so streaming cannot turn
 * a failure into a half-written 200. The text is what orderedJson() writes:
 * rooms in sorted order (integer-like names included), each list as given.
 */
import { runtimeDefer } from "../adapter/defer.ts";
import { JSON_CONTENT_TYPE } from "./json.ts";

/** Rooms written per turn (about 10 people each at scale: ~15 KB, about a ms; 2,000 took 4-15 ms alone, several times that under load). */
export const DUMP_ROOMS_PER_TURN = 500;
const INDEX_LIKE = /^(?:0|[1-9][0-9]*)$/;

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

/** A 200 whose body is `dump`, encoded one piece per turn of the event loop. */
export function dumpResponse(dump: Record<string, string[]>): Response {
  const pieces = dumpJsonPieces(dump);
  const encoder = new TextEncoder();
  let first = true;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!first) await new Promise<void>((resolve) => runtimeDefer(resolve));
      first = false;
      const next = pieces.next();
      if (next.done === true) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": JSON_CONTENT_TYPE } });
}
