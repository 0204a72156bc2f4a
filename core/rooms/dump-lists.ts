/**
 * A dump as one replica reads it: each room's people as the index holds
 * them (occupant-list.ts: person keys while the room has no capacity, else
 * names; the index's own arrays, which it replaces and never changes), read
 * a slice of rooms per turn, then everyone whose key changed meanwhile put
 * in the one room the replica has them in at the end (place()). People who
 * did not change are where they were all along, so the whole is the
 * replica's state at that last turn: nobody in two rooms, nobody lost
 * between a room read before they left it and one read before they came.
 */
import { PERSON_PREFIX } from "./keys.ts";
import { nameAt, NO_ONE, type OccupantList, occupantsJson } from "./occupant-list.ts";
import { searchSorted } from "./sorted-names.ts";

/** A complete dump, written out as JSON a slice of rooms at a time. */
export interface DumpText {
  /** The rooms, sorted. */
  readonly rooms: readonly string[];
  /** Rooms [from, to) as JSON members, `"room":["name",...]` joined by commas. */
  jsonOf(from: number, to: number): string;
  /** Room `i`'s people as a list (names written from it straight into a body, no text made). */
  roomList(i: number): OccupantList;
}

export class DumpLists implements DumpText {
  private readonly lists: (OccupantList | undefined)[];
  /** room index -> names placed elsewhere */
  private readonly dropped = new Map<number, Set<string>>();
  /** room index -> names placed here that its list lacks */
  private readonly added = new Map<number, string[]>();

  constructor(readonly rooms: readonly string[]) {
    this.lists = new Array<OccupantList | undefined>(rooms.length);
  }

  /** Room `i`'s people, sorted (the array is never changed, by the merge or anyone). */
  set(i: number, list: OccupantList): void {
    if (this.lists[i] !== undefined) throw new RangeError(`room ${this.rooms[i]} read twice`);
    this.lists[i] = list;
  }

  /** Rooms not read yet. */
  unread(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.lists.length; i++) if (this.lists[i] === undefined) out.push(i);
    return out;
  }

  /** The index of `room` among the (sorted) rooms, or -1. */
  indexOf(room: string): number {
    const i = searchSorted(this.rooms, room);
    return this.rooms[i] === room ? i : -1;
  }

  /** `person` shown in room `at` alone (-1: in none) of the rooms `seen` (where they may show) and `at`. */
  place(person: string, seen: readonly number[], at: number): void {
    for (const i of seen) {
      if (i === at || i < 0) continue;
      let s = this.dropped.get(i);
      if (s === undefined) this.dropped.set(i, (s = new Set()));
      s.add(person);
      const more = this.added.get(i);
      if (more !== undefined && more.includes(person)) this.added.set(i, more.filter((p) => p !== person));
    }
    if (at < 0) return;
    this.dropped.get(at)?.delete(person);
    if (this.shows(at, person)) return;
    const l = this.added.get(at);
    if (l === undefined) this.added.set(at, [person]);
    else l.push(person);
  }

  /** Room `i`'s people less those placed elsewhere, plus those placed here (it must have been read). */
  roomList(i: number): OccupantList {
    const list = this.lists[i];
    if (list === undefined) throw new RangeError(`room ${this.rooms[i]} has not been read`);
    const gone = this.dropped.get(i);
    const more = this.added.get(i);
    if ((gone === undefined || gone.size === 0) && more === undefined) return list;
    const { keyed } = list;
    let people = gone === undefined ? list.people.slice() : list.people.filter((p) => !gone.has(nameAt(p, keyed)));
    if (more !== undefined) people = people.concat(more.map((p) => (keyed ? PERSON_PREFIX + p : p))).sort();
    return { people, keyed };
  }

  /** Room `i`'s people as JSON text, `["name",...]` (what jsonOf writes after its `"room":`). */
  private roomJson(i: number): string {
    const { people, keyed } = this.roomList(i);
    return occupantsJson(people, keyed);
  }

  /** Rooms [from, to) of the dump as JSON members (`"room":[...]`, comma-separated), as JSON.stringify writes them. */
  jsonOf(from: number, to: number): string {
    // Parts joined once: a flat string, not a rope of a thousand `+=`.
    const parts: string[] = [];
    for (let i = from; i < Math.min(to, this.rooms.length); i++) {
      if (parts.length > 0) parts.push(",");
      parts.push(JSON.stringify(this.rooms[i]!), ":", this.roomJson(i));
    }
    return parts.join("");
  }

  /** Rooms [from, to) of the dump into `out`, room -> names. */
  writeInto(out: Record<string, string[]>, from: number, to: number): void {
    for (let i = from; i < Math.min(to, this.rooms.length); i++) {
      const { people, keyed } = this.roomList(i);
      out[this.rooms[i]!] = people.map((p) => nameAt(p, keyed));
    }
  }

  /** Whether room `i` shows `person`: its list (unless placed elsewhere) or placed here. */
  private shows(i: number, person: string): boolean {
    if (this.added.get(i)?.includes(person) === true) return true;
    const list = this.lists[i] ?? NO_ONE;
    const x = list.keyed ? PERSON_PREFIX + person : person;
    const at = searchSorted(list.people, x);
    return list.people[at] === x && !(this.dropped.get(i)?.has(person) ?? false);
  }
}
