/**
 * The dump, read from this replica behind the read barrier (rooms.ts
 * dumpText): the barrier made it hold every write a majority acknowledged
 * before the dump began, as who-is-in reads it, so no owner is asked. Rooms
 * are read a slice per turn (DUMP_SLICE); everyone whose key changed
 * meanwhile is then shown, in one turn, in the one room this replica has
 * them in (core/rooms/dump-lists.ts). Only a named room this replica lacks
 * is asked of its owner (which says unknown_room for no room); one that
 * does not answer fails the whole dump (`unavailable`).
 *
 * The owner-side answers of an older node's batched dump (who-many,
 * who-hash, stamps) are kept here too: a node from before reads its dumps
 * that way during a rolling upgrade.
 */
import { RoomyError } from "../../core/errors.ts";
import type { Timestamp } from "../../core/crdt/hlc.ts";
import type { Change, LwwMap } from "../../core/crdt/lww-map.ts";
import { DumpLists } from "../../core/rooms/dump-lists.ts";
import { PERSON_PREFIX, personKey, type RoomAnswer, type RoomIndex } from "../../core/rooms/rooms.ts";
import type { Registry } from "../registry/types.ts";
import { digestToBytes } from "../replication/messages.ts";
import { type HashAnswers, type ManyAnswers, roomMsgToWire } from "./room-messages.ts";

/** Dumps under way: each maps every person whose key changed during it to the rooms the key named meanwhile (before and after). */
export type DumpsRunning = Set<Map<string, string[]>>;

/** What the dump needs of its node's rooms app. */
export interface DumpDeps {
  registry: Registry;
  index: RoomIndex;
  map: LwwMap;
  /** The process name of a room. */
  procOf(room: string): string;
  running: DumpsRunning;
  /** Resolves on a later turn (AppContext.nextTurn). */
  nextTurn(): Promise<void>;
}

/**
 * A dump's question to an owner node: every listed room it serves right
 * now, answered as its process would (same replica, same node); the others
 * (moved, not started here, unknown) come back null, to be asked one by one.
 */
export function answerMany(d: DumpDeps, rooms: readonly unknown[]): ManyAnswers {
  return rooms.map((r: unknown) => (typeof r === "string" && d.index.room(r) !== null && d.registry.isServing(d.procOf(r)) ? d.index.occupants(r) : null));
}

/**
 * A dump's question to an owner node, as answerMany's: when the asker's
 * digest equals this replica's, the asker holds everything this node holds
 * (a digest covers every entry and its stamp), and each room served here
 * answers its people as JSON text; else its occupantsHash() (the asker
 * compares it with its own list). null: not served here.
 */
export function answerHashes(d: DumpDeps, rooms: readonly unknown[], digest: Uint8Array | null, seed: number): HashAnswers {
  const same = digest !== null && sameBytes(digest, digestToBytes(d.map.digest()));
  // One index lookup a room (each a cache miss or two at 100k rooms): null when the room does not exist.
  const answers = rooms.map((r: unknown) => {
    if (typeof r !== "string" || !d.registry.isServing(d.procOf(r))) return null;
    return same ? d.index.occupantsJson(r) : d.index.occupantsHash(r, seed);
  });
  return { same, answers };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A dump's second question, for people two rooms showed: each one's stamp if they are in `room` now, else null. */
export function stampsIn(d: DumpDeps, room: string, people: readonly unknown[]): (Timestamp | null)[] {
  return people.map((p: unknown) => (typeof p === "string" && d.index.roomOf(p) === room ? (d.map.entry(personKey(p))?.ts ?? null) : null));
}

/**
 * Every room, sorted: a replica that has not listed its rooms since 100k came
 * sorts them a slice per turn, not in one (15-23 ms); a list sorted already
 * (or a few names to merge) costs no extra turn.
 */
export async function allRooms(d: Pick<DumpDeps, "index" | "nextTurn">): Promise<string[]> {
  while (!d.index.settleRooms()) await d.nextTurn();
  return d.index.rooms();
}

/**
 * Every room of `names` (sorted, each known here or left to its owner) with
 * its people: complete, or it throws (`unavailable`, or `unknown_room` from
 * the owner of a named room that does not exist). The caller passed the
 * read barrier.
 */
export async function gatherDump(d: DumpDeps, names: string[]): Promise<DumpLists> {
  const moved = new Map<string, string[]>();
  d.running.add(moved);
  try {
    const out = new DumpLists(names);
    for (let i = 0; i < names.length; i++) {
      if (i % DUMP_SLICE === DUMP_SLICE - 1) await d.nextTurn();
      const list = d.index.occupantList(names[i]!);
      if (list !== null) out.set(i, list);
    }
    const asked = await askOwners(d, out);
    // From here on one turn: the replica as it is now.
    for (const [person, rooms] of moved) {
      const now = d.index.roomOf(person);
      out.place(person, rooms.map((r) => out.indexOf(r)), now === null ? -1 : out.indexOf(now));
    }
    // An owner's answer for a room this replica lacks: someone this replica has in another room is shown there only.
    for (const [i, people] of asked) {
      for (const p of people) {
        const here = d.index.roomOf(p);
        if (here !== null && here !== names[i]) out.place(p, [i], out.indexOf(here));
      }
    }
    return out;
  } finally {
    d.running.delete(moved);
  }
}

/** A dump as a record, room -> names (DUMP_SLICE rooms a turn). */
export async function dumpRecord(d: Pick<DumpDeps, "nextTurn">, dump: DumpLists): Promise<Record<string, string[]>> {
  // No prototype: a room named "__proto__" (or "constructor") is a key like any other.
  const out = Object.create(null) as Record<string, string[]>;
  for (let from = 0; from < dump.rooms.length; from += DUMP_SLICE) {
    if (from > 0) await d.nextTurn();
    dump.writeInto(out, from, from + DUMP_SLICE);
  }
  return out;
}

/**
 * The rooms `out` has not read (named rooms this replica lacks), each asked
 * of its owner, OWNER_WINDOW at a time: their answers, by room index.
 */
async function askOwners(d: DumpDeps, out: DumpLists): Promise<Map<number, string[]>> {
  const unread = out.unread();
  const answers = new Map<number, string[]>();
  let next = 0;
  let failure: RoomyError | undefined;
  const worker = async (): Promise<void> => {
    while (next < unread.length && failure === undefined) {
      const i = unread[next++]!;
      const room = out.rooms[i]!;
      try {
        const a = await d.registry.call<RoomAnswer>(d.procOf(room), roomMsgToWire({ kind: "who", withStamps: false }));
        if (!isNameList(a?.people)) throw new RoomyError("unavailable", "malformed answer");
        const people = a.people.slice().sort();
        out.set(i, { people, keyed: false });
        answers.set(i, people);
      } catch (err) {
        if (err instanceof RoomyError && err.code !== "unavailable") failure ??= err;
        else failure ??= new RoomyError("unavailable", `dump incomplete: room ${JSON.stringify(room)} did not answer (${String((err as Error).message ?? err)}); retry`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(OWNER_WINDOW, unread.length) }, worker));
  if (failure !== undefined) throw failure;
  return answers;
}

/** Rooms this replica lacks asked of their owners at once. */
const OWNER_WINDOW = 64;
/** Rooms read in one turn of the event loop (a lookup and a few fields each: ~1-2 us at 100k rooms). */
const DUMP_SLICE = 2000;

function isNameList(l: unknown): l is string[] {
  if (!Array.isArray(l)) return false;
  for (const x of l) if (typeof x !== "string") return false;
  return true;
}

/** Person keys in `changes` into every running dump: each room the key named, before and after. */
export function notePersonChanges(dumps: DumpsRunning, changes: readonly Change[]): void {
  for (const c of changes) {
    if (!c.key.startsWith(PERSON_PREFIX)) continue;
    const person = c.key.slice(PERSON_PREFIX.length);
    for (const d of dumps) {
      let rooms = d.get(person);
      if (rooms === undefined) d.set(person, (rooms = []));
      for (const r of [c.old, c.value]) if (typeof r === "string" && !rooms.includes(r)) rooms.push(r);
    }
  }
}
