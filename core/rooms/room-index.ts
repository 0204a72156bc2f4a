/**
 * Rooms and their occupants on one replica, kept current from the map's
 * changes so reads cost O(result) (plus a sort of a room's list after it
 * changed).
 *
 * Who is in a room, on any replica: the room exists, the person's key names
 * it, and, when it has a capacity, the person holds one of its seats
 * (keys.ts). Seats are bounded by the capacity and each names one person, so
 * no replica ever counts more people than the capacity, whatever order
 * leaves, moves and admissions reach it in.
 *
 * Kept per room: who claims it (person keys naming it, whether or not it
 * exists yet) and, for a room with a capacity or seat keys, its seat table.
 * The occupants follow from those (claimants; or, with a capacity, the
 * seated), so a room created or given a capacity after its people's keys
 * arrived costs its own claimants, never a scan of every person. Claimants
 * are the map's own key strings (no copy per person) in a sorted array
 * while the room is small (no Set per room: ~60 MB less at a million
 * people, and a dump sorts nothing), a Set past KEEP_SORTED. Which room a
 * person's key names is read from the replica itself (no million-entry JS
 * Map beside it, which also rehashed for ~65 ms past 786,432 entries).
 */
import type { Change } from "../crdt/lww-map.ts";
import type { MapView } from "../crdt/map-view.ts";
import { PlaceTable } from "../places.ts";
import { PERSON_PREFIX, parseRoom, parseSeatKey, ROOM_PREFIX, type RoomRecord, SEAT_PREFIX } from "./keys.ts";
import { type OccupantList, occupantsHash, occupantsJson } from "./occupant-list.ts";
import { searchSorted, SortedNames } from "./sorted-names.ts";

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

/** One room (100,000 of them: kept small, 5 fields; whether it exists and its capacity are read off `record`). */
interface RoomState {
  /** {capacity} while the room exists (one frozen object, handed out as is), else null */
  record: RoomRecord | null;
  /**
   * person keys (PERSON_PREFIX + name) naming this room: sorted while few,
   * else a Set. The array is replaced on every change, never changed, so
   * it is exactly as long as its keys (a spliced one keeps ~half again in
   * spare room) and whoever holds a copy keeps a stable one.
   */
  claimants: string[] | Set<string>;
  /** sorted, until they change: the claimants' keys when they are a Set; with a capacity, the seated names */
  sorted: string[] | null;
  /** made when the room has a capacity or a seat key: limit = capacity (0 when none) */
  seats: PlaceTable | null;
  /** occupantsJson() of the people, until they change (a dump writes each room's text once, not once per dump) */
  json: string | null;
}

const P = PERSON_PREFIX.length;
/** Claimants kept as a sorted array up to this many (an insert moves at most this many). */
const KEEP_SORTED = 512;
/** No one: shared, never changed (claimants are replaced, not changed). */
const NOBODY: string[] = [];

export class RoomIndex implements Seating {
  private readonly byName = new Map<string, RoomState>();
  private readonly roomList = new SortedNames();
  /** the room state() found last (states are never dropped, so it stays valid) */
  private lastRoom: string | undefined = undefined;
  private lastState: RoomState | undefined = undefined;

  /** `view`: the replica whose changes apply() is given (person keys are read there). */
  constructor(private readonly view: MapView) {}

  /** Rebuild from a whole replica. */
  static from(view: MapView): RoomIndex {
    const idx = new RoomIndex(view);
    for (const prefix of [ROOM_PREFIX, PERSON_PREFIX, SEAT_PREFIX]) {
      for (const [k, v] of view.withPrefix(prefix)) idx.applyOne({ key: k, old: undefined, value: v });
    }
    return idx;
  }

  /** The replica's changes, as its merge reported them (each with the value it replaced). */
  apply(changes: readonly Change[]): void {
    for (const c of changes) this.applyOne(c);
  }

  /** Every room, sorted. */
  rooms(): string[] {
    return this.roomList.sorted().slice();
  }

  /** Some of the sorting the next rooms() would do (sorted-names.ts: settle): true once it would only merge. */
  settleRooms(work?: number): boolean {
    return this.roomList.settle(work);
  }

  /** How many rooms exist. */
  roomCount(): number {
    return this.roomList.size;
  }

  has(room: string): boolean {
    return (this.byName.get(room)?.record ?? null) !== null;
  }

  room(room: string): RoomRecord | null {
    return this.byName.get(room)?.record ?? null;
  }

  /** The people in `room`, sorted. */
  occupants(room: string): string[] {
    const st = this.byName.get(room);
    if (st === undefined) return [];
    const sorted = this.sortedOf(st);
    if (capacityOf(st) !== null) return sorted.slice();
    const names: string[] = new Array(sorted.length);
    for (let i = 0; i < sorted.length; i++) names[i] = sorted[i]!.slice(P);
    return names;
  }

  /**
   * The people in `room` (occupant-list.ts): person keys while it has no
   * capacity, else names; null when it does not exist. The index's own
   * sorted array, no copy: it is replaced on a change, never changed, so
   * whoever holds it keeps the room as it was.
   */
  occupantList(room: string): OccupantList | null {
    const st = this.byName.get(room);
    if (st === undefined || st.record === null) return null;
    return { people: this.sortedOf(st), keyed: capacityOf(st) === null };
  }

  /**
   * Every person key naming `room` (seated or not; sorted while few), a
   * copy, and the numbers of its seat keys that name someone: what a
   * whole-map transfer in room order sends for the room.
   */
  claimantKeys(room: string): string[] {
    const c = this.byName.get(room)?.claimants;
    return c === undefined ? [] : Array.isArray(c) ? c.slice() : [...c];
  }

  seatNumbers(room: string): number[] {
    const seats = this.byName.get(room)?.seats;
    return seats === undefined || seats === null ? [] : [...seats.places()];
  }

  /** occupantsHash() of the people in `room` under `seed`, read in place; null when it does not exist. */
  occupantsHash(room: string, seed = 0): number | null {
    const st = this.byName.get(room);
    if (st === undefined || st.record === null) return null;
    return occupantsHash(this.sortedOf(st), capacityOf(st) === null, seed);
  }

  /** The people in `room` as JSON text (occupantsJson()), kept until they change; null when it does not exist. */
  occupantsJson(room: string): string | null {
    const st = this.byName.get(room);
    if (st === undefined || st.record === null) return null;
    return (st.json ??= occupantsJson(this.sortedOf(st), capacityOf(st) === null));
  }

  /** Whether `people` (sorted) are exactly the people in `room`: compared in place, no copy, no lookups. */
  sameOccupants(room: string, people: readonly string[]): boolean {
    const st = this.byName.get(room);
    if (st === undefined || this.countOf(st) !== people.length) return false;
    const mine = this.sortedOf(st);
    if (capacityOf(st) !== null) {
      for (let i = 0; i < mine.length; i++) if (mine[i] !== people[i]) return false;
      return true;
    }
    for (let i = 0; i < mine.length; i++) if (!isKeyOf(mine[i]!, people[i]!)) return false;
    return true;
  }

  count(room: string): number {
    const st = this.byName.get(room);
    return st === undefined ? 0 : this.countOf(st);
  }

  roomOf(person: string): string | null {
    const key = PERSON_PREFIX + person;
    const r = this.keyRoomOf(key);
    if (r === undefined) return null;
    const st = this.byName.get(r);
    return st !== undefined && this.inside(st, key, person) ? r : null;
  }

  /** The room `person`'s key names (whether or not they hold a seat there), if any. */
  keyRoom(person: string): string | undefined {
    return this.keyRoomOf(PERSON_PREFIX + person);
  }

  /** The seat `person` is counted in (rooms with a capacity), or null. */
  seatOf(room: string, person: string): number | null {
    return this.byName.get(room)?.seats?.placeOf(person) ?? null;
  }

  freeSeats(room: string, newcomers: readonly string[]): number[] | null {
    const seats = this.byName.get(room)?.seats;
    if (seats === undefined || seats === null) return newcomers.length === 0 ? [] : null;
    return seats.pick(newcomers);
  }

  private keyRoomOf(key: string): string | undefined {
    const r = this.view.get(key);
    return typeof r === "string" ? r : undefined;
  }

  private state(room: string): RoomState {
    // A write's keys name one room (often one string): one lookup for the run.
    if (room === this.lastRoom && this.lastState !== undefined) return this.lastState;
    let st = this.byName.get(room);
    if (st === undefined) {
      st = { record: null, claimants: NOBODY, sorted: null, seats: null, json: null };
      this.byName.set(room, st);
    }
    this.lastRoom = room;
    return (this.lastState = st);
  }

  private seatsOf(room: string, st: RoomState): PlaceTable {
    // Holders are names; whether one is entitled is whether their key names this room.
    st.seats ??= new PlaceTable(capacityOf(st) ?? 0, (p) => (this.keyRoomOf(PERSON_PREFIX + p) === room ? "any" : null));
    return st.seats;
  }

  private applyOne(c: Change): void {
    const key = c.key;
    if (key.startsWith(PERSON_PREFIX)) {
      const before = typeof c.old === "string" ? c.old : undefined;
      const after = typeof c.value === "string" ? c.value : undefined;
      if (before === after) return;
      if (before !== undefined) this.claim(before, key, false);
      if (after !== undefined) this.claim(after, key, true);
    } else if (key.startsWith(SEAT_PREFIX)) {
      const seat = parseSeatKey(key);
      if (seat === null) return;
      const st = this.state(seat.room);
      this.seatsOf(seat.room, st).setPlace(seat.seat, typeof c.value === "string" ? c.value : undefined);
      if (capacityOf(st) !== null) st.sorted = st.json = null;
    } else if (key.startsWith(ROOM_PREFIX)) {
      const room = key.slice(ROOM_PREFIX.length);
      const st = this.state(room);
      const exists = c.value !== undefined;
      const capacity = parseRoom(c.value)?.capacity ?? null;
      const existed = st.record !== null;
      const was = capacityOf(st);
      if (exists === existed && capacity === was) return;
      if (exists !== existed) {
        if (exists) this.roomList.add(room);
        else this.roomList.delete(room);
      }
      st.json = null;
      st.record = exists ? recordOf(capacity) : null;
      if (capacity !== was) {
        // A capacity learnt late counts the seats of this room's own claimants (setLimit recounts).
        if (capacity !== null || st.seats !== null) this.seatsOf(room, st).setLimit(capacity ?? 0);
        st.sorted = null;
      }
    }
  }

  /** Person key `key` now names `room` (or no longer does). */
  private claim(room: string, key: string, claims: boolean): void {
    const st = this.state(room);
    const c = st.claimants;
    if (!Array.isArray(c)) {
      if (claims) c.add(key);
      else c.delete(key);
    } else if (!claims) st.claimants = withoutSorted(c, key);
    else if (c.length < KEEP_SORTED) st.claimants = withSorted(c, key);
    else st.claimants = new Set(c).add(key);
    if (st.seats !== null) st.seats.refresh(key.slice(P)); // seats count for nothing without a capacity (setLimit recounts)
    st.sorted = st.json = null;
  }

  /** Whether the person of key `key` (name `person`) is in the room of `st`. */
  private inside(st: RoomState, key: string, person: string): boolean {
    if (st.record === null) return false;
    if (capacityOf(st) !== null) return st.seats !== null && st.seats.placeOf(person) !== null;
    const c = st.claimants;
    return Array.isArray(c) ? c[searchSorted(c, key)] === key : c.has(key);
  }

  private countOf(st: RoomState): number {
    if (st.record === null) return 0;
    if (capacityOf(st) !== null) return st.seats?.size ?? 0;
    const c = st.claimants;
    return Array.isArray(c) ? c.length : c.size;
  }

  /** Without a capacity: the claimants' keys, sorted (keys share one prefix: they sort as names do); with one: the seated names. */
  private sortedOf(st: RoomState): readonly string[] {
    if (st.record === null) return NOBODY;
    const c = st.claimants;
    if (capacityOf(st) === null && Array.isArray(c)) return c;
    if (st.sorted !== null) return st.sorted;
    const l: string[] = [];
    if (capacityOf(st) === null) for (const k of c) l.push(k);
    else if (st.seats !== null) for (const p of st.seats.holders()) l.push(p);
    return (st.sorted = l.sort());
  }
}

/** One frozen record per capacity, shared by every room that has it (most have none). */
const RECORDS = new Map<number | null, RoomRecord>();
function recordOf(capacity: number | null): RoomRecord {
  let r = RECORDS.get(capacity);
  if (r === undefined) {
    r = Object.freeze({ capacity });
    if (RECORDS.size < 1024) RECORDS.set(capacity, r);
  }
  return r;
}

/** Whether person key `k` is PERSON_PREFIX + `name` (compared in place: no string made). */
function isKeyOf(k: string, name: string): boolean {
  if (k.length !== P + name.length) return false;
  for (let j = 0; j < name.length; j++) if (k.charCodeAt(P + j) !== name.charCodeAt(j)) return false;
  return true;
}

/** The sorted list `l` with `x` (`l` itself if there already), as a new array of just that length. */
function withSorted(l: string[], x: string): string[] {
  const at = searchSorted(l, x);
  if (l[at] === x) return l;
  const n = l.length;
  const out = new Array<string>(n + 1);
  for (let i = 0; i < at; i++) out[i] = l[i]!;
  out[at] = x;
  for (let i = at; i < n; i++) out[i + 1] = l[i]!;
  return out;
}

/** The sorted list `l` without `x` (`l` itself if not there), as a new array of just that length. */
function withoutSorted(l: string[], x: string): string[] {
  const at = searchSorted(l, x);
  if (l[at] !== x) return l;
  const n = l.length - 1;
  if (n === 0) return NOBODY;
  const out = new Array<string>(n);
  for (let i = 0; i < at; i++) out[i] = l[i]!;
  for (let i = at; i < n; i++) out[i] = l[i + 1]!;
  return out;
}

/** The room's capacity: null when it has none or does not exist. */
function capacityOf(st: RoomState): number | null {
  return st.record === null ? null : st.record.capacity;
}
