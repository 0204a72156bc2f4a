/** The rules (CONTRACT.md, "The rules") as pure functions over a map, and the indexes fed by changes. */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../core/errors.ts";
import { Hlc } from "../../core/crdt/hlc.ts";
import { LwwMap } from "../../core/crdt/lww-map.ts";
import { type Write, writesToDelta } from "../../core/crdt/map-view.ts";
import { LotIndex, planPark, planUnpark, validateGate, type VehicleRecord } from "../../core/parking/parking.ts";
import { personKey, planAddRooms, planLeave, planWalkInto, readRoom, RoomIndex, roomKey, seatKey } from "../../core/rooms/rooms.ts";

/** A replica with both indexes kept current, as a node keeps them. */
function world(spaces = 10) {
  const map = new LwwMap();
  const hlc = new Hlc("w");
  const rooms = new RoomIndex(map);
  const lot = new LotIndex(spaces);
  let t = 1000;
  const apply = (writes: Write[]) => {
    const changes = map.merge(writesToDelta(writes, hlc.now(t++)));
    rooms.apply(changes);
    lot.apply(changes);
  };
  return { map, rooms, lot, apply };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof RoomyError) return err.code;
    throw err;
  }
  return "no error";
}

const car = (gate: number): VehicleRecord => ({ gate, at: "2024-01-01T00:00:00.000Z", node: "n" });

describe("rooms rules", () => {
  test("add-rooms creates only missing rooms and never changes an existing capacity", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 2));
    const writes = planAddRooms(w.map, ["den", "kitchen", "kitchen"], 9);
    expect(writes).toEqual([{ key: "room/kitchen", value: { capacity: 9 } }]);
    w.apply(writes);
    expect(w.map.get("room/den")).toEqual({ capacity: 2 });
    expect(w.rooms.rooms()).toEqual(["den", "kitchen"]);
  });

  test("rooms have no capacity unless one is given", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["hall"]));
    expect(w.map.get("room/hall")).toEqual({ capacity: null });
  });

  test("walking into an unknown room is unknown_room and writes nothing", () => {
    const w = world();
    expect(codeOf(() => planWalkInto(w.rooms, "attic", ["alan"]))).toBe("unknown_room");
  });

  test("a full room refuses the whole list and nobody moves", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 2));
    w.apply(planAddRooms(w.map, ["hall"]));
    w.apply(planWalkInto(w.rooms, "hall", ["alan", "bea", "cy"]));
    w.apply(planWalkInto(w.rooms, "den", ["alan"]));
    expect(codeOf(() => planWalkInto(w.rooms, "den", ["bea", "cy"]))).toBe("room_full");
    expect(w.rooms.occupants("den")).toEqual(["alan"]);
    expect(w.rooms.occupants("hall")).toEqual(["bea", "cy"]);
  });

  test("walking into the room you are in does not count twice: it rewrites the person's key and keeps their seat", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 2));
    w.apply(planWalkInto(w.rooms, "den", ["alan", "bea"]));
    const again = planWalkInto(w.rooms, "den", ["alan", "bea"]);
    expect(again).toEqual([
      { key: "person/alan", value: "den" },
      { key: "person/bea", value: "den" },
    ]);
    w.apply(again);
    expect(w.rooms.occupants("den")).toEqual(["alan", "bea"]);
    expect([w.rooms.seatOf("den", "alan"), w.rooms.seatOf("den", "bea")]).toEqual([1, 2]);
  });

  test("duplicates in the list are harmless", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 1));
    const writes = planWalkInto(w.rooms, "den", ["alan", "alan", "alan"]);
    expect(writes).toEqual([
      { key: "person/alan", value: "den" },
      { key: "seat/den/1", value: "alan" },
    ]);
  });

  test("a room with a capacity seats each newcomer in the same delta; a room without one has no seats", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 3));
    w.apply(planAddRooms(w.map, ["hall"]));
    expect(planWalkInto(w.rooms, "den", ["bea", "alan"])).toEqual([
      { key: "person/alan", value: "den" },
      { key: "person/bea", value: "den" },
      { key: "seat/den/1", value: "alan" },
      { key: "seat/den/2", value: "bea" },
    ]);
    expect(planWalkInto(w.rooms, "hall", ["alan"])).toEqual([{ key: "person/alan", value: "hall" }]);
  });

  test("seats freed by leaves and moves are reused: a room never has more seat keys than its capacity", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 2));
    w.apply(planAddRooms(w.map, ["hall"]));
    for (let i = 0; i < 20; i++) {
      w.apply(planWalkInto(w.rooms, "den", [`p${i}`]));
      if (i % 2 === 0) w.apply(planLeave([`p${i}`]));
      else w.apply(planWalkInto(w.rooms, "hall", [`p${i}`]));
    }
    w.apply(planWalkInto(w.rooms, "den", ["x", "y"]));
    expect(codeOf(() => planWalkInto(w.rooms, "den", ["z"]))).toBe("room_full");
    expect([...w.map.withPrefix("seat/")].map(([k]) => k).sort()).toEqual(["seat/den/1", "seat/den/2"]);
    expect(w.rooms.occupants("den")).toEqual(["x", "y"]);
  });

  test("a person coming back takes the seat still naming them if it is free", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 3));
    w.apply(planWalkInto(w.rooms, "den", ["a", "b", "c"]));
    w.apply(planLeave(["a", "b"]));
    expect(planWalkInto(w.rooms, "den", ["b"])).toContainEqual({ key: "seat/den/2", value: "b" });
  });

  test("where-is and who-is-in agree: a person whose seat another took is in no room", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 1));
    w.apply(planWalkInto(w.rooms, "den", ["al"]));
    w.apply([{ key: "seat/den/1", value: "bo" }]); // as if bo's admission arrived before al's leave
    expect(w.map.get("person/al")).toBe("den");
    expect(w.rooms.roomOf("al")).toBeNull();
    expect(w.rooms.occupants("den")).toEqual([]);
    expect(w.rooms.count("den")).toBe(0);
  });

  test("moving rooms takes the person out of the old room's occupants", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["a", "b"]));
    w.apply(planWalkInto(w.rooms, "a", ["alan", "james", "lucy"]));
    w.apply(planWalkInto(w.rooms, "b", ["james", "lucy", "jess"]));
    expect(w.rooms.occupants("a")).toEqual(["alan"]);
    expect(w.rooms.occupants("b")).toEqual(["james", "jess", "lucy"]);
    expect(w.rooms.count("b")).toBe(3);
  });

  test("leaving empties the room; leaving when in no room changes nothing visible", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["a"]));
    w.apply(planWalkInto(w.rooms, "a", ["alan"]));
    w.apply(planLeave(["alan", "nobody"]));
    expect(w.rooms.occupants("a")).toEqual([]);
    expect(w.map.get("person/alan")).toBeUndefined();
    expect(w.map.size).toBe(1);
  });

  test("invalid names are invalid_name before anything else is checked", () => {
    const w = world();
    expect(codeOf(() => planAddRooms(w.map, [""]))).toBe("invalid_name");
    expect(codeOf(() => planAddRooms(w.map, ["x".repeat(256)]))).toBe("invalid_name");
    expect(codeOf(() => planWalkInto(w.rooms, "attic", ["a\nb"]))).toBe("invalid_name");
    expect(codeOf(() => planLeave([]))).toBe("invalid_name");
    expect(codeOf(() => planAddRooms(w.map, ["ok"], -1))).toBe("bad_request");
    expect(codeOf(() => planAddRooms(w.map, ["ok"], 1.5))).toBe("bad_request");
  });

  test("the index rebuilt from a replica equals the one kept from changes", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["z", "a", "m"]));
    w.apply(planAddRooms(w.map, ["c/1"], 2)); // a room name with a slash: seat keys still parse
    w.apply(planWalkInto(w.rooms, "m", ["q", "b"]));
    w.apply(planWalkInto(w.rooms, "a", ["q"]));
    w.apply(planWalkInto(w.rooms, "c/1", ["d", "e"]));
    w.apply(planLeave(["d"]));
    w.apply(planWalkInto(w.rooms, "c/1", ["f"]));
    const rebuilt = RoomIndex.from(w.map);
    expect(rebuilt.rooms()).toEqual(["a", "c/1", "m", "z"]);
    for (const r of ["a", "c/1", "m", "z"]) expect(rebuilt.occupants(r)).toEqual(w.rooms.occupants(r));
    expect(rebuilt.occupants("c/1")).toEqual(["e", "f"]);
    expect(rebuilt.seatOf("c/1", "f")).toBe(1);
  });

  test("the index's room record is the replica's (readRoom) through creation, a capacity and deletion", () => {
    const w = world();
    const same = (r: string) => expect(w.rooms.room(r)).toEqual(readRoom(w.map, r));
    same("den");
    expect(w.rooms.room("den")).toBeNull();
    w.apply(planAddRooms(w.map, ["den"]));
    same("den");
    expect(w.rooms.room("den")).toEqual({ capacity: null });
    w.apply([{ key: roomKey("den"), value: { capacity: 2 } }]);
    same("den");
    expect(w.rooms.room("den")).toEqual({ capacity: 2 });
    w.apply([{ key: roomKey("den") }]);
    same("den");
    expect(codeOf(() => planWalkInto(w.rooms, "den", ["al"]))).toBe("unknown_room");
  });

  test("people whose keys name a room before it exists are counted when it arrives, as its capacity allows", () => {
    const w = world();
    // Keys from a replica that saw the room: they reach this one first.
    w.apply([{ key: personKey("al"), value: "den" }, { key: personKey("bo"), value: "den" }, { key: personKey("cy"), value: "hall" }]);
    expect(w.rooms.occupants("den")).toEqual([]);
    expect(w.rooms.roomOf("al")).toBeNull();
    w.apply([{ key: roomKey("den"), value: { capacity: null } }]);
    expect(w.rooms.occupants("den")).toEqual(["al", "bo"]);
    expect(w.rooms.roomOf("cy")).toBeNull();
    // A capacity counts only the seated; the seat of one arrives later.
    w.apply([{ key: roomKey("den"), value: { capacity: 1 } }]);
    expect(w.rooms.occupants("den")).toEqual([]);
    w.apply([{ key: seatKey("den", 1), value: "bo" }]);
    expect(w.rooms.occupants("den")).toEqual(["bo"]);
    expect(w.rooms.count("den")).toBe(1);
    // The room goes: nobody is in it, the keys stay.
    w.apply([{ key: roomKey("den") }]);
    expect(w.rooms.occupants("den")).toEqual([]);
    expect(w.rooms.roomOf("bo")).toBeNull();
    expect(RoomIndex.from(w.map).occupants("den")).toEqual([]);
  });
});

describe("parking rules", () => {
  test("a car already parked parks again as a no-op", () => {
    const w = world(1);
    w.apply(planPark(w.lot, "ABC 123", car(1)));
    expect(planPark(w.lot, "ABC 123", car(2))).toEqual([]);
  });

  test("a car takes a slot written in the same delta as its record", () => {
    const w = world(3);
    expect(planPark(w.lot, "A", car(2))).toEqual([
      { key: "vehicle/A", value: { ...car(2), slot: 1 } },
      { key: "slot/1", value: "A" },
    ]);
  });

  test("the lot refuses a car beyond its spaces", () => {
    const w = world(2);
    w.apply(planPark(w.lot, "A", car(1)));
    w.apply(planPark(w.lot, "B", car(2)));
    expect(codeOf(() => planPark(w.lot, "C", car(1)))).toBe("lot_full");
    expect(w.lot.occupied).toBe(2);
  });

  test("unparking a car that is not parked is not_parked; unparking frees its space", () => {
    const w = world(1);
    expect(codeOf(() => planUnpark(w.lot, "GHOST"))).toBe("not_parked");
    w.apply(planPark(w.lot, "A", car(3)));
    expect(w.lot.parkedVia(3)).toBe(1);
    w.apply(planUnpark(w.lot, "A"));
    expect(w.lot.occupied).toBe(0);
    expect(w.lot.parkedVia(3)).toBe(0);
    expect(planPark(w.lot, "B", car(1))).toContainEqual({ key: "slot/1", value: "B" });
  });

  test("freed slots are reused: the lot never has more slot keys than spaces", () => {
    const w = world(3);
    for (let i = 0; i < 30; i++) {
      w.apply(planPark(w.lot, `C${i}`, car(1)));
      if (i >= 2) w.apply(planUnpark(w.lot, `C${i - 2}`));
    }
    expect([...w.map.withPrefix("slot/")].map(([k]) => k).sort()).toEqual(["slot/1", "slot/2", "slot/3"]);
    expect(w.lot.sortedPlates()).toEqual(["C28", "C29"]);
    expect(LotIndex.from(w.map, 3).info()).toEqual(w.lot.info());
  });

  test("a car whose slot names another plate is not parked; a record without a slot is not parked", () => {
    const w = world(2);
    w.apply(planPark(w.lot, "A", car(1)));
    w.apply([{ key: "slot/1", value: "B" }]);
    w.apply([{ key: "vehicle/OLD", value: car(1) }]);
    expect([w.lot.occupied, w.lot.isParked("A"), w.lot.isParked("OLD")]).toEqual([0, false, false]);
    expect(codeOf(() => planUnpark(w.lot, "A"))).toBe("not_parked");
  });

  test("slots above this node's spaces do not count", () => {
    const big = world(3);
    for (const p of ["A", "B", "C"]) big.apply(planPark(big.lot, p, car(1)));
    const small = LotIndex.from(big.map, 2);
    expect([small.occupied, small.info().available]).toEqual([2, 0]);
    expect(small.sortedPlates()).toEqual(["A", "B"]);
  });

  test("gates are 1..N; anything else is unknown_gate", () => {
    expect(validateGate(1, 4)).toBe(1);
    expect(validateGate("4", 4)).toBe(4);
    for (const g of [0, 5, -1, 1.5, "x", "", "1e0", null]) expect(codeOf(() => validateGate(g, 4))).toBe("unknown_gate");
  });

  test("lot info lists cars sorted by plate", () => {
    const w = world();
    for (const p of ["b", "A", "a"]) w.apply(planPark(w.lot, p, car(1)));
    const info = w.lot.info();
    expect(Object.keys(info.vehicles)).toEqual(["A", "a", "b"]);
    expect(info.vehicles["A"]).toEqual(car(1)); // the contract's shape: no slot
    expect([info.spaces, info.occupied, info.available]).toEqual([10, 3, 7]);
  });
});
