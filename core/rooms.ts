/**
 * The rules of rooms (CONTRACT.md) as pure functions over a view of the map,
 * and the occupant index derived from it.
 *
 * Keys: `room/<r>` -> {capacity: number|null}; `person/<p>` -> room name.
 * A person's room is one key, so "at most one room" holds by construction.
 * Admissions to a room are planned by its single writer (the room process),
 * which makes the capacity check against its own replica sound.
 */
import { RoomyError } from "./errors.ts";
import type { Change } from "./lww-map.ts";
import type { MapView, Write } from "./map-view.ts";
import { validateName, validateNames } from "./names.ts";

export const ROOM_PREFIX = "room/";
export const PERSON_PREFIX = "person/";

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

/** The stored record of a room, tolerant of values from older writers. */
export function parseRoom(value: unknown): RoomRecord | null {
  if (value === undefined) return null;
  if (typeof value === "object" && value !== null) {
    const c = (value as { capacity?: unknown }).capacity;
    if (typeof c === "number" && Number.isInteger(c) && c >= 0) return { capacity: c };
  }
  return { capacity: null };
}

export function readRoom(view: MapView, room: string): RoomRecord | null {
  return parseRoom(view.get(roomKey(room)));
}

/** The room a person is in, or null. */
export function roomOf(view: MapView, person: string): string | null {
  const v = view.get(personKey(person));
  return typeof v === "string" ? v : null;
}

/** undefined/null: no limit; otherwise an integer 0..MAX_CAPACITY. */
export function validateCapacity(capacity: unknown): number | null {
  if (capacity === undefined || capacity === null) return null;
  if (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 0 || capacity > MAX_CAPACITY) {
    throw new RoomyError("bad_request", `capacity must be an integer from 0 to ${MAX_CAPACITY}`);
  }
  return capacity;
}

/** Sorted, without duplicates. */
export function uniqueSorted(names: readonly string[]): string[] {
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

/** What the capacity check needs to know about a room. */
export interface OccupantCounts {
  count(room: string): number;
}

/**
 * Moves every person into `room`, all or nothing: an unknown room or one
 * without space for all newcomers refuses the whole list. People already in
 * the room are not written again and do not count twice.
 */
export function planWalkInto(view: MapView, counts: OccupantCounts, room: unknown, people: unknown): Write[] {
  const r = validateName("room", room);
  const names = uniqueSorted(validateNames("person", people));
  const rec = readRoom(view, r);
  if (rec === null) throw new RoomyError("unknown_room", `room ${JSON.stringify(r)} does not exist`);
  const newcomers = names.filter((p) => roomOf(view, p) !== r);
  if (rec.capacity !== null) {
    const inside = counts.count(r);
    if (inside + newcomers.length > rec.capacity) {
      throw new RoomyError(
        "room_full",
        `room ${JSON.stringify(r)} is full: capacity ${rec.capacity}, ${inside} inside, ${newcomers.length} more do not fit`,
      );
    }
  }
  return newcomers.map((p) => ({ key: personKey(p), value: r }));
}

/**
 * Each person leaves whatever room they are in. The delete is written even
 * when this replica has the person in no room: another replica may have
 * admitted them in a write we have not seen, and a newer tombstone wins over
 * it. For someone in no room anywhere it changes nothing visible.
 */
export function planLeave(people: unknown): Write[] {
  return uniqueSorted(validateNames("person", people)).map((p) => ({ key: personKey(p) }));
}

interface Occupants {
  set: Set<string>;
  sorted: string[] | null;
}

/**
 * Rooms and their occupants, kept current from the map's changes so reads
 * cost O(result) (plus a sort of a room's list after it changed).
 */
export class RoomIndex implements OccupantCounts {
  private readonly roomSet = new Set<string>();
  private roomList: string[] | null = [];
  private readonly byRoom = new Map<string, Occupants>();

  /** Rebuild from a whole replica. */
  static from(view: MapView): RoomIndex {
    const idx = new RoomIndex();
    for (const [k, v] of view.withPrefix(ROOM_PREFIX)) idx.applyOne({ key: k, old: undefined, value: v });
    for (const [k, v] of view.withPrefix(PERSON_PREFIX)) idx.applyOne({ key: k, old: undefined, value: v });
    return idx;
  }

  apply(changes: readonly Change[]): void {
    for (const c of changes) this.applyOne(c);
  }

  /** Every room, sorted. */
  rooms(): string[] {
    if (this.roomList === null) this.roomList = [...this.roomSet].sort();
    return this.roomList.slice();
  }

  has(room: string): boolean {
    return this.roomSet.has(room);
  }

  /** The people in `room`, sorted. */
  occupants(room: string): string[] {
    const o = this.byRoom.get(room);
    if (o === undefined) return [];
    if (o.sorted === null) o.sorted = [...o.set].sort();
    return o.sorted.slice();
  }

  count(room: string): number {
    return this.byRoom.get(room)?.set.size ?? 0;
  }

  private applyOne(c: Change): void {
    if (c.key.startsWith(PERSON_PREFIX)) {
      const person = c.key.slice(PERSON_PREFIX.length);
      if (typeof c.old === "string") this.remove(c.old, person);
      if (typeof c.value === "string") this.add(c.value, person);
    } else if (c.key.startsWith(ROOM_PREFIX)) {
      const room = c.key.slice(ROOM_PREFIX.length);
      const exists = c.value !== undefined;
      if (exists !== this.roomSet.has(room)) {
        if (exists) this.roomSet.add(room);
        else this.roomSet.delete(room);
        this.roomList = null;
      }
    }
  }

  private add(room: string, person: string): void {
    let o = this.byRoom.get(room);
    if (o === undefined) {
      o = { set: new Set(), sorted: null };
      this.byRoom.set(room, o);
    }
    if (!o.set.has(person)) {
      o.set.add(person);
      o.sorted = null;
    }
  }

  private remove(room: string, person: string): void {
    const o = this.byRoom.get(room);
    if (o === undefined || !o.set.delete(person)) return;
    if (o.set.size === 0) this.byRoom.delete(room);
    else o.sorted = null;
  }
}
