/**
 * The rules of rooms (CONTRACT.md, "The rules") as pure functions over a view of the map.
 * Keys and the occupant index live in room-keys.ts and room-index.ts
 * (re-exported here). Admissions to a room are planned by its single writer
 * (the room process) against its own replica; seats keep the capacity even
 * on replicas that see leaves and admissions in another order.
 */
import { RoomyError } from "./errors.ts";
import { compareTs, type Timestamp, ZERO } from "./hlc.ts";
import type { MapView, Write } from "./map-view.ts";
import { validateName, validateNames } from "./names.ts";
import type { Seating } from "./room-index.ts";
import { MAX_CAPACITY, parseRoom, personKey, type RoomRecord, roomKey, seatKey } from "./room-keys.ts";

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
} from "./room-keys.ts";
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
 * one view: a person two answers place in different rooms is kept only where
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

/**
 * Many rooms' answers packed for the wire (a dump asks each owner node for
 * thousands of rooms at once): each person's key timestamp as a (wall,
 * counter, writer index) triple over one table of writers, which repeat.
 */
export interface PackedAnswers {
  /** the writers the triples index */
  n: string[];
  /** per asked room, in the order asked: [people (sorted), 3 numbers per person], or null: not answered here, ask the room itself */
  a: ([string[], number[]] | null)[];
}

/** Builds the triples of PackedAnswers (and of a dump's own local answers). */
export class StampPacker {
  readonly writers: string[] = [];
  private readonly index = new Map<string, number>();

  push(out: number[], ts: Timestamp): void {
    let i = this.index.get(ts.n);
    if (i === undefined) {
      i = this.writers.length;
      this.writers.push(ts.n);
      this.index.set(ts.n, i);
    }
    out.push(ts.w, ts.c, i);
  }
}

/**
 * mergeOccupancies, fed one room at a time as the answers arrive (in any
 * order, with the same result) and read out in slices, so a dump of a
 * million people never holds the event loop for long. Rooms are known up
 * front (sorted, distinct): the result comes out in their order, unsorted
 * by nothing. A person two answers place in different rooms stays only
 * where their newer key puts them; on a tie (stamp-less answers), in the
 * room with the smaller name.
 */
export class OccupancyMerge {
  private readonly people: (readonly string[] | undefined)[];
  private readonly stamps: (readonly number[] | null)[];
  private readonly writers: (readonly string[])[];
  /** person -> index of the room that holds them so far */
  private readonly winner = new Map<string, number>();
  /** room index -> people another room won (rare: replicas at different points) */
  private readonly dropped = new Map<number, Set<string>>();
  private missing: number;

  constructor(readonly rooms: readonly string[]) {
    this.people = new Array<readonly string[] | undefined>(rooms.length);
    this.stamps = new Array<readonly number[] | null>(rooms.length);
    this.writers = new Array<readonly string[]>(rooms.length);
    this.missing = rooms.length;
  }

  /** Rooms not answered yet. */
  get outstanding(): number {
    return this.missing;
  }

  has(i: number): boolean {
    return this.people[i] !== undefined;
  }

  /** Room `i`'s answer: `stamps` as PackedAnswers triples into `writers` (null: every stamp zero). */
  add(i: number, people: readonly string[], stamps: readonly number[] | null, writers: readonly string[]): void {
    if (this.people[i] !== undefined) throw new RangeError(`room ${this.rooms[i]} answered twice`);
    const st = stamps !== null && stamps.length === 3 * people.length ? stamps : null;
    this.people[i] = people;
    this.stamps[i] = st;
    this.writers[i] = writers;
    this.missing--;
    const winner = this.winner;
    for (let j = 0; j < people.length; j++) {
      const p = people[j]!;
      const prev = winner.get(p);
      if (prev === undefined) {
        winner.set(p, i);
        continue;
      }
      if (prev === i) continue; // listed twice in one answer: one room anyway
      const c = this.compareAt(i, j, prev, this.positionOf(prev, p));
      if (c > 0 || (c === 0 && this.rooms[i]! < this.rooms[prev]!)) {
        this.drop(prev, p);
        winner.set(p, i);
      } else {
        this.drop(i, p);
      }
    }
  }

  /** Room `i`'s answer as a RoomAnswer (`since` absent or malformed: zero stamps). */
  addAnswer(i: number, a: RoomAnswer): void {
    const packer = new StampPacker();
    const stamps: number[] = [];
    const since = a.since;
    if (Array.isArray(since) && since.length === a.people.length) for (const ts of since) packer.push(stamps, asTimestamp(ts));
    this.add(i, a.people, stamps.length > 0 ? stamps : null, packer.writers);
  }

  /** Rooms [from, to) of the result into `out` (every one of them must have answered). */
  writeInto(out: Record<string, string[]>, from: number, to: number): void {
    for (let i = from; i < Math.min(to, this.rooms.length); i++) {
      const people = this.people[i];
      if (people === undefined) throw new RangeError(`room ${this.rooms[i]} has not answered`);
      const gone = this.dropped.get(i);
      const kept = gone === undefined ? people.slice() : people.filter((p) => !gone.has(p));
      out[this.rooms[i]!] = isSorted(kept) ? kept : kept.sort();
    }
  }

  private drop(i: number, p: string): void {
    let s = this.dropped.get(i);
    if (s === undefined) this.dropped.set(i, (s = new Set()));
    s.add(p);
  }

  /** Where `p` is in room `i`'s answer (sorted as answered, else a scan). */
  private positionOf(i: number, p: string): number {
    const l = this.people[i]!;
    let lo = 0;
    let hi = l.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = l[mid]!;
      if (x === p) return mid;
      if (x < p) lo = mid + 1;
      else hi = mid - 1;
    }
    return l.indexOf(p);
  }

  /** compareTs of person j of room a and person k of room b. */
  private compareAt(a: number, j: number, b: number, k: number): number {
    const sa = this.stamps[a];
    const sb = this.stamps[b];
    const wa = sa === null || sa === undefined ? 0 : sa[3 * j]!;
    const wb = sb === null || sb === undefined ? 0 : sb[3 * k]!;
    if (wa !== wb) return wa < wb ? -1 : 1;
    const ca = sa === null || sa === undefined ? 0 : sa[3 * j + 1]!;
    const cb = sb === null || sb === undefined ? 0 : sb[3 * k + 1]!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    const na = sa === null || sa === undefined ? "" : this.writers[a]![sa[3 * j + 2]!] ?? "";
    const nb = sb === null || sb === undefined ? "" : this.writers[b]![sb[3 * k + 2]!] ?? "";
    return na === nb ? 0 : na < nb ? -1 : 1;
  }
}

function isSorted(l: readonly string[]): boolean {
  for (let i = 1; i < l.length; i++) if (l[i - 1]! > l[i]!) return false;
  return true;
}
