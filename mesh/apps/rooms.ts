/**
 * Rooms, as in the Roomy seed: one registered process per room
 * (`room:<name>`), the single writer of admissions to its room (and of its
 * seats), so its capacity check against the replica cannot be raced. Every
 * room process is in the group "rooms"; `dump` multi-calls the group like
 * Swarm.multi_call and joins the answers by each person's key timestamp, so
 * replicas at different points never show a person in two rooms.
 */
import { RoomyError } from "../../core/errors.ts";
import type { Timestamp } from "../../core/hlc.ts";
import { validateName, validateNames } from "../../core/names.ts";
import {
  type Conflict,
  type KeyHistory,
  OccupancyMerge,
  PERSON_PREFIX,
  personKey,
  planAddRooms,
  planLeave,
  planWalkInto,
  type RoomAnswer,
  ROOM_PREFIX,
  RoomIndex,
  timestampOrNull,
  uniqueSorted,
  validateCapacity,
} from "../../core/rooms.ts";
import type { ClusterRegistry } from "../registry/cluster-config.ts";
import type { Change } from "../../core/lww-map.ts";
import type { ProcessHandlers, Registry } from "../registry/types.ts";
import { runtimeDefer } from "../runtime.ts";
import { whenHeld } from "../replication/held.ts";
import { type AppContext, field } from "./context.ts";

// One answer for every walk: frozen, since every caller gets the same object.
const OK_ANSWER = Object.freeze({ ok: true });
const walked = () => OK_ANSWER;

export const ROOMS_GROUP = "rooms";
export const ROOM_PROCESS_PREFIX = "room:";

export function roomProcess(room: string): string {
  return ROOM_PROCESS_PREFIX + room;
}

/** Client-facing operations on rooms. */
export interface RoomsApi {
  /** Creates the rooms that do not exist; existing ones are left as they are. */
  addRooms(rooms: string[], capacity?: number | null): Promise<void>;
  /** Every room, sorted. */
  rooms(): string[];
  /** Each person leaves their room (if any) and enters `room`; all or nothing. */
  walkInto(room: string, people: string[]): Promise<void>;
  /** Each person leaves whatever room they are in. */
  leave(people: string[]): Promise<void>;
  /** The people in `room`, sorted. */
  whoIsIn(room: string): Promise<string[]>;
  /** The person's room, or null. */
  whereIs(person: string): string | null;
  /** Every room (or the named ones) with its people, keys and lists sorted. */
  dump(rooms?: string[]): Promise<Record<string, string[]>>;
}

export interface RoomsApp extends RoomsApi {
  /** The index of rooms and occupants (current with the replica). */
  readonly index: RoomIndex;
  stop(): void;
}

export function startRooms(ctx: AppContext): RoomsApp {
  const { map, registry, logger } = ctx;
  const index = RoomIndex.from(map);

  const joinGroup = (room: string): void => {
    registry.join(ROOMS_GROUP, roomProcess(room)).catch((err: unknown) => {
      logger.warn("room could not join its group", { room, error: String(err) });
    });
  };
  for (const room of index.rooms()) joinGroup(room);
  // Rooms created anywhere (here, or merged from a peer) join the group.
  // Running dumps, each with the room every person key it saw change named before its first change.
  const dumpsRunning = new Set<Map<string, string | undefined>>();
  const unsubscribe = ctx.replicator.onChange((changes) => {
    if (dumpsRunning.size > 0) notePersonChanges(dumpsRunning, changes);
    index.apply(changes);
    for (const c of changes) {
      if (c.old === undefined && c.value !== undefined && c.key.startsWith(ROOM_PREFIX)) {
        joinGroup(c.key.slice(ROOM_PREFIX.length));
      }
    }
  });

  // Whether this node answers for process `name` itself now (runs it, owns it,
  // caught up, holds the lease); a node on its own serves every name.
  const reg = registry as Registry & Partial<Pick<ClusterRegistry, "isServing">>;
  const servingHere = (name: string): boolean => reg.isServing?.(name) ?? true;

  // A dump's question to an owner node: every listed room it serves right
  // now, answered as its process would (same replica, same node); the others
  // (moved, not started here, unknown) come back null, to be asked one by one.
  const answerMany = (rooms: unknown): ManyAnswers => {
    if (!Array.isArray(rooms) || rooms.length > MAX_DUMP_CHUNK) {
      throw new RoomyError("bad_request", `who-many takes a list of at most ${MAX_DUMP_CHUNK} rooms`);
    }
    return { a: rooms.map((r: unknown) => (typeof r === "string" && index.room(r) !== null && servingHere(procOf(r)) ? index.occupants(r) : null)) };
  };

  // A dump's second question, for people two rooms showed: each one's stamp
  // if they are in `room` now, else null.
  const stampsIn = (room: string, people: unknown): (Timestamp | null)[] => {
    if (!Array.isArray(people) || people.length > MAX_DUMP_CHUNK) throw new RoomyError("bad_request", "stamps takes a list of people");
    return people.map((p: unknown) => (typeof p === "string" && index.roomOf(p) === room ? (map.entry(personKey(p))?.ts ?? null) : null));
  };

  registry.define(ROOM_PROCESS_PREFIX, (name): ProcessHandlers => {
    const room = name.slice(ROOM_PROCESS_PREFIX.length);
    return {
      // Not async: when the write is held at once (whenHeld) the answer is
      // ready in the same turn, and the registry settles the call without
      // waiting on a promise.
      handle(msg: unknown): unknown {
        switch (field(msg, "t")) {
          case "create": {
            const writes = planAddRooms(map, [room], field(msg, "capacity"));
            return whenHeld(ctx.write(writes), () => ({ created: writes.length > 0 }));
          }
          case "walk":
            return whenHeld(ctx.write(planWalkInto(index, room, field(msg, "people"))), walked);
          case "who": {
            if (index.room(room) === null) throw unknownRoom(room);
            const people = index.occupants(room);
            // who-is-in needs only the names; a dump's merge needs each person's stamp.
            if (field(msg, "bare") === true) return { room, people } satisfies RoomAnswer;
            const since = people.map((p) => map.entry(personKey(p))!.ts);
            return { room, people, since } satisfies RoomAnswer;
          }
          case "who-many":
            return answerMany(field(msg, "rooms"));
          case "stamps":
            return stampsIn(room, field(msg, "people"));
          default:
            throw new RoomyError("bad_request", `room process cannot handle ${JSON.stringify(field(msg, "t"))}`);
        }
      },
    };
  });

  // The process name of each known room, made once: the registry's maps then
  // hash the same flat string every call instead of a new one.
  const procNames = new Map<string, string>();
  const procOf = (room: string): string => {
    let p = procNames.get(room);
    if (p === undefined) procNames.set(room, (p = roomProcess(room)));
    return p;
  };

  // Refusing unknown rooms here keeps garbage names from starting processes.
  // Only a node the majority vouches for says a room does not exist: one cut
  // off with other restarted peers may have caught up from an empty replica
  // (chaos seed 1), and its "unknown" would be a wrong answer, not a refusal.
  const known = (room: string): string => {
    if (index.has(room)) return room;
    if (!registry.authoritative()) {
      throw new RoomyError("unavailable", `this node cannot reach a majority of the cluster to tell whether room ${JSON.stringify(room)} exists; retry`);
    }
    throw unknownRoom(room);
  };

  // Reads served from this replica (where-is, the room list, which rooms a
  // dump asks) come only from a node that caught up for its epoch and holds
  // the lease: a restarted node still catching up, or one cut off from the
  // majority, answers `unavailable` rather than a partial or stale answer.
  const authoritative = (): void => {
    if (!registry.authoritative()) {
      throw new RoomyError("unavailable", "this node has not caught up with a majority of the cluster (starting, or cut off); retry");
    }
  };

  /**
   * The dump's gathering: one who-many per owner node per DUMP_CHUNK rooms
   * (DUMP_WINDOW in flight per owner), this node's own rooms read from the
   * index without a message, and only rooms nobody answered for in a batch
   * (moved mid-dump, not started on their owner) asked one by one, each
   * then routed to its owner now. Every answer is its owner's. People two
   * answers show (replicas a few writes apart) are found against this
   * replica and asked again of those rooms with their stamps: the newest
   * keeps them (OccupancyMerge). Everything runs in turns of a few
   * thousand rooms.
   */
  async function dumpRooms(names: string[]): Promise<Record<string, string[]>> {
    const firstOld = new Map<string, string | undefined>();
    const history: KeyHistory = {
      anyChanged: () => firstOld.size > 0,
      changed: (p) => firstOld.has(p),
      sameHere: (r, people) => index.sameOccupants(r, people),
      keyRoom: (p) => index.keyRoom(p),
      startRoom: (p) => (firstOld.has(p) ? firstOld.get(p) : index.keyRoom(p)),
    };
    dumpsRunning.add(firstOld);
    try {
      const merge = new OccupancyMerge(names, history);
      await gather(names, merge);
      await settleConflicts(names, merge);
      // No prototype: a room named "__proto__" (or "constructor") is a key like any other.
      const out = Object.create(null) as Record<string, string[]>;
      for (let from = 0; from < names.length; from += DUMP_SLICE) {
        if (from > 0) await nextTurn();
        merge.writeInto(out, from, from + DUMP_SLICE);
      }
      return out;
    } finally {
      dumpsRunning.delete(firstOld);
    }
  }

  async function gather(names: string[], merge: OccupancyMerge): Promise<void> {
    const failure = new DumpFailure();
    const mine: number[] = [];
    const byOwner = new Map<string, number[]>();
    for (let i = 0; i < names.length; i++) {
      if (i % DUMP_SLICE === DUMP_SLICE - 1) await nextTurn();
      const owner = registry.ownerOf(procOf(names[i]!));
      if (owner === ctx.node) mine.push(i);
      else {
        const l = byOwner.get(owner);
        if (l === undefined) byOwner.set(owner, [i]);
        else l.push(i);
      }
    }
    const singles: number[] = [];
    const askOwner = async (owner: string, list: number[]): Promise<void> => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < list.length && failure.error === undefined) {
          const chunk = list.slice(next, (next += DUMP_CHUNK));
          const asked = chunk.map((i) => names[i]!);
          let answer: unknown;
          try {
            answer = await registry.call(procOf(asked[0]!), { t: "who-many", rooms: asked });
          } catch (err) {
            // A node from before who-many refuses it: ask its rooms one by one.
            if (err instanceof RoomyError && err.code === "bad_request") singles.push(...chunk);
            else failure.note(err, `node ${owner} (rooms ${JSON.stringify(asked[0])}..${JSON.stringify(asked[asked.length - 1])})`);
            continue;
          }
          addMany(merge, chunk, answer, singles);
        }
      };
      await Promise.all(Array.from({ length: DUMP_WINDOW }, worker));
    };
    const remote = [...byOwner].map(([owner, list]) => askOwner(owner, list));
    for (let k = 0; k < mine.length && failure.error === undefined; k++) {
      if (k % DUMP_SLICE === DUMP_SLICE - 1) await nextTurn();
      const i = mine[k]!;
      const r = names[i]!;
      if (index.room(r) !== null && servingHere(procOf(r))) merge.add(i, index.occupants(r), true);
      else singles.push(i);
    }
    await Promise.all(remote);
    await inWindow(singles, failure, async (i) => {
      const a = await registry.call<RoomAnswer>(procOf(names[i]!), { t: "who", bare: true });
      if (!isNameList(a?.people)) throw new RoomyError("unavailable", "malformed answer");
      merge.add(i, a.people, false);
    }, (i) => `room ${JSON.stringify(names[i])}`);
    failure.throwIfAny();
  }

  /** People shown in two rooms: each of those rooms says whether it holds them now, and with what stamp. */
  async function settleConflicts(names: string[], merge: OccupancyMerge): Promise<void> {
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
      const answer = await registry.call<unknown>(procOf(names[q.room]!), { t: "stamps", people: q.people });
      if (!Array.isArray(answer) || answer.length !== q.people.length) throw new RoomyError("unavailable", "malformed answer");
      q.at.forEach(([, n, k], j) => (stamps[n]![k] = timestampOrNull(answer[j])));
    }, (q) => `room ${JSON.stringify(names[q.room])}`);
    failure.throwIfAny();
    conflicts.forEach((c, n) => merge.resolve(c, stamps[n]!));
  }

  return {
    index,
    async addRooms(rooms: string[], capacity?: number | null): Promise<void> {
      const names = uniqueSorted(validateNames("room", rooms));
      const cap = validateCapacity(capacity);
      await Promise.all(names.map((r) => registry.call(roomProcess(r), { t: "create", capacity: cap })));
    },
    rooms: () => {
      authoritative();
      return index.rooms();
    },
    walkInto(room: string, people: string[]): Promise<void> {
      // Not async: one promise (the call's) instead of two. Names are checked
      // here too (no process for a garbage name, no garbage on the wire).
      let r: string;
      try {
        r = validateName("room", room);
        validateNames("person", people);
        known(r);
      } catch (err) {
        return Promise.reject(err);
      }
      return registry.call(procOf(r), { t: "walk", people }) as Promise<unknown> as Promise<void>;
    },
    async leave(people: string[]): Promise<void> {
      await ctx.write(planLeave(people));
    },
    async whoIsIn(room: string): Promise<string[]> {
      const r = known(validateName("room", room));
      const o = await registry.call<RoomAnswer>(procOf(r), { t: "who", bare: true });
      return o.people;
    },
    whereIs: (person: string) => {
      const p = validateName("person", person);
      authoritative();
      return index.roomOf(p);
    },
    // Complete or an error: every room this replica knows is asked (its
    // owner answers), and one that does not answer fails the whole dump
    // (`unavailable`), never a 200 with rooms missing.
    async dump(rooms?: string[]): Promise<Record<string, string[]>> {
      if (rooms === undefined || rooms.length === 0) authoritative();
      const names = rooms === undefined || rooms.length === 0 ? index.rooms() : uniqueSorted(validateNames("room", rooms)).map(known);
      return dumpRooms(names);
    },
    stop: unsubscribe,
  };
}

/**
 * Rooms per who-many call: at ~10 people a room, answering or merging one
 * is ~10 ms of one turn, and its answer (~100 KB) is far below a mesh frame.
 */
export const DUMP_CHUNK = 1000;
/** The most a who-many may list (a peer asking more is refused). */
const MAX_DUMP_CHUNK = 10_000;
/** who-many calls in flight per owner: the next is on its way while one is answered. */
const DUMP_WINDOW = 2;
/** Rooms asked one by one in flight at once. */
const SINGLE_WINDOW = 256;
/** Rooms handled in one turn of the event loop by the dump's own loops. */
const DUMP_SLICE = 1000;

/** Let timers and I/O run: the dump's loops go on in the next turn. */
const nextTurn = (): Promise<void> => new Promise((resolve) => runtimeDefer(resolve));

/** A who-many answer: per asked room, in order, its people (sorted), or null: not answered here, ask the room itself. */
export interface ManyAnswers {
  a: (string[] | null)[];
}

/** A who-many answer into `merge`: rooms `chunk` in the order asked; those it left out (or malformed) onto `singles`. */
function addMany(merge: OccupancyMerge, chunk: readonly number[], answer: unknown, singles: number[]): void {
  const list = (answer as Partial<ManyAnswers> | null)?.a;
  if (!Array.isArray(list) || list.length !== chunk.length) {
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
function notePersonChanges(dumps: ReadonlySet<Map<string, string | undefined>>, changes: readonly Change[]): void {
  for (const c of changes) {
    if (!c.key.startsWith(PERSON_PREFIX)) continue;
    const person = c.key.slice(PERSON_PREFIX.length);
    for (const d of dumps) if (!d.has(person)) d.set(person, typeof c.old === "string" ? c.old : undefined);
  }
}

function unknownRoom(room: string): RoomyError {
  return new RoomyError("unknown_room", `room ${JSON.stringify(room)} does not exist`);
}
