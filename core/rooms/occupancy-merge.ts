/**
 * A dump's answers joined (OccupancyMerge): one per room, each its owner's,
 * as names, as the dumping node's own index holds them (occupant-list.ts),
 * or as JSON text, checked against the dumping node's replica so that
 * nobody is shown in two rooms.
 */
import { compareTs, type Timestamp } from "../crdt/hlc.ts";
import { PERSON_PREFIX } from "./keys.ts";
import { nameAt, NO_ONE, type OccupantList, occupantsJson } from "./occupant-list.ts";
import { searchSorted } from "./sorted-names.ts";
import { bytesToText } from "./text-bytes.ts";

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
/** A complete dump, written out as JSON a slice of rooms at a time (OccupancyMerge). */
export interface DumpText {
  /** The rooms, sorted. */
  readonly rooms: readonly string[];
  /** Rooms [from, to) as JSON members, `"room":["name",...]` joined by commas. */
  jsonOf(from: number, to: number): string;
  /** Room `i`'s people as JSON text, `["name",...]` (what jsonOf writes after its `"room":`). */
  roomJson(i: number): string;
  /** Room `i`'s JSON text as UTF-8 when the answer came as bytes (text-bytes.ts), else null (use roomJson). */
  roomBytes?(i: number): Uint8Array | null;
  /** The buffers the answers' bytes lie in: free once the text is written (nothing reads them again). */
  buffers?(): readonly Uint8Array[];
}

export class OccupancyMerge implements DumpText {
  private readonly people: (readonly string[] | undefined)[];
  /** 1: room i's list holds person keys (occupant-list.ts), not names */
  private readonly keyed: Uint8Array;
  /** person -> rooms whose answer shows them uncleanly */
  private readonly suspects = new Map<string, number[]>();
  /** room index -> people it loses to another room */
  private readonly dropped = new Map<number, Set<string>>();
  /** room index -> its answer as JSON text (addText), or that text's UTF-8 (addBytes) */
  private readonly texts: (string | Uint8Array | undefined)[];
  /** the buffers addBytes() answers lie in */
  private readonly held: Uint8Array[] = [];
  private missing: number;

  constructor(
    readonly rooms: readonly string[],
    private readonly history: KeyHistory,
  ) {
    this.people = new Array<readonly string[] | undefined>(rooms.length);
    this.keyed = new Uint8Array(rooms.length);
    // An array, not a Map: at 100k rooms mostly filled, and a Map's entries cost several times a slot.
    this.texts = new Array<string | Uint8Array | undefined>(rooms.length);
    this.missing = rooms.length;
  }

  /** Rooms not answered yet. */
  get outstanding(): number {
    return this.missing;
  }

  /** Room `i`'s answer (people sorted; the array is the merge's from now on); `here`: read from the dump's own replica in this same turn. */
  add(i: number, people: readonly string[], here: boolean): void {
    // An answer off the wire is checked once here; the index's own lists are sorted by construction.
    this.addList(i, { people: isSorted(people) ? people : people.slice().sort(), keyed: false }, here);
  }

  /** add() of a list as the index holds it (names, or person keys: occupant-list.ts), sorted. */
  addList(i: number, list: OccupantList, here: boolean): void {
    if (this.people[i] !== undefined) throw new RangeError(`room ${this.rooms[i]} answered twice`);
    const { people, keyed } = list;
    this.people[i] = people;
    this.keyed[i] = keyed ? 1 : 0;
    this.missing--;
    const h = this.history;
    const room = this.rooms[i]!;
    // As this replica has the room now (the usual case: one pass of string
    // compares), every key names the room: clean unless changed since the start.
    const asHere = here || h.sameHere(room, keyed ? people.map((k) => nameAt(k, true)) : people);
    if (asHere && !h.anyChanged()) return;
    for (let j = 0; j < people.length; j++) {
      const p = nameAt(people[j]!, keyed);
      const clean = asHere ? !h.changed(p) : h.keyRoom(p) === room && !h.changed(p);
      if (clean) continue;
      const l = this.suspects.get(p);
      if (l === undefined) this.suspects.set(p, [i]);
      else if (!l.includes(i)) l.push(i);
    }
  }

  /**
   * Room `i`'s answer as JSON text: from an owner that held nothing this
   * replica did not (digests equal) when it answered, or read here. Kept as
   * is only if the dump ends settled(); else the dump reads those rooms here
   * again (rereadText).
   */
  addText(i: number, text: string): void {
    if (this.people[i] !== undefined) throw new RangeError(`room ${this.rooms[i]} answered twice`);
    this.people[i] = NO_ONE.people;
    this.texts[i] = text;
    this.missing--;
  }

  /** addText() of the text as UTF-8 bytes (a view into a buffer given to hold()). */
  addBytes(i: number, bytes: Uint8Array): void {
    if (this.people[i] !== undefined) throw new RangeError(`room ${this.rooms[i]} answered twice`);
    this.people[i] = NO_ONE.people;
    this.texts[i] = bytes;
    this.missing--;
  }

  /** Keep `buf` (addBytes() answers lie in it) for buffers(). */
  hold(buf: Uint8Array): void {
    this.held.push(buf);
  }

  buffers(): readonly Uint8Array[] {
    return this.held;
  }

  roomBytes(i: number): Uint8Array | null {
    const t = this.texts[i];
    return t instanceof Uint8Array ? t : null;
  }

  /**
   * No person's key changed on this replica since the dump began and every
   * list added was clean: then each text answer is this replica's room as it
   * was (and stayed) when asked, and no one can be in two rooms.
   */
  settled(): boolean {
    return this.suspects.size === 0 && !this.history.anyChanged();
  }

  /** Rooms answered with text. */
  textRooms(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.texts.length; i++) if (this.texts[i] !== undefined) out.push(i);
    return out;
  }

  /** Room `i`'s text answer replaced by its list as this replica holds it now (in this same turn: `here`). */
  rereadText(i: number, list: OccupantList): void {
    if (this.texts[i] === undefined) throw new RangeError(`room ${this.rooms[i]} has no text answer`);
    this.texts[i] = undefined;
    this.people[i] = undefined;
    this.missing++;
    this.addList(i, list, true);
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
      const text = this.texts[i];
      if (text !== undefined) {
        out[this.rooms[i]!] = JSON.parse(typeof text === "string" ? text : bytesToText(text)) as string[];
        continue;
      }
      const { people, keyed } = this.kept(i);
      // The answer's own array when it holds names and nothing is dropped (add() took it over): no copy of a million names.
      const names = keyed ? people.map((k) => nameAt(k, true)) : (people as string[]);
      out[this.rooms[i]!] = names;
    }
  }

  /** Rooms [from, to) of the result as JSON members (`"room":[...]`, comma-separated), as JSON.stringify writes them. */
  jsonOf(from: number, to: number): string {
    // Parts joined once: a flat string, not a rope of a thousand `+=`. Each
    // piece its own part: a `name:text` rope would be flattened (a copy of
    // the text) before the join copied it again, ~10 MB of garbage a dump.
    const parts: string[] = [];
    for (let i = from; i < Math.min(to, this.rooms.length); i++) {
      if (parts.length > 0) parts.push(",");
      parts.push(JSON.stringify(this.rooms[i]!), ":", this.roomJson(i));
    }
    return parts.join("");
  }

  roomJson(i: number): string {
    const text = this.texts[i];
    if (text !== undefined) return typeof text === "string" ? text : bytesToText(text);
    const { people, keyed } = this.kept(i);
    return occupantsJson(people, keyed);
  }

  /** Room i's people less those dropped (it must have answered). */
  private kept(i: number): OccupantList {
    const people = this.people[i];
    if (people === undefined) throw new RangeError(`room ${this.rooms[i]} has not answered`);
    const keyed = this.keyed[i] === 1;
    const gone = this.dropped.get(i);
    return { people: gone === undefined ? people : people.filter((p) => !gone.has(nameAt(p, keyed))), keyed };
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
    if (l === undefined) return false;
    const x = this.keyed[i] === 1 ? PERSON_PREFIX + p : p;
    return binarySearch(l, x) >= 0;
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
