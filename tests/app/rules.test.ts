/** The rules of CONTRACT.md as pure functions over a map, and the indexes fed by changes. */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../core/errors.ts";
import { Hlc } from "../../core/hlc.ts";
import { LwwMap } from "../../core/lww-map.ts";
import { type Write, writesToDelta } from "../../core/map-view.ts";
import { LotIndex, planPark, planUnpark, validateGate, type VehicleRecord } from "../../core/parking.ts";
import { planAddRooms, planLeave, planWalkInto, RoomIndex } from "../../core/rooms.ts";

/** A replica with both indexes kept current, as a node keeps them. */
function world() {
  const map = new LwwMap();
  const hlc = new Hlc("w");
  const rooms = new RoomIndex();
  const lot = new LotIndex();
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
    expect(codeOf(() => planWalkInto(w.map, w.rooms, "attic", ["alan"]))).toBe("unknown_room");
  });

  test("a full room refuses the whole list and nobody moves", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 2));
    w.apply(planAddRooms(w.map, ["hall"]));
    w.apply(planWalkInto(w.map, w.rooms, "hall", ["alan", "bea", "cy"]));
    w.apply(planWalkInto(w.map, w.rooms, "den", ["alan"]));
    expect(codeOf(() => planWalkInto(w.map, w.rooms, "den", ["bea", "cy"]))).toBe("room_full");
    expect(w.rooms.occupants("den")).toEqual(["alan"]);
    expect(w.rooms.occupants("hall")).toEqual(["bea", "cy"]);
  });

  test("walking into the room you are in is a no-op and does not count twice", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 2));
    w.apply(planWalkInto(w.map, w.rooms, "den", ["alan", "bea"]));
    expect(planWalkInto(w.map, w.rooms, "den", ["alan", "bea"])).toEqual([]);
  });

  test("duplicates in the list are harmless", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["den"], 1));
    const writes = planWalkInto(w.map, w.rooms, "den", ["alan", "alan", "alan"]);
    expect(writes).toEqual([{ key: "person/alan", value: "den" }]);
  });

  test("moving rooms takes the person out of the old room's occupants", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["a", "b"]));
    w.apply(planWalkInto(w.map, w.rooms, "a", ["alan", "james", "lucy"]));
    w.apply(planWalkInto(w.map, w.rooms, "b", ["james", "lucy", "jess"]));
    expect(w.rooms.occupants("a")).toEqual(["alan"]);
    expect(w.rooms.occupants("b")).toEqual(["james", "jess", "lucy"]);
    expect(w.rooms.count("b")).toBe(3);
  });

  test("leaving empties the room; leaving when in no room changes nothing visible", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["a"]));
    w.apply(planWalkInto(w.map, w.rooms, "a", ["alan"]));
    w.apply(planLeave(["alan", "nobody"]));
    expect(w.rooms.occupants("a")).toEqual([]);
    expect(w.map.get("person/alan")).toBeUndefined();
    expect(w.map.size).toBe(1);
  });

  test("invalid names are invalid_name before anything else is checked", () => {
    const w = world();
    expect(codeOf(() => planAddRooms(w.map, [""]))).toBe("invalid_name");
    expect(codeOf(() => planAddRooms(w.map, ["x".repeat(256)]))).toBe("invalid_name");
    expect(codeOf(() => planWalkInto(w.map, w.rooms, "attic", ["a\nb"]))).toBe("invalid_name");
    expect(codeOf(() => planLeave([]))).toBe("invalid_name");
    expect(codeOf(() => planAddRooms(w.map, ["ok"], -1))).toBe("bad_request");
    expect(codeOf(() => planAddRooms(w.map, ["ok"], 1.5))).toBe("bad_request");
  });

  test("the index rebuilt from a replica equals the one kept from changes", () => {
    const w = world();
    w.apply(planAddRooms(w.map, ["z", "a", "m"]));
    w.apply(planWalkInto(w.map, w.rooms, "m", ["q", "b"]));
    w.apply(planWalkInto(w.map, w.rooms, "a", ["q"]));
    const rebuilt = RoomIndex.from(w.map);
    expect(rebuilt.rooms()).toEqual(["a", "m", "z"]);
    for (const r of ["a", "m", "z"]) expect(rebuilt.occupants(r)).toEqual(w.rooms.occupants(r));
  });
});

describe("parking rules", () => {
  test("a car already parked parks again as a no-op", () => {
    const w = world();
    w.apply(planPark(w.map, w.lot, 1, "ABC 123", car(1)));
    expect(planPark(w.map, w.lot, 1, "ABC 123", car(2))).toEqual([]);
  });

  test("the lot refuses a car beyond its spaces", () => {
    const w = world();
    w.apply(planPark(w.map, w.lot, 2, "A", car(1)));
    w.apply(planPark(w.map, w.lot, 2, "B", car(2)));
    expect(codeOf(() => planPark(w.map, w.lot, 2, "C", car(1)))).toBe("lot_full");
    expect(w.lot.occupied).toBe(2);
  });

  test("unparking a car that is not parked is not_parked; unparking frees its space", () => {
    const w = world();
    expect(codeOf(() => planUnpark(w.map, "GHOST"))).toBe("not_parked");
    w.apply(planPark(w.map, w.lot, 1, "A", car(3)));
    expect(w.lot.parkedVia(3)).toBe(1);
    w.apply(planUnpark(w.map, "A"));
    expect(w.lot.occupied).toBe(0);
    expect(w.lot.parkedVia(3)).toBe(0);
    expect(planPark(w.map, w.lot, 1, "B", car(1))).toHaveLength(1);
  });

  test("gates are 1..N; anything else is unknown_gate", () => {
    expect(validateGate(1, 4)).toBe(1);
    expect(validateGate("4", 4)).toBe(4);
    for (const g of [0, 5, -1, 1.5, "x", "", "1e0", null]) expect(codeOf(() => validateGate(g, 4))).toBe("unknown_gate");
  });

  test("lot info lists cars sorted by plate", () => {
    const w = world();
    for (const p of ["b", "A", "a"]) w.apply(planPark(w.map, w.lot, 10, p, car(1)));
    const info = w.lot.info(10);
    expect(Object.keys(info.vehicles)).toEqual(["A", "a", "b"]);
    expect([info.occupied, info.available]).toEqual([3, 7]);
  });
});
