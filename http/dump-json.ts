/**
 * GET /v1/dump's body, written a slice of rooms per turn: a dump of a
 * million people is ~11 MB of JSON, and orderedJson() would build it in one
 * turn of several hundred milliseconds. The dump is complete before its
 * first byte (the app gathers every room or fails), so a failure is never a
 * half-written 200. The text is what orderedJson() writes for dump(): rooms
 * in sorted order (integer-like names included), each list sorted.
 */
import { runtimeDefer } from "../adapter/defer.ts";
import { JsonBytes, releasedJsonResponse } from "./json-bytes.ts";
import { type DumpText, PERSON_PREFIX } from "../core/rooms/rooms.ts";

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
 * room), on top of this buffer, that an idle node kept resident. Each
 * room's names are written from the index's keys, no text made. The buffer is sized after the first rooms from their bytes per
 * room, so the text is held about once.
 */
export async function dumpResponse(dump: DumpText, perPiece = DUMP_ROOMS_PER_TURN): Promise<Response> {
  const total = dump.rooms.length;
  const out = new JsonBytes(total);
  if (total === 0) out.ascii("{}");
  for (let from = 0; from < total; from += perPiece) {
    const to = Math.min(total, from + perPiece);
    for (let i = from; i < to; i++) {
      out.byte(i === 0 ? OPEN : COMMA);
      out.name(dump.rooms[i]!);
      out.byte(COLON);
      const list = dump.roomList(i);
      out.names(list.people, list.keyed ? PERSON_PREFIX.length : 0);
      out.done = i + 1;
    }
    if (to === total) out.byte(CLOSE);
    await new Promise<void>((resolve) => runtimeDefer(resolve));
  }
  return releasedJsonResponse(out.bytes());
}

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const COMMA = 0x2c;
const COLON = 0x3a;
