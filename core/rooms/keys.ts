/**
 * The keys rooms keep in the map, and how their values are read.
 *
 * `room/<r>` -> {capacity: number|null}: a room, created once; its capacity
 * never changes afterwards. `person/<p>` -> room name: the room a person
 * claims, one key, so a person is in at most one room by construction.
 * `seat/<r>/<i>` -> person (i in 1..capacity): a seat of a room with a
 * capacity. In such a room a person counts only while they also hold one of
 * its seats; seats are written by the room's owner in the same delta as the
 * person key, so no replica ever counts more people than seats.
 */
import { placeNumber } from "../places.ts";

export const ROOM_PREFIX = "room/";
export const PERSON_PREFIX = "person/";
export const SEAT_PREFIX = "seat/";

/** Largest capacity accepted (keeps counts exact and JSON-safe). */
export const MAX_CAPACITY = 1_000_000_000;

export interface RoomRecord {
  /** null: no limit */
  capacity: number | null;
}

export function roomKey(room: string): string {
  return ROOM_PREFIX + room;
}

export function personKey(person: string): string {
  return PERSON_PREFIX + person;
}

export function seatKey(room: string, seat: number): string {
  return `${SEAT_PREFIX}${room}/${seat}`;
}

/** The room and seat number of a seat key (room names may hold "/": the number is the last segment). */
export function parseSeatKey(key: string): { room: string; seat: number } | null {
  if (!key.startsWith(SEAT_PREFIX)) return null;
  const slash = key.lastIndexOf("/");
  if (slash <= SEAT_PREFIX.length) return null;
  const seat = placeNumber(key.slice(slash + 1));
  return seat === null ? null : { room: key.slice(SEAT_PREFIX.length, slash), seat };
}

/** The stored record of a room, tolerant of values from older writers. */
export function parseRoom(value: unknown): RoomRecord | null {
  if (value === undefined) return null;
  if (typeof value === "object" && value !== null) {
    const c = (value as { capacity?: unknown }).capacity;
    if (typeof c === "number" && Number.isInteger(c) && c >= 0) return { capacity: c };
  }
  return { capacity: null };
}
