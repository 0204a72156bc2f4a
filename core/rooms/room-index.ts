/**
 * Rooms and their occupants on one replica, kept current from the map's
 * changes so reads cost O(result) (plus a sort of a room's list after it
 * changed).
 *
 * Who is in a room, on any replica: the room exists, the person's key names
 * it, and, when it has a capacity, the person holds one of its seats
 * (keys.ts). Seats are bounded by the capacity and each names one
 * person, so no replica ever counts more people than the capacity, whatever
 * order leaves, moves and admissions reach it in.
 */
import type { Change } from "../crdt/lww-map.ts";
import type { MapView } from "../crdt/map-view.ts";
import { PlaceTable } from "../places.ts";
import { PERSON_PREFIX, parseRoom, parseSeatKey, ROOM_PREFIX, type RoomRecord, SEAT_PREFIX } from "./keys.ts";

/** What planning an admission needs to know of the replica (RoomIndex implements it). */
export interface Seating {
  /** The room's record as the replica holds it (what readRoom() reads), or null when it does not exist. */
  room(room: string): RoomRecord | null;
  /** People in `room` now. */
  count(room: string): number;
  /** The room a person is in, or null. */
  roomOf(person: string): string | null;
  /** A free seat of `room` for each newcomer (distinct), or null if too few are free. */
  freeSeats(room: string, newcomers: readonly string[]): number[] | null;
}

interface RoomState {
  exists: boolean;
  capacity: number | null;
  /** {capacity} while the room exists (one frozen object, handed out as is), else null */
  record: RoomRecord | null;
  occupants: Set<string>;
  sorted: string[] | null;
  /** limit = capacity (0 when none: seats then count for nothing) */
  seats: PlaceTable;
}

export class RoomIndex implements Seating {
  private readonly byName = new Map<string, RoomState>();
  private roomList: string[] | null = [];
  private readonly personRoom = new Map<string, string>();

  /** Rebuild from a whole replica. */
  static from(view: MapView): RoomIndex {
    const idx = new RoomIndex();
    for (const prefix of [ROOM_PREFIX, PERSON_PREFIX, SEAT_PREFIX]) {
      for (const [k, v] of view.withPrefix(prefix)) idx.applyOne({ key: k, old: undefined, value: v });
    }
    return idx;
  }

  apply(changes: readonly Change[]): void {
    for (const c of changes) this.applyOne(c);
  }

  /** Every room, sorted. */
  rooms(): string[] {
    if (this.roomList === null) {
      const l: string[] = [];
      for (const [name, st] of this.byName) if (st.exists) l.push(name);
      this.roomList = l.sort();
    }
    return this.roomList.slice();
  }

  has(room: string): boolean {
    return this.byName.get(room)?.exists === true;
  }

  room(room: string): RoomRecord | null {
    return this.byName.get(room)?.record ?? null;
  }

  /** The people in `room`, sorted. */
  occupants(room: string): string[] {
    const st = this.byName.get(room);
    if (st === undefined) return [];
    if (st.sorted === null) st.sorted = [...st.occupants].sort();
    return st.sorted.slice();
  }

  /** Whether `people` (sorted) are exactly the people in `room`: compared in place, no copy, no lookups. */
  sameOccupants(room: string, people: readonly string[]): boolean {
    const st = this.byName.get(room);
    if (st === undefined || st.occupants.size !== people.length) return false;
    if (st.sorted === null) st.sorted = [...st.occupants].sort();
    const mine = st.sorted;
    for (let i = 0; i < mine.length; i++) if (mine[i] !== people[i]) return false;
    return true;
  }

  count(room: string): number {
    return this.byName.get(room)?.occupants.size ?? 0;
  }

  roomOf(person: string): string | null {
    const r = this.personRoom.get(person);
    return r !== undefined && this.byName.get(r)?.occupants.has(person) === true ? r : null;
  }

  /** The room `person`'s key names (whether or not they hold a seat there), if any. */
  keyRoom(person: string): string | undefined {
    return this.personRoom.get(person);
  }

  /** The seat `person` is counted in (rooms with a capacity), or null. */
  seatOf(room: string, person: string): number | null {
    return this.byName.get(room)?.seats.placeOf(person) ?? null;
  }

  freeSeats(room: string, newcomers: readonly string[]): number[] | null {
    const st = this.byName.get(room);
    if (st === undefined) return newcomers.length === 0 ? [] : null;
    return st.seats.pick(newcomers);
  }

  private state(room: string): RoomState {
    let st = this.byName.get(room);
    if (st === undefined) {
      st = {
        exists: false,
        capacity: null,
        record: null,
        occupants: new Set(),
        sorted: null,
        seats: new PlaceTable(0, (p) => (this.personRoom.get(p) === room ? "any" : null)),
      };
      this.byName.set(room, st);
    }
    return st;
  }

  private applyOne(c: Change): void {
    if (c.key.startsWith(PERSON_PREFIX)) {
      const person = c.key.slice(PERSON_PREFIX.length);
      const before = this.personRoom.get(person);
      const after = typeof c.value === "string" ? c.value : undefined;
      if (before === after) return;
      if (after === undefined) this.personRoom.delete(person);
      else this.personRoom.set(person, after);
      if (before !== undefined) this.claim(before, person, false);
      if (after !== undefined) this.claim(after, person, true);
    } else if (c.key.startsWith(SEAT_PREFIX)) {
      const seat = parseSeatKey(c.key);
      if (seat === null) return;
      const st = this.state(seat.room);
      const holder = typeof c.value === "string" ? c.value : undefined;
      for (const p of st.seats.setPlace(seat.seat, holder)) this.update(seat.room, st, p);
    } else if (c.key.startsWith(ROOM_PREFIX)) {
      const room = c.key.slice(ROOM_PREFIX.length);
      const st = this.state(room);
      const exists = c.value !== undefined;
      const capacity = parseRoom(c.value)?.capacity ?? null;
      if (exists === st.exists && capacity === st.capacity) return;
      if (exists !== st.exists) this.roomList = null;
      st.exists = exists;
      st.record = exists ? Object.freeze({ capacity }) : null;
      if (capacity !== st.capacity) {
        st.capacity = capacity;
        st.seats.setLimit(capacity ?? 0);
      }
      // Rare (a room created or its capacity changed): a scan of everyone
      // costs less overall than keeping a set of who names each room on
      // every move.
      for (const [p, r] of this.personRoom) if (r === room) this.update(room, st, p, true);
    }
  }

  /** `person`'s key now names `room` (or no longer does): recount them there. */
  private claim(room: string, person: string, claims: boolean): void {
    const st = this.state(room);
    if (st.capacity !== null) st.seats.refresh(person); // seats count for nothing without one (setLimit recounts)
    this.update(room, st, person, claims);
  }

  /** Recompute whether `person` is in `room`; `claims`: whether their key names it (looked up unless the caller knows). */
  private update(room: string, st: RoomState, person: string, claims = this.personRoom.get(person) === room): void {
    const inside = st.exists && claims && (st.capacity === null || st.seats.placeOf(person) !== null);
    if (inside === st.occupants.has(person)) return;
    if (inside) st.occupants.add(person);
    else st.occupants.delete(person);
    st.sorted = null;
  }
}
