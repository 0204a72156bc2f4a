/**
 * The rules of rooms (CONTRACT.md, "The rules") as pure functions over a view of the map.
 * Keys and the occupant index live in keys.ts and room-index.ts
 * (re-exported here). Admissions to a room are planned by its single writer
 * (the room process) against its own replica; seats keep the capacity even
 * on replicas that see leaves and admissions in another order.
 */
import { RoomyError } from "../errors.ts";
import { compareTs, type Timestamp, ZERO } from "../crdt/hlc.ts";
import type { MapView, Write } from "../crdt/map-view.ts";
import { validateName, validateNames } from "../names.ts";
import type { Seating } from "./room-index.ts";
import { searchSorted } from "./sorted-names.ts";
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

/**
 * Answers from several replicas (a dump asks each room's owner) joined into
 * one view, all at once (OccupancyMerge does the same answer by answer, for
 * the dump, and is tested against this): a person two answers place in different rooms is kept only where
 * their newer key puts them, as merging those replicas would. Each room keeps
 * a subset of its own answer, so capacities hold too. Keys and lists sorted.
 */
export function mergeOccupancies(answers: readonly RoomAnswer[]): Record<string, string[]> {
  const best = new Map<string, { room: string; ts: Timestamp }>();
  for (const a of answers) {
    a.people.forEach((p, i) => {
      const ts = asTimestamp(a.since?.[i]);
      const b = best.get(p);
      const c = b === undefined ? 1 : compareTs(ts, b.ts);
      // Equal stamps are one write (one room); the name order only breaks ties of stamp-less answers.
      if (c > 0 || (c === 0 && b !== undefined && a.room < b.room)) best.set(p, { room: a.room, ts });
    });
  }
  // No prototype: a room named "__proto__" (or "constructor") is a key like any other.
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const a of [...answers].sort((x, y) => (x.room < y.room ? -1 : x.room > y.room ? 1 : 0))) {
    out[a.room] = a.people.filter((p) => best.get(p)?.room === a.room).sort();
  }
  return out;
}

/** A timestamp from the wire, or zero if it is not one. */
function asTimestamp(v: unknown): Timestamp {
  if (typeof v !== "object" || v === null) return ZERO;
  const t = v as Partial<Timestamp>;
  return typeof t.w === "number" && typeof t.c === "number" && typeof t.n === "string" ? { w: t.w, c: t.c, n: t.n } : ZERO;
}

/** What a dump's own replica knows of people's keys while the dump runs (OccupancyMerge). */
export interface KeyHistory {
  /** Whether any person's key changed on this replica since the dump began. */
  anyChanged(): boolean;
  /** Whether `person`'s key changed on this replica since the dump began. */
  changed(person: string): boolean;
  /** Whether `people` (sorted) are exactly who this replica has in `room` now. */
  sameHere(room: string, people: readonly string[]): boolean;
  /** The room `person`'s key names on this replica now (undefined: none). */
  keyRoom(person: string): string | undefined;
  /** The room `person`'s key named on this replica when the dump began (undefined: none). */
  startRoom(person: string): string | undefined;
}

/** A person two or more answers place in different rooms (indices into the dump's rooms). */
export interface Conflict {
  person: string;
  rooms: number[];
}

/**
 * A dump's answers (one per room, each its owner's, in any order) joined
 * without a table of every person: a person shown in two rooms is caught by
 * the dump's own replica, whose key for them names one room at a time. An
 * appearance is "clean" when that replica's key names the same room and has
 * not changed since the dump began; two clean appearances of one person
 * would need the key to name two rooms at once, so every person shown twice
 * has an unclean appearance, and only those (few: replicas a few writes
 * apart) are remembered. Their rooms are then asked for the person's stamp
 * as they hold it now, and the newest keeps them (resolve()); the answers
 * themselves carry no stamps. Reading out goes in slices (writeInto).
 */
export class OccupancyMerge {
  private readonly people: (readonly string[] | undefined)[];
  /** person -> rooms whose answer shows them uncleanly */
  private readonly suspects = new Map<string, number[]>();
  /** room index -> people it loses to another room */
  private readonly dropped = new Map<number, Set<string>>();
  private missing: number;

  constructor(
    readonly rooms: readonly string[],
    private readonly history: KeyHistory,
  ) {
    this.people = new Array<readonly string[] | undefined>(rooms.length);
    this.missing = rooms.length;
  }

  /** Rooms not answered yet. */
  get outstanding(): number {
    return this.missing;
  }

  /** Room `i`'s answer (people sorted; the array is the merge's from now on); `here`: read from the dump's own replica in this same turn. */
  add(i: number, people: readonly string[], here: boolean): void {
    if (this.people[i] !== undefined) throw new RangeError(`room ${this.rooms[i]} answered twice`);
    this.people[i] = people;
    this.missing--;
    const h = this.history;
    const room = this.rooms[i]!;
    // As this replica has the room now (the usual case: one pass of string
    // compares), every key names the room: clean unless changed since the start.
    const asHere = here || h.sameHere(room, people);
    if (asHere && !h.anyChanged()) return;
    for (let j = 0; j < people.length; j++) {
      const p = people[j]!;
      const clean = asHere ? !h.changed(p) : h.keyRoom(p) === room && !h.changed(p);
      if (clean) continue;
      const l = this.suspects.get(p);
      if (l === undefined) this.suspects.set(p, [i]);
      else if (!l.includes(i)) l.push(i);
    }
  }

  /** Once every room answered: the people shown in more than one room. */
  conflicts(): Conflict[] {
    const out: Conflict[] = [];
    for (const [person, seen] of this.suspects) {
      // Its clean appearance, if any, is where the key named when the dump began.
      const start = this.history.startRoom(person);
      const at = start === undefined ? -1 : this.indexOf(start);
      const rooms = at >= 0 && !seen.includes(at) && this.shows(at, person) ? [...seen, at] : seen;
      if (rooms.length > 1) out.push({ person, rooms: rooms.slice().sort((a, b) => a - b) });
    }
    return out;
  }

  /**
   * Keep `c.person` only in the room whose owner, asked again, holds the
   * newest stamp for them (`stamps[k]` for c.rooms[k]; null: no longer
   * there); on a tie, or when none holds them any more, the first room.
   */
  resolve(c: Conflict, stamps: readonly (Timestamp | null)[]): void {
    let best = 0;
    for (let k = 1; k < c.rooms.length; k++) {
      const a = stamps[k] ?? null;
      const b = stamps[best] ?? null;
      if (a !== null && (b === null || compareTs(a, b) > 0)) best = k;
    }
    c.rooms.forEach((r, k) => {
      if (k !== best) this.drop(r, c.person);
    });
  }

  /** Rooms [from, to) of the result into `out` (every one of them must have answered). */
  writeInto(out: Record<string, string[]>, from: number, to: number): void {
    for (let i = from; i < Math.min(to, this.rooms.length); i++) {
      const people = this.people[i];
      if (people === undefined) throw new RangeError(`room ${this.rooms[i]} has not answered`);
      const gone = this.dropped.get(i);
      // The answer's own array when nothing is dropped (add() took it over): no copy of a million names.
      const kept = gone === undefined ? (people as string[]) : people.filter((p) => !gone.has(p));
      out[this.rooms[i]!] = isSorted(kept) ? kept : kept.slice().sort();
    }
  }

  private drop(i: number, p: string): void {
    let s = this.dropped.get(i);
    if (s === undefined) this.dropped.set(i, (s = new Set()));
    s.add(p);
  }

  /** The index of `room` among the (sorted) rooms, or -1. */
  private indexOf(room: string): number {
    return binarySearch(this.rooms, room);
  }

  private shows(i: number, p: string): boolean {
    const l = this.people[i];
    return l !== undefined && (binarySearch(l, p) >= 0 || (!isSorted(l) && l.includes(p)));
  }
}

/** Where `x` is in the sorted list `l`, or -1. */
function binarySearch(l: readonly string[], x: string): number {
  const i = searchSorted(l, x);
  return l[i] === x ? i : -1;
}

function isSorted(l: readonly string[]): boolean {
  for (let i = 1; i < l.length; i++) if (l[i - 1]! > l[i]!) return false;
  return true;
}

/** A timestamp from the wire, or null if it is not one. */
export function timestampOrNull(v: unknown): Timestamp | null {
  return typeof v === "object" && v !== null ? asTimestamp(v) : null;
}
