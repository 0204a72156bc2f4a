/**
 * The full dump, gathered by owner node rather than room by room: one
 * who-hash per owner node per DUMP_CHUNK rooms (DUMP_WINDOW in flight per
 * owner), carrying this node's map digest. An owner whose digest equals it
 * answers each room it serves as JSON text (this replica held everything
 * the owner did); else as a fingerprint of its list, and rooms whose
 * fingerprint equals this replica's list are read here, the rest asked for
 * names (who-many). The dumping node's own rooms are read from its index
 * without a message, and only rooms nobody answered for in a batch (moved
 * mid-dump, not started on their owner, or an owner from before who-many)
 * asked one by one, each then routed to its owner of the moment. Every
 * answer is its owner's. People two answers show in different rooms are
 * found against this node's replica (OccupancyMerge) and asked again, of
 * those rooms, for their stamps: the newest keeps them. Complete or an
 * error: a room or owner that does not answer fails the whole dump. Every
 * loop runs DUMP_SLICE rooms per turn of the event loop.
 */
import { RoomyError } from "../../core/errors.ts";
import type { Timestamp } from "../../core/crdt/hlc.ts";
import type { Change, LwwMap } from "../../core/crdt/lww-map.ts";
import { type Conflict, type KeyHistory, OccupancyMerge, PERSON_PREFIX, personKey, type RoomAnswer, type RoomIndex, timestampOrNull } from "../../core/rooms/rooms.ts";
import type { Registry } from "../registry/types.ts";
import { randomInt, type Random } from "../types.ts";
import { digestToBytes } from "../replication/messages.ts";
import { bytesToSlices } from "../../core/rooms/text-bytes.ts";
import { type HashAnswers, hashAnswersFromWire, type ManyAnswers, manyAnswersFromWire, roomMsgToWire } from "./room-messages.ts";

/** Dumps under way: each maps every person whose key changed during it to the room the key named before. */
export type DumpsRunning = Set<Map<string, string | undefined>>;

/** What the dump needs of its node's rooms app. */
export interface DumpDeps {
  node: string;
  registry: Registry;
  index: RoomIndex;
  map: LwwMap;
  /** The process name of a room. */
  procOf(room: string): string;
  running: DumpsRunning;
  /** Resolves on a later turn (AppContext.nextTurn). */
  nextTurn(): Promise<void>;
  /** Seeds each dump's fingerprints. */
  random: Random;
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

/** Every room of `names` (sorted) answered by its owner and merged: complete, or it throws (`unavailable`). */
export async function gatherDump(d: DumpDeps, names: string[]): Promise<OccupancyMerge> {
  const { index } = d;
  const firstOld = new Map<string, string | undefined>();
  const history: KeyHistory = {
    anyChanged: () => firstOld.size > 0,
    changed: (p) => firstOld.has(p),
    sameHere: (r, people) => index.sameOccupants(r, people),
    keyRoom: (p) => index.keyRoom(p),
    startRoom: (p) => (firstOld.has(p) ? firstOld.get(p) : index.keyRoom(p)),
  };
  d.running.add(firstOld);
  try {
    const merge = new OccupancyMerge(names, history);
    await gather(d, names, merge);
    // Someone moved while the dump ran: text answers cannot be checked, their rooms are read here (each read is at least as new).
    if (!merge.settled()) {
      const texts = merge.textRooms();
      for (let k = 0; k < texts.length; k++) {
        if (k % DUMP_SLICE === DUMP_SLICE - 1) await d.nextTurn();
        merge.rereadText(texts[k]!, index.occupantList(names[texts[k]!]!));
      }
    }
    await settleConflicts(d, names, merge);
    return merge;
  } finally {
    d.running.delete(firstOld);
  }
}

/** A gathered dump as a record, room -> names (DUMP_SLICE rooms a turn). */
export async function dumpRecord(d: Pick<DumpDeps, "nextTurn">, merge: OccupancyMerge): Promise<Record<string, string[]>> {
  // No prototype: a room named "__proto__" (or "constructor") is a key like any other.
  const out = Object.create(null) as Record<string, string[]>;
  for (let from = 0; from < merge.rooms.length; from += DUMP_SLICE) {
    if (from > 0) await d.nextTurn();
    merge.writeInto(out, from, from + DUMP_SLICE);
  }
  return out;
}

async function gather(d: DumpDeps, names: string[], merge: OccupancyMerge): Promise<void> {
  // This dump's fingerprint seed: unknown to whoever named the people, so no chosen names collide under it.
  const seed = randomInt(d.random, 2 ** 32) | 0;
  const { registry, index, procOf } = d;
  const failure = new DumpFailure();
  const mine: number[] = [];
  const byOwner = new Map<string, number[]>();
  for (let i = 0; i < names.length; i++) {
    if (i % DUMP_SLICE === DUMP_SLICE - 1) await d.nextTurn();
    const owner = registry.ownerOf(procOf(names[i]!));
    if (owner === d.node) mine.push(i);
    else {
      const l = byOwner.get(owner);
      if (l === undefined) byOwner.set(owner, [i]);
      else l.push(i);
    }
  }
  const singles: number[] = [];
  const what = (owner: string, asked: string[]) => `node ${owner} (rooms ${JSON.stringify(asked[0])}..${JSON.stringify(asked[asked.length - 1])})`;
  // The names of `chunk`'s rooms from their owner node (rooms it leaves out, or all from a node before who-many, one by one).
  const askNames = async (owner: string, chunk: number[]): Promise<void> => {
    const asked = chunk.map((i) => names[i]!);
    try {
      addMany(merge, chunk, await registry.call(procOf(asked[0]!), roomMsgToWire({ kind: "whoMany", rooms: asked })), singles);
    } catch (err) {
      if (err instanceof RoomyError && err.code === "bad_request") singles.push(...chunk);
      else failure.note(err, what(owner, asked));
    }
  };
  const askOwner = async (owner: string, list: number[]): Promise<void> => {
    /** Rooms whose fingerprint differs from this replica's: their names are asked. */
    const differ: number[] = [];
    let fingerprints = true;
    await inChunks(list, DUMP_WINDOW, failure, async (chunk) => {
      if (!fingerprints) return askNames(owner, chunk);
      const asked = chunk.map((i) => names[i]!);
      let answer: unknown;
      try {
        // The digest as of now: a match says this replica, from now on, holds all the owner held when it answered.
        const digest = digestToBytes(d.map.digest());
        answer = await registry.call(procOf(asked[0]!), roomMsgToWire({ kind: "whoHash", rooms: asked, digest, seed, bytes: true }));
      } catch (err) {
        // A node from before who-hash refuses it: ask it for names.
        if (!(err instanceof RoomyError && err.code === "bad_request")) return failure.note(err, what(owner, asked));
        fingerprints = false;
        return askNames(owner, chunk);
      }
      addHashes(d, merge, chunk, answer, differ, singles, seed);
    });
    await inChunks(differ, DUMP_WINDOW, failure, (chunk) => askNames(owner, chunk));
  };
  const remote = [...byOwner].map(([owner, list]) => askOwner(owner, list));
  for (let k = 0; k < mine.length && failure.error === undefined; k++) {
    if (k % DUMP_SLICE === DUMP_SLICE - 1) await d.nextTurn();
    const i = mine[k]!;
    const r = names[i]!;
    const text = d.registry.isServing(procOf(r)) ? index.occupantsJson(r) : null;
    if (text === null) singles.push(i);
    // While nobody has moved, as text (kept by the index between changes: no copy); else as a list to check.
    else if (merge.settled()) merge.addText(i, text);
    else merge.addList(i, index.occupantList(r), true);
  }
  await Promise.all(remote);
  await inWindow(singles, failure, async (i) => {
    const a = await registry.call<RoomAnswer>(procOf(names[i]!), roomMsgToWire({ kind: "who", withStamps: false }));
    if (!isNameList(a?.people)) throw new RoomyError("unavailable", "malformed answer");
    merge.add(i, a.people, false);
  }, (i) => `room ${JSON.stringify(names[i])}`);
  failure.throwIfAny();
}

/** `fn` for each DUMP_CHUNK of `list`, `window` at a time, until the first failure. */
async function inChunks(list: readonly number[], window: number, failure: DumpFailure, fn: (chunk: number[]) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length && failure.error === undefined) await fn(list.slice(next, (next += DUMP_CHUNK)));
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/**
 * A who-hash answer. Each room the owner serves: its JSON text when the
 * owner found the digests equal; else added from this replica as it is now
 * when the owner's fingerprint equals this replica's list (the owner's
 * answer is that list), or onto `differ` (its names are asked). One left
 * out goes onto `singles`.
 */
function addHashes(d: DumpDeps, merge: OccupancyMerge, chunk: readonly number[], answer: unknown, differ: number[], singles: number[], seed: number): void {
  const got = hashAnswersFromWire(answer);
  if (got === null || got.answers.length !== chunk.length) {
    singles.push(...chunk);
    return;
  }
  // Texts as one buffer (asked for bytes): each room's slice, copied into the body as is.
  if (got.same && got.text !== null) {
    const slices = bytesToSlices(got.text, got.answers);
    if (slices === null) {
      singles.push(...chunk);
      return;
    }
    for (let k = 0; k < chunk.length; k++) {
      const b = slices[k];
      if (b !== null && b !== undefined && b.length >= 2 && b[0] === OPEN && b[b.length - 1] === CLOSE) merge.addBytes(chunk[k]!, b);
      else singles.push(chunk[k]!);
    }
    merge.hold(got.text);
    return;
  }
  for (let k = 0; k < chunk.length; k++) {
    const h = got.answers[k];
    const i = chunk[k]!;
    const r = merge.rooms[i]!;
    if (got.same && typeof h === "string" && h.startsWith("[") && h.endsWith("]")) merge.addText(i, h);
    else if (got.same || typeof h !== "number") singles.push(i);
    else if (d.index.occupantsHash(r, seed) === h) merge.addList(i, d.index.occupantList(r), true);
    else differ.push(i);
  }
}

const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]

/** People shown in two rooms: each of those rooms says whether it holds them now, and with what stamp. */
async function settleConflicts(d: DumpDeps, names: string[], merge: OccupancyMerge): Promise<void> {
  const { registry, procOf } = d;
  const conflicts = merge.conflicts();
  if (conflicts.length === 0) return;
  const stamps = conflicts.map((c) => c.rooms.map((): Timestamp | null => null));
  const byRoom = new Map<number, { people: string[]; at: [Conflict, number, number][] }>();
  conflicts.forEach((c, n) =>
    c.rooms.forEach((r, k) => {
      let q = byRoom.get(r);
      if (q === undefined) byRoom.set(r, (q = { people: [], at: [] }));
      q.people.push(c.person);
      q.at.push([c, n, k]);
    }),
  );
  const failure = new DumpFailure();
  const asks: { room: number; people: string[]; at: [Conflict, number, number][] }[] = [];
  for (const [room, q] of byRoom) {
    for (let i = 0; i < q.people.length; i += DUMP_CHUNK) asks.push({ room, people: q.people.slice(i, i + DUMP_CHUNK), at: q.at.slice(i, i + DUMP_CHUNK) });
  }
  await inWindow(asks, failure, async (q) => {
    const answer = await stampsOf(registry, procOf(names[q.room]!), q.people);
    q.at.forEach(([, n, k], j) => (stamps[n]![k] = timestampOrNull(answer[j])));
  }, (q) => `room ${JSON.stringify(names[q.room])}`);
  failure.throwIfAny();
  conflicts.forEach((c, n) => merge.resolve(c, stamps[n]!));
}

/**
 * Rooms per who-many call: at ~10 people a room, answering or merging one
 * is ~10 ms of one turn, and its answer (~100 KB) is far below a mesh frame.
 */
export const DUMP_CHUNK = 1000;
/** who-many calls in flight per owner: the next is on its way while one is answered. */
const DUMP_WINDOW = 2;
/** Rooms asked one by one in flight at once. */
const SINGLE_WINDOW = 256;
/** Rooms handled in one turn of the event loop by the dump's own loops. */
const DUMP_SLICE = 500;

/** A who-many answer into `merge`: rooms `chunk` in the order asked; those it left out (or malformed) onto `singles`. */
function addMany(merge: OccupancyMerge, chunk: readonly number[], answer: unknown, singles: number[]): void {
  const list = manyAnswersFromWire(answer);
  if (list === null || list.length !== chunk.length) {
    singles.push(...chunk);
    return;
  }
  for (let k = 0; k < chunk.length; k++) {
    const e: unknown = list[k];
    if (isNameList(e)) merge.add(chunk[k]!, e, false);
    else singles.push(chunk[k]!);
  }
}

function isNameList(l: unknown): l is string[] {
  if (!Array.isArray(l)) return false;
  for (const x of l) if (typeof x !== "string") return false;
  return true;
}

/** Room process `proc`'s stamps for `people` now (a node from before "stamps": read from its whole answer). */
async function stampsOf(registry: Registry, proc: string, people: string[]): Promise<unknown[]> {
  try {
    const answer = await registry.call<unknown>(proc, roomMsgToWire({ kind: "stamps", people }));
    if (Array.isArray(answer) && answer.length === people.length) return answer;
  } catch (err) {
    if (!(err instanceof RoomyError && err.code === "bad_request")) throw err;
  }
  const a = await registry.call<RoomAnswer>(proc, roomMsgToWire({ kind: "who", withStamps: true }));
  if (!isNameList(a?.people)) throw new RoomyError("unavailable", "malformed answer");
  const since = new Map(a.people.map((p, i) => [p, a.since?.[i] ?? null]));
  return people.map((p) => since.get(p) ?? null);
}

/** The first failure of a dump's calls, as the dump's error. */
class DumpFailure {
  error: RoomyError | undefined;

  note(err: unknown, what: string): void {
    if (this.error !== undefined) return;
    if (err instanceof RoomyError && err.code !== "unavailable") this.error = err;
    else this.error = new RoomyError("unavailable", `dump incomplete: ${what} did not answer (${String((err as Error).message ?? err)}); retry`);
  }

  throwIfAny(): void {
    if (this.error !== undefined) throw this.error;
  }
}

/** `ask` for every item, SINGLE_WINDOW at a time, stopping at the first failure. */
async function inWindow<T>(items: readonly T[], failure: DumpFailure, ask: (x: T) => Promise<void>, what: (x: T) => string): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure.error === undefined) {
      const x = items[next++]!;
      try {
        await ask(x);
      } catch (err) {
        failure.note(err, what(x));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SINGLE_WINDOW, items.length) }, worker));
}

/** Person keys in `changes` into every running dump: the room each named before its first change there. */
export function notePersonChanges(dumps: DumpsRunning, changes: readonly Change[]): void {
  for (const c of changes) {
    if (!c.key.startsWith(PERSON_PREFIX)) continue;
    const person = c.key.slice(PERSON_PREFIX.length);
    for (const d of dumps) if (!d.has(person)) d.set(person, typeof c.old === "string" ? c.old : undefined);
  }
}
