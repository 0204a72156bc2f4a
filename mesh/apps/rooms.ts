/**
 * Rooms, as in the Roomy seed: one registered process per room
 * (`room:<name>`), the single writer of admissions to its room (and of its
 * seats), so its capacity check against the replica cannot be raced. Every
 * room process is in the group "rooms"; `dump` multi-calls the group like
 * Swarm.multi_call and joins the answers by each person's key timestamp, so
 * replicas at different points never show a person in two rooms.
 */
import { RoomyError } from "../../core/errors.ts";
import { validateName, validateNames } from "../../core/names.ts";
import {
  OccupancyMerge,
  type PackedAnswers,
  personKey,
  planAddRooms,
  planLeave,
  planWalkInto,
  type RoomAnswer,
  ROOM_PREFIX,
  RoomIndex,
  StampPacker,
  uniqueSorted,
  validateCapacity,
} from "../../core/rooms.ts";
import type { ClusterRegistry } from "../registry/cluster-config.ts";
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
  const unsubscribe = ctx.replicator.onChange((changes) => {
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

  /** Room `r` as this replica holds it: its people (sorted) and their stamps, packed. */
  const packRoom = (r: string, packer: StampPacker): [string[], number[]] => {
    const people = index.occupants(r);
    const stamps: number[] = [];
    for (const p of people) packer.push(stamps, map.entry(personKey(p))!.ts);
    return [people, stamps];
  };

  // A dump's question to an owner node: every listed room it serves right
  // now, answered as its process would (same replica, same node); the others
  // (moved, not started here, unknown) come back null, to be asked one by one.
  const answerMany = (rooms: unknown): PackedAnswers => {
    if (!Array.isArray(rooms) || rooms.length > MAX_DUMP_CHUNK) {
      throw new RoomyError("bad_request", `who-many takes a list of at most ${MAX_DUMP_CHUNK} rooms`);
    }
    const packer = new StampPacker();
    const a = rooms.map((r: unknown) => (typeof r === "string" && index.room(r) !== null && servingHere(procOf(r)) ? packRoom(r, packer) : null));
    return { n: packer.writers, a };
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
   * then routed to its owner now. Every answer is its owner's; they are
   * merged by each person's key timestamp as they arrive, in turns of a few
   * thousand rooms.
   */
  async function dumpRooms(names: string[]): Promise<Record<string, string[]>> {
    const merge = new OccupancyMerge(names);
    let failed: RoomyError | undefined;
    const fail = (err: unknown, what: string): void => {
      if (failed !== undefined) return;
      if (err instanceof RoomyError && err.code !== "unavailable") failed = err;
      else failed = new RoomyError("unavailable", `dump incomplete: ${what} did not answer (${String((err as Error).message ?? err)}); retry`);
    };
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
        while (next < list.length && failed === undefined) {
          const chunk = list.slice(next, (next += DUMP_CHUNK));
          const asked = chunk.map((i) => names[i]!);
          let answer: unknown;
          try {
            answer = await registry.call(procOf(asked[0]!), { t: "who-many", rooms: asked });
          } catch (err) {
            // A node from before who-many refuses it: ask its rooms one by one.
            if (err instanceof RoomyError && err.code === "bad_request") singles.push(...chunk);
            else fail(err, `node ${owner} (rooms ${JSON.stringify(asked[0])}..${JSON.stringify(asked[asked.length - 1])})`);
            continue;
          }
          addPacked(merge, chunk, answer, singles);
        }
      };
      await Promise.all(Array.from({ length: DUMP_WINDOW }, worker));
    };
    const remote = [...byOwner].map(([owner, list]) => askOwner(owner, list));
    const packer = new StampPacker();
    for (let k = 0; k < mine.length && failed === undefined; k++) {
      if (k % DUMP_SLICE === DUMP_SLICE - 1) await nextTurn();
      const i = mine[k]!;
      const r = names[i]!;
      if (index.room(r) !== null && servingHere(procOf(r))) {
        const [people, stamps] = packRoom(r, packer);
        merge.add(i, people, stamps, packer.writers);
      } else singles.push(i);
    }
    await Promise.all(remote);
    let next = 0;
    const single = async (): Promise<void> => {
      while (next < singles.length && failed === undefined) {
        const i = singles[next++]!;
        try {
          const a = await registry.call<RoomAnswer>(procOf(names[i]!), { t: "who" });
          if (!isRoomAnswer(a)) throw new RoomyError("unavailable", "malformed answer");
          merge.addAnswer(i, a);
        } catch (err) {
          fail(err, `room ${JSON.stringify(names[i])}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SINGLE_WINDOW, singles.length) }, single));
    if (failed !== undefined) throw failed;
    // No prototype: a room named "__proto__" (or "constructor") is a key like any other.
    const out = Object.create(null) as Record<string, string[]>;
    for (let from = 0; from < names.length; from += DUMP_SLICE) {
      if (from > 0) await nextTurn();
      merge.writeInto(out, from, from + DUMP_SLICE);
    }
    return out;
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

/** Rooms per who-many call: its answer (~50 bytes a person) stays far below a mesh frame at tens of people a room. */
export const DUMP_CHUNK = 2000;
/** The most a who-many may list (a peer asking more is refused). */
const MAX_DUMP_CHUNK = 10_000;
/** who-many calls in flight per owner: the next is on its way while one is answered. */
const DUMP_WINDOW = 2;
/** Rooms asked one by one in flight at once. */
const SINGLE_WINDOW = 256;
/** Rooms handled in one turn of the event loop by the dump's own loops. */
const DUMP_SLICE = 2000;

/** Let timers and I/O run: the dump's loops go on in the next turn. */
const nextTurn = (): Promise<void> => new Promise((resolve) => runtimeDefer(resolve));

/** A who-many answer into `merge`: rooms `chunk` in the order asked; those it left out (or malformed) onto `singles`. */
function addPacked(merge: OccupancyMerge, chunk: readonly number[], answer: unknown, singles: number[]): void {
  const p = answer as Partial<PackedAnswers> | null;
  const writers = p?.n;
  const list = p?.a;
  if (!Array.isArray(writers) || !Array.isArray(list) || list.length !== chunk.length) {
    singles.push(...chunk);
    return;
  }
  for (let k = 0; k < chunk.length; k++) {
    const e: unknown = list[k];
    if (Array.isArray(e) && e.length === 2 && isPacked(e[0], e[1], writers.length)) merge.add(chunk[k]!, e[0], e[1], writers);
    else singles.push(chunk[k]!);
  }
}

function isPacked(people: unknown, stamps: unknown, writers: number): people is string[] {
  if (!Array.isArray(people) || !Array.isArray(stamps) || stamps.length !== 3 * people.length) return false;
  for (const x of people) if (typeof x !== "string") return false;
  for (let i = 0; i < stamps.length; i++) {
    const x: unknown = stamps[i];
    if (typeof x !== "number" || (i % 3 === 2 && !(x >= 0 && x < writers))) return false;
  }
  return true;
}

function isRoomAnswer(a: unknown): a is RoomAnswer {
  const people = (a as Partial<RoomAnswer> | null)?.people;
  return Array.isArray(people) && people.every((p) => typeof p === "string");
}

function unknownRoom(room: string): RoomyError {
  return new RoomyError("unknown_room", `room ${JSON.stringify(room)} does not exist`);
}
