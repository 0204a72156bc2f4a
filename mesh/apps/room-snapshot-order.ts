/**
 * The rooms app's order for a whole-map transfer (replication's
 * snapshot-order.ts): room by room, each room's key, its claimants' keys
 * (every person key naming it, seated or not) and then its seat keys that
 * name someone. The receiver's room index then finds a room's people (and
 * seats) together (~0.3 s at 1M people, not ~3.4 s in hash order). People
 * naming no existing room, deletes, malformed seat keys and every other key
 * go in the transfer's second phase, in hash order.
 *
 * What the walk covers, for a key as it is now and unchanged since the walk
 * began: a room key of a room that existed then (every such room is walked:
 * rooms() is copied once the walk starts, and a room key unchanged since
 * begin is of a room still there then, sent as it is when its room is
 * walked); a live person key naming a walked room (when the room was
 * walked the key named it, as it has not changed since: it was one of the
 * room's claimants); a live seat key, in the form seatKey() writes, naming
 * someone, of a walked room (it was in the room's seat table then). Each is
 * judged with a set lookup. While the map does not change, no key is given
 * twice: a person key claims one room, a seat key belongs to one room.
 */
import type { DeltaEntry } from "../../core/crdt/lww-map.ts";
import { PERSON_PREFIX, parseSeatKey, ROOM_PREFIX, SEAT_PREFIX, seatKey } from "../../core/rooms/keys.ts";
import type { RoomIndex } from "../../core/rooms/room-index.ts";
import type { SnapshotOrder, SnapshotWalk } from "../replication/snapshot-order.ts";

export function roomSnapshotOrder(index: RoomIndex): SnapshotOrder {
  return { begin: () => walkRooms(index) };
}

function walkRooms(index: RoomIndex): SnapshotWalk {
  // Sorted, a copy, taken at the first call that finds the index's list
  // settled (sorting 100k new names took one turn 15-23 ms: a step per call
  // until then). Rooms made since begin are changes the transfer notes, so
  // walking them too is only a cost; one gone meanwhile is not covered.
  let rooms: readonly string[] | null = null;
  let r = 0;
  /** rooms walked (each with its claimants and seats) */
  const walked = new Set<string>();
  /** the keys of the room being walked, and how many of them went */
  let keys: readonly string[] = [];
  let p = 0;
  return {
    next(out, max) {
      if (rooms === null) {
        if (!index.settleRooms()) return false;
        rooms = index.rooms();
      }
      while (out.length < max) {
        if (p < keys.length) {
          out.push(keys[p++]!);
          continue;
        }
        if (r >= rooms.length) return true;
        const room = rooms[r++]!;
        out.push(ROOM_PREFIX + room);
        walked.add(room);
        const people = index.claimantKeys(room);
        const seats = index.seatNumbers(room);
        for (const s of seats) people.push(seatKey(room, s));
        keys = people;
        p = 0;
      }
      return r >= rooms.length && p >= keys.length;
    },
    covers(key: string, e: DeltaEntry): boolean {
      if (key.startsWith(PERSON_PREFIX)) return e.d !== true && typeof e.v === "string" && walked.has(e.v);
      if (key.startsWith(SEAT_PREFIX)) {
        if (e.d === true || typeof e.v !== "string") return false;
        const s = parseSeatKey(key);
        return s !== null && walked.has(s.room) && seatKey(s.room, s.seat) === key;
      }
      return key.startsWith(ROOM_PREFIX) && walked.has(key.slice(ROOM_PREFIX.length));
    },
  };
}
