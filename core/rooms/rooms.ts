/**
 * The rules of rooms (CONTRACT.md, "The rules") as pure functions over a view of the map.
 * Keys and the occupant index live in keys.ts and room-index.ts
 * (re-exported here). Admissions to a room are planned by its single writer
 * (the room process) against its own replica; seats keep the capacity even
 * on replicas that see leaves and admissions in another order.
 */
import { RoomyError } from "../errors.ts";
import type { Timestamp } from "../crdt/hlc.ts";
import type { MapView, Write } from "../crdt/map-view.ts";
import { validateName, validateNames } from "../names.ts";
import type { Seating } from "./room-index.ts";
import { MAX_CAPACITY, parseRoom, personKey, type RoomRecord, roomKey, seatKey } from "./keys.ts";

export {
  MAX_CAPACITY,
  PERSON_PREFIX,
  parseRoom,
  parseSeatKey,
  personKey,
  ROOM_PREFIX,
  type RoomRecord,
  roomKey,
  SEAT_PREFIX,
  seatKey,
} from "./keys.ts";
export { RoomIndex, type Seating } from "./room-index.ts";
export { nameAt, NO_ONE, type OccupantList, occupantsHash, occupantsJson } from "./occupant-list.ts";
export { type DumpText, DumpLists } from "./dump-lists.ts";

export function readRoom(view: MapView, room: string): RoomRecord | null {
  return parseRoom(view.get(roomKey(room)));
}

/** undefined/null: no limit; otherwise an integer 1..MAX_CAPACITY (0 would be a room nobody can enter). */
export function validateCapacity(capacity: unknown): number | null {
  if (capacity === undefined || capacity === null) return null;
  if (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new RoomyError("bad_request", `capacity must be an integer from 1 to ${MAX_CAPACITY}`);
  }
  return capacity;
}

/** Sorted, without duplicates. */
export function uniqueSorted(names: readonly string[]): string[] {
  if (names.length === 1) return [names[0]!]; // the usual walk-into: no set, no sort
  return [...new Set(names)].sort();
}

/** Creates the rooms that do not exist yet; existing ones keep their capacity. */
export function planAddRooms(view: MapView, rooms: unknown, capacity?: unknown): Write[] {
  const names = uniqueSorted(validateNames("room", rooms));
  const cap = validateCapacity(capacity);
  const writes: Write[] = [];
  for (const r of names) {
    if (readRoom(view, r) === null) writes.push({ key: roomKey(r), value: { capacity: cap } });
  }
  return writes;
}

/**
 * Moves every person into `room`, all or nothing: an unknown room or one
 * without space for all newcomers refuses the whole list. In a room with a
 * capacity each newcomer takes a free seat, in the same delta.
 *
 * Every person's key is written, even for people this replica already shows
 * inside: the replica may not have seen a leave written elsewhere, and only
 * a fresh timestamp orders this acknowledged walk-into after it. People
 * already inside keep their seat and do not count twice.
 */
export function planWalkInto(seating: Seating, room: unknown, people: unknown): Write[] {
  const r = validateName("room", room);
  const names = uniqueSorted(validateNames("person", people));
  const rec = seating.room(r);
  if (rec === null) throw new RoomyError("unknown_room", `room ${JSON.stringify(r)} does not exist`);
  const writes: Write[] = names.map((p) => ({ key: personKey(p), value: r }));
  if (rec.capacity === null) return writes;
  const newcomers = names.filter((p) => seating.roomOf(p) !== r);
  const inside = seating.count(r);
  const seats = inside + newcomers.length > rec.capacity ? null : seating.freeSeats(r, newcomers);
  if (seats === null) {
    throw new RoomyError(
      "room_full",
      // Asked counts only newcomers: people already inside keep their seat.
      `room ${JSON.stringify(r)} is full: capacity ${rec.capacity}, ${inside} inside, ${newcomers.length} asked, ${Math.max(0, rec.capacity - inside)} free`,
    );
  }
  newcomers.forEach((p, i) => writes.push({ key: seatKey(r, seats[i]!), value: p }));
  return writes;
}

/**
 * Each person leaves whatever room they are in. The delete is written even
 * when this replica has the person in no room: another replica may have
 * admitted them in a write we have not seen, and a newer tombstone wins over
 * it. A seat whose person left is free: it needs no write.
 */
export function planLeave(people: unknown): Write[] {
  return uniqueSorted(validateNames("person", people)).map((p) => ({ key: personKey(p) }));
}

/** A room's occupants as one replica answers them: each with the timestamp of their person key. */
export interface RoomAnswer {
  room: string;
  /** sorted */
  people: string[];
  /** people[i]'s key timestamp (absent from older nodes: then every person ties at zero) */
  since?: Timestamp[];
}
