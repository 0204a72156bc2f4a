/**
 * Rooms, as in the Roomy seed: one registered process per room
 * (`room:<name>`), the single writer of admissions to its room (and of its
 * seats), so its capacity check against the replica cannot be raced. Rooms
 * join no registry group: the room index is the list, and a group key per
 * room cost 100k keys and, on every node that joined, 100k writes (the
 * seed's Swarm group is what `dump` used to multi-call). `dump` asks every room's owner (in
 * one batch per owner node, room-dump.ts) and joins the answers by each
 * person's key timestamp, so replicas at different points never show a
 * person in two rooms.
 */
import { HandlerRefusal, RoomyError } from "../../core/errors.ts";
import { validateName, validateNames } from "../../core/names.ts";
import {
  personKey,
  planAddRooms,
  planLeave,
  planWalkInto,
  type DumpLists,
  type DumpText,
  type RoomAnswer,
  RoomIndex,
  uniqueSorted,
  validateCapacity,
} from "../../core/rooms/rooms.ts";
import type { ProcessHandlers } from "../registry/types.ts";
import { allRooms, answerHashes, answerMany, type DumpDeps, dumpRecord, type DumpsRunning, gatherDump, notePersonChanges, stampsIn } from "./room-dump.ts";
import { whenHeld } from "../replication/held.ts";
import type { AppContext } from "./context.ts";
import { hashAnswersToWire, manyAnswersToWire, roomMsgFromWire, roomMsgToWire } from "./room-messages.ts";
import { roomSnapshotOrder } from "./room-snapshot-order.ts";
import { setSnapshotOrder } from "../replication/snapshot-order.ts";
import { LeaseWait } from "./lease-wait.ts";
import { CallWindow, firstFailure, throughWindow } from "./call-window.ts";

// One answer for every walk: frozen, since every caller gets the same object.
const OK_ANSWER = Object.freeze({ ok: true });
const walked = () => OK_ANSWER;

export const ROOM_PROCESS_PREFIX = "room:";
/** A walk-into checked again behind the barrier is not made this close to its call's deadline (the caller's answer may be on its way). */
const LATE_MARGIN_MS = 50;
/** How long a walk-into that waited (for a peer's clock, or seats) waits more for the lease to come back: the registry's lease (1.5 s). */
const WALK_LEASE_WAIT_MS = 1_500;
/** How long a read waits for the lease to come back before it answers `unavailable` (a new epoch's returns within a round trip). */
const READ_LEASE_WAIT_MS = 250;
/** Rooms an add-rooms call starts per turn of the event loop. */
const ADD_SLICE = 200;
/** Room creations in flight on this node at once, over every add-rooms request (call-window.ts). */
const ADD_WINDOW = 512;

export function roomProcess(room: string): string {
  return ROOM_PROCESS_PREFIX + room;
}

/** A room's process: the registry calls handle() on it, as a method. */
interface RoomProc extends ProcessHandlers {
  readonly name: string;
  readonly room: string;
}

/** Client-facing operations on rooms. */
export interface RoomsApi {
  /** Creates the rooms that do not exist; existing ones are left as they are. */
  addRooms(rooms: string[], capacity?: number | null): Promise<void>;
  /** Every room, sorted. */
  rooms(): Promise<string[]>;
  /** Each person leaves their room (if any) and enters `room`; all or nothing. */
  /** `left`: aborts when the caller's own client left (CallOptions.left). */
  walkInto(room: string, people: string[], left?: AbortSignal): Promise<void>;
  /** Each person leaves whatever room they are in. */
  leave(people: string[]): Promise<void>;
  /** The people in `room`, sorted. */
  whoIsIn(room: string): Promise<string[]>;
  /** The person's room, or null. */
  whereIs(person: string): Promise<string | null>;
  /** Every room (or the named ones) with its people, keys and lists sorted. */
  dump(rooms?: string[]): Promise<Record<string, string[]>>;
  /** dump(), to be written out as JSON. */
  dumpText(rooms?: string[]): Promise<DumpText>;
}

export interface RoomsApp extends RoomsApi {
  /** The index of rooms and occupants (current with the replica). */
  readonly index: RoomIndex;
  stop(): void;
}

export function startRooms(ctx: AppContext): RoomsApp {
  const { map, registry } = ctx;
  const index = RoomIndex.from(map);

  // Dumps under way watch person keys change (room-dump.ts).
  const dumpsRunning: DumpsRunning = new Set();
  const unsubscribe = ctx.replicator.onChange((changes) => {
    if (dumpsRunning.size > 0) notePersonChanges(dumpsRunning, changes);
    index.apply(changes);
  });
  // A node joining empty gets the map room by room (its index takes ~1/10 the time).
  setSnapshotOrder(map, roomSnapshotOrder(index));

  const addWindow = new CallWindow(ADD_WINDOW);

  /** `read`, once this replica holds every write acknowledged before now (registry readBarrier). */
  const afterBarrier = <T>(read: () => T): Promise<T> => registry.readBarrier().then(read);
  /** Resolves once this node holds its lease again, or at `until` (this clock), whichever is first. */
  const leaseWait = new LeaseWait(ctx.clock, () => registry.authoritative());
  const afterLease = (until: number): Promise<void> => leaseWait.until(until);

  // A person's key is written by more than one node (a walk-into by the
  // room's owner, a leave by the node it reaches), ordered by their clocks'
  // stamps: the write barrier first makes this node's clock later than any
  // such write acknowledged before (clock-barrier.ts), or a walk-into right
  // after an acknowledged leave could lose to it (hostile-lost-update).
  //
  // This owner writes every admission to its rooms, so its replica never
  // undercounts them; but the seats are freed by writes of other nodes,
  // acknowledged once a majority holds them, maybe not yet this node. So a
  // refusal for want of seats is checked again behind the read barrier
  // before it is given (tests/cluster/hostile-stale-full).
  //
  // Either way an admission made after waiting is made only while the
  // call's caller still waits and this node still serves the room (the
  // registry checked both before the handler ran): an effect after the
  // caller was answered `unavailable`, or by a node that no longer owns the
  // room, would be a wrong answer (SOAK chaos seed 2: a late admission
  // replaced a later acknowledged walk).
  const walkInto = (name: string, room: string, people: readonly string[]): unknown => {
    const deadline = registry.callDeadline();
    let leaseUntil: number | null = null;
    const admit = (recheck: boolean, waited: boolean): unknown => {
      if (waited && deadline !== null) {
        const now = ctx.clock.now();
        const late = now >= deadline - LATE_MARGIN_MS;
        const serving = registry.isServing(name);
        if (!late && !serving && !registry.authoritative() && registry.ownerOf(name) === ctx.node) {
          // The lease lapsed while this call waited: at a new epoch it comes
          // back within a round trip (healthy nodes refused a walk-into or two
          // at every change of the configuration). Waited out, as the registry
          // waits for it before a call runs: at most a lease, within the call's
          // deadline. A room that moved is refused at once (the registry sends
          // the call on to its new owner: it wrote nothing).
          leaseUntil ??= Math.min(deadline - LATE_MARGIN_MS, now + WALK_LEASE_WAIT_MS);
          if (now < leaseUntil) return afterLease(leaseUntil).then(() => admit(recheck, true));
        }
        if (late || !serving) {
          throw new HandlerRefusal("unavailable", `room ${JSON.stringify(room)}: its owner could not admit in time; retry`);
        }
      }
      let plan: ReturnType<typeof planWalkInto>;
      try {
        plan = planWalkInto(index, room, people);
      } catch (err) {
        if (!recheck || !(err instanceof RoomyError) || err.code !== "room_full") throw err;
        return afterBarrier(() => admit(false, true));
      }
      return whenHeld(ctx.write(plan), walked);
    };
    // A call forwarded by another holder brought that holder's clock, read
    // after the call began and observed on arrival: the barrier is done
    // (three holders), and the admission is made in this turn.
    if (registry.callVouched()) return admit(true, false);
    return registry.writeBarrier().then(() => admit(true, true));
  };

  // One handler for every room process, reading its room off `this`: a
  // closure per process (a function and its scope) cost ~150 bytes each,
  // ~5 MB a node at 100k rooms.
  // Not async: when the write is held at once (whenHeld) the answer is
  // ready in the same turn, and the registry settles the call without
  // waiting on a promise.
  function handle(this: RoomProc, wire: unknown): unknown {
    const { name, room } = this;
    const msg = roomMsgFromWire(wire);
    switch (msg.kind) {
      case "create": {
        const writes = planAddRooms(map, [room], msg.capacity);
        return whenHeld(ctx.write(writes), () => ({ created: writes.length > 0 }));
      }
      case "walk":
        return walkInto(name, room, msg.people);
      // Reads behind the read barrier: a leave is written by the node it
      // reaches, and a walk into another room by that room's owner; this
      // replica may not have merged such an acknowledged write yet.
      case "who":
        return afterBarrier(() => {
          if (index.room(room) === null) throw unknownRoom(room);
          const people = index.occupants(room);
          // who-is-in needs only the names; a dump's merge needs each person's stamp.
          if (!msg.withStamps) return { room, people } satisfies RoomAnswer;
          const since = people.map((p) => map.entry(personKey(p))!.ts);
          return { room, people, since } satisfies RoomAnswer;
        });
      case "whoMany":
        return afterBarrier(() => manyAnswersToWire(answerMany(dumpDeps, msg.rooms)));
      case "whoHash":
        return afterBarrier(() => hashAnswersToWire(answerHashes(dumpDeps, msg.rooms, msg.digest, msg.seed), msg.bytes));
      case "stamps":
        return afterBarrier(() => stampsIn(dumpDeps, room, msg.people));
    }
  }

  registry.define(ROOM_PROCESS_PREFIX, (name): RoomProc => ({ name, room: name.slice(ROOM_PROCESS_PREFIX.length), handle }), (name, wire) => {
    // Only the owner, caught up for its epoch, tells that a room does not
    // exist: every acknowledged creation ran here or was caught up. No
    // process is started for a name that is no room (but for its creation).
    const room = name.slice(ROOM_PROCESS_PREFIX.length);
    if (index.room(room) !== null) return null;
    try {
      if (roomMsgFromWire(wire).kind === "create") return null;
    } catch {
      // a malformed message: the handler refuses it as usual
      return null;
    }
    return unknownRoom(room);
  });

  // The process name of each known room, made once: the registry's maps then
  // hash the same flat string every call instead of a new one.
  const procNames = new Map<string, string>();
  const procOf = (room: string): string => {
    let p = procNames.get(room);
    if (p !== undefined) return p;
    p = roomProcess(room);
    // Names of no room (yet) are not kept: garbage must not grow the table.
    if (index.has(room)) procNames.set(room, p);
    return p;
  };

  // A room this replica lacks is refused only by its owner, serving it
  // under its epoch (caught up from a majority, and every creation runs on
  // the owner): this node may simply not have merged an acknowledged
  // creation yet (it needs only a majority). So the call goes to the owner
  // (this node, if it is), whose start refusal (above) answers unknown_room
  // without starting a process. A node the majority does not vouch for says
  // nothing: one cut off with other restarted peers may have caught up from
  // an empty replica (chaos seed 1), and its "unknown" would be a wrong answer.
  const known = (room: string): string => {
    if (index.has(room)) return room;
    if (!registry.authoritative()) {
      throw new RoomyError("unavailable", `this node cannot reach a majority of the cluster to tell whether room ${JSON.stringify(room)} exists; retry`);
    }
    return room;
  };

  const dumpDeps: DumpDeps = { registry, index, map, procOf, running: dumpsRunning, nextTurn: ctx.nextTurn };

  // Reads served from this replica (where-is, the room list, which rooms a
  // dump asks) come only from a node that caught up for its epoch and holds
  // the lease: a restarted node still catching up, or one cut off from the
  // majority, answers `unavailable` rather than a partial or stale answer.
  // And behind a read barrier (registry readBarrier): a write acknowledged
  // by a majority before the read may not have reached this replica yet.
  const fresh = async (): Promise<void> => {
    if (!registry.authoritative()) await afterLease(ctx.clock.now() + READ_LEASE_WAIT_MS);
    if (!registry.authoritative()) {
      // Which of the two, /readyz says (an operator read "not caught up" on a node whose peers were down).
      throw new RoomyError("unavailable", "this node serves no reads now: it has not caught up for the current epoch, or it does not hear a majority of the holders (they are down, it is cut off, or it woke from a pause): its /readyz says which; retry");
    }
    await registry.readBarrier();
  };

  // From this replica behind the read barrier, as who-is-in: every room
  // it knows (room-dump.ts); a named room it lacks is asked of its owner,
  // and one that does not answer fails the whole dump (`unavailable`),
  // never a 200 with rooms missing.
  async function dumpText(rooms?: string[]): Promise<DumpLists> {
    const every = rooms === undefined || rooms.length === 0;
    const named = every ? [] : uniqueSorted(validateNames("room", rooms)); // names checked before the barrier
    await fresh();
    return gatherDump(dumpDeps, every ? await allRooms(dumpDeps) : named);
  }

  return {
    index,
    async addRooms(rooms: string[], capacity?: number | null): Promise<void> {
      const names = uniqueSorted(validateNames("room", rooms));
      const cap = validateCapacity(capacity);
      // A slice per turn, at most ADD_WINDOW in flight on this node whatever the requests, none more once one failed (call-window.ts).
      const started = await throughWindow(names.length, (i) => registry.call(procOf(names[i]!), roomMsgToWire({ kind: "create", capacity: cap })), addWindow, ctx.nextTurn, ADD_SLICE);
      // Every call settled, so `no_effect` is said only when none of them ran (CONTRACT).
      const failure = firstFailure(started);
      if (failure !== undefined) throw failure;
    },
    rooms: async () => {
      await fresh();
      return index.rooms();
    },
    walkInto(room: string, people: string[], left?: AbortSignal): Promise<void> {
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
      return registry.call(procOf(r), roomMsgToWire({ kind: "walk", people }), { left }) as Promise<unknown> as Promise<void>;
    },
    async leave(people: string[]): Promise<void> {
      const writes = planLeave(people); // names checked before the barrier
      // Refused at the barrier, nothing was written: no effect (CONTRACT: "no committed configuration yet", ...).
      await registry.writeBarrier().catch((err: unknown) => {
        throw err instanceof RoomyError && !err.noEffect ? new RoomyError(err.code, err.message, true) : err;
      });
      await ctx.write(writes);
    },
    // From this replica behind the read barrier, as where-is: the same
    // promise as asking the room's owner (which reads its replica behind the
    // same barrier), without the hop to it.
    async whoIsIn(room: string): Promise<string[]> {
      const r = validateName("room", room);
      await fresh();
      if (index.room(r) === null) throw unknownRoom(r);
      return index.occupants(r);
    },
    whereIs: async (person: string) => {
      const p = validateName("person", person);
      await fresh();
      return index.roomOf(p);
    },
    async dump(rooms?: string[]): Promise<Record<string, string[]>> {
      return dumpRecord(dumpDeps, await dumpText(rooms));
    },
    dumpText,
    stop() {
      unsubscribe();
      setSnapshotOrder(map, null);
    },
  };
}

function unknownRoom(room: string): RoomyError {
  return new RoomyError("unknown_room", `room ${JSON.stringify(room)} does not exist`);
}
