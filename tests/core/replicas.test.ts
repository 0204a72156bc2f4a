/**
 * The app rules across replicas: deltas from different writers reach a
 * replica in any order (retransmit, anti-entropy), each merged whole. Every
 * replica's reads must keep the promises at every step, not only once all
 * deltas have arrived: nobody over a room's capacity, no more cars than
 * spaces, and no acknowledged walk-into undone by an older leave.
 */
import { describe, expect, test } from "bun:test";
import { Hlc } from "../../core/crdt/hlc.ts";
import { type Delta, LwwMap } from "../../core/crdt/lww-map.ts";
import { type Write, writesToDelta } from "../../core/crdt/map-view.ts";
import { LotIndex, planPark, planUnpark, type VehicleRecord } from "../../core/parking/parking.ts";
import { planAddRooms, planLeave, planWalkInto, RoomIndex } from "../../core/rooms/rooms.ts";
import { mergeOccupancies } from "../support/occupancies.ts";

/** One node's replica with its indexes; `write` stamps with its own HLC at wall time `t`. */
function replica(name: string, spaces = 4) {
  const map = new LwwMap();
  const hlc = new Hlc(name);
  const rooms = new RoomIndex(map);
  const lot = new LotIndex(spaces);
  const merge = (d: Delta): void => {
    const changes = map.merge(d);
    rooms.apply(changes);
    lot.apply(changes);
  };
  const write = (writes: Write[], t: number): Delta => {
    const d = writesToDelta(writes, hlc.now(t));
    merge(d);
    return d;
  };
  return { name, map, rooms, lot, merge, write };
}

const car = (gate: number): VehicleRecord => ({ gate, at: "2024-01-01T00:00:00.000Z", node: "lot" });

describe("rooms across replicas", () => {
  test("a walk-into by an owner that has not seen a leave still wins over that older leave", () => {
    for (const capacity of [null, 2]) {
      const owner = replica("owner");
      const other = replica("other");
      const setup = [owner.write(planAddRooms(owner.map, ["hall"], capacity), 1), owner.write(planWalkInto(owner.rooms, "hall", ["al"]), 2)];
      for (const d of setup) other.merge(d);
      const leave = other.write(planLeave(["al"]), 10); // acknowledged elsewhere; the owner has not seen it
      const walk = owner.write(planWalkInto(owner.rooms, "hall", ["al"]), 20); // answered ok after it
      owner.merge(leave);
      other.merge(walk);
      for (const r of [owner, other]) {
        expect({ capacity, node: r.name, where: r.rooms.roomOf("al") }).toEqual({ capacity, node: r.name, where: "hall" });
        expect(r.rooms.occupants("hall")).toEqual(["al"]);
      }
    }
  });

  test("a replica that merges an admission before the leave it relied on never shows the room over capacity", () => {
    const owner = replica("owner");
    const leaver = replica("leaver");
    const third = replica("third");
    const all = [owner, leaver, third];
    const send = (d: Delta, to: typeof all): void => to.forEach((r) => r.merge(d));
    send(owner.write(planAddRooms(owner.map, ["den"], 2), 1), [leaver, third]);
    send(owner.write(planWalkInto(owner.rooms, "den", ["al", "bo"]), 2), [leaver, third]);
    const leave = leaver.write(planLeave(["al"]), 3);
    owner.merge(leave); // the owner admits against the leave ...
    const admit = owner.write(planWalkInto(owner.rooms, "den", ["cy"]), 4);
    third.merge(admit); // ... which the third replica has not seen yet
    expect(third.rooms.occupants("den")).toEqual(["bo", "cy"]);
    expect(third.rooms.roomOf("al")).toBeNull();
    third.merge(leave);
    leaver.merge(admit);
    for (const r of all) expect(r.rooms.occupants("den")).toEqual(["bo", "cy"]);
  });

  test("a move merged before the admission it freed space for keeps the old room within capacity", () => {
    const owner = replica("den-owner");
    const hallOwner = replica("hall-owner");
    const third = replica("third");
    for (const d of [owner.write(planAddRooms(owner.map, ["den"], 1), 1), owner.write(planAddRooms(owner.map, ["hall"]), 2), owner.write(planWalkInto(owner.rooms, "den", ["al"]), 3)]) {
      hallOwner.merge(d);
      third.merge(d);
    }
    const move = hallOwner.write(planWalkInto(hallOwner.rooms, "hall", ["al"]), 4);
    owner.merge(move);
    const admit = owner.write(planWalkInto(owner.rooms, "den", ["bo"]), 5);
    third.merge(admit);
    expect(third.rooms.occupants("den")).toEqual(["bo"]);
    third.merge(move);
    expect([third.rooms.roomOf("al"), third.rooms.roomOf("bo")]).toEqual(["hall", "den"]);
  });

  test("a dump joins the rooms' answers by key timestamp: a person shows only where their newer key puts them", () => {
    const t = (w: number) => ({ w, c: 0, n: "x" });
    expect(
      mergeOccupancies([
        { room: "hall", people: ["al", "bo"], since: [t(5), t(1)] },
        { room: "den", people: ["al"], since: [t(9)] },
        { room: "attic", people: [] },
      ]),
    ).toEqual({ attic: [], den: ["al"], hall: ["bo"] });
    // Answers without timestamps (an older node) still never list a person twice.
    const old = mergeOccupancies([
      { room: "b", people: ["al"] },
      { room: "a", people: ["al"] },
    ]);
    expect(old).toEqual({ a: ["al"], b: [] });
  });
});

describe("the lot across replicas", () => {
  test("a park merged before the unpark that freed its slot never shows more cars than spaces", () => {
    const lot = replica("lot", 2);
    const other = replica("other", 2);
    for (const p of ["A", "B"]) other.merge(lot.write(planPark(lot.lot, p, car(1)), 1));
    lot.write(planUnpark(lot.lot, "A"), 2); // lost on the way to `other` for now
    const unpark = writesToDelta([{ key: "vehicle/A" }], lot.map.entry("vehicle/A")!.ts);
    const park = lot.write(planPark(lot.lot, "C", car(2)), 3);
    other.merge(park);
    expect(other.lot.occupied).toBe(2);
    expect(other.lot.sortedPlates()).toEqual(["B", "C"]);
    other.merge(unpark);
    expect(other.lot.info()).toEqual(lot.lot.info());
  });
});

/** A small seeded generator (tests must replay). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("random interleavings", () => {
  test("every replica, after every merge, holds every capacity, and its index equals one rebuilt from the replica", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const nodes = [replica("n1", 3), replica("n2", 3), replica("n3", 3)];
      const [owner] = nodes as [ReturnType<typeof replica>];
      const caps: Record<string, number | null> = { hall: null, den: 2, attic: 1 };
      const inbox = new Map(nodes.map((n) => [n.name, [] as Delta[]]));
      const broadcast = (from: string, d: Delta): void => {
        for (const n of nodes) if (n.name !== from) inbox.get(n.name)!.push(d);
      };
      for (const [r, c] of Object.entries(caps)) {
        const d = owner.write(planAddRooms(owner.map, [r], c), 1);
        for (const n of nodes.slice(1)) n.merge(d);
      }
      for (let step = 0; step < 300; step++) {
        const t = 10 + step;
        const x = rnd();
        const person = pick(["a", "b", "c", "d", "e"]);
        try {
          if (x < 0.4) broadcast(owner.name, owner.write(planWalkInto(owner.rooms, pick(Object.keys(caps)), [person]), t));
          else if (x < 0.6) {
            const n = pick(nodes); // leaves are written anywhere
            broadcast(n.name, n.write(planLeave([person]), t));
          } else if (x < 0.8) broadcast(owner.name, owner.write(planPark(owner.lot, person.toUpperCase(), car(1)), t));
          else broadcast(owner.name, owner.write(planUnpark(owner.lot, person.toUpperCase()), t));
        } catch {
          // room_full, lot_full, not_parked: nothing written
        }
        // Deliver a random pending delta to a random node: any order.
        for (let k = 0; k < 2; k++) {
          const n = pick(nodes);
          const box = inbox.get(n.name)!;
          if (box.length > 0) n.merge(box.splice(Math.floor(rnd() * box.length), 1)[0]!);
        }
        for (const n of nodes) {
          const where = `seed ${seed} step ${step} ${n.name}`;
          for (const [r, c] of Object.entries(caps)) {
            if (c !== null && n.rooms.count(r) > c) throw new Error(`${where}: ${r} holds ${n.rooms.occupants(r).join(",")}`);
          }
          if (n.lot.occupied > 3) throw new Error(`${where}: ${n.lot.sortedPlates().join(",")} in 3 spaces`);
          const rebuilt = RoomIndex.from(n.map);
          for (const r of Object.keys(caps)) expect({ where, r, people: n.rooms.occupants(r) }).toEqual({ where, r, people: rebuilt.occupants(r) });
          expect({ where, lot: n.lot.info() }).toEqual({ where, lot: LotIndex.from(n.map, 3).info() });
        }
      }
      for (const n of nodes) for (const d of inbox.get(n.name)!.splice(0)) n.merge(d);
      for (const n of nodes) {
        const rebuilt = RoomIndex.from(n.map);
        for (const r of Object.keys(caps)) expect(n.rooms.occupants(r)).toEqual(rebuilt.occupants(r));
        expect(n.lot.info()).toEqual(LotIndex.from(n.map, 3).info());
        expect(n.rooms.occupants("den")).toEqual(owner.rooms.occupants("den"));
        expect(n.lot.info()).toEqual(owner.lot.info());
      }
    }
  });
});
