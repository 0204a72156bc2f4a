import { describe, expect, test } from "bun:test";
import type { Change } from "../../../core/crdt/lww-map.ts";
import { RoomIndex } from "../../../core/rooms/room-index.ts";
import { PersonRooms, SortedNames } from "../../../core/rooms/room-tables.ts";

const put = (key: string, value: unknown, old?: unknown): Change => ({ key, old, value });

describe("the room index", () => {
  test("a room created after its people's keys arrived counts them at once", () => {
    const idx = new RoomIndex();
    idx.apply([put("person/ann", "den"), put("person/bob", "den"), put("person/cy", "hall")]);
    expect(idx.occupants("den")).toEqual([]);
    expect(idx.roomOf("ann")).toBeNull();
    expect(idx.keyRoom("ann")).toBe("den");
    idx.apply([put("room/den", { capacity: null })]);
    expect(idx.occupants("den")).toEqual(["ann", "bob"]);
    expect(idx.count("den")).toBe(2);
    expect(idx.roomOf("bob")).toBe("den");
    expect(idx.sameOccupants("den", ["ann", "bob"])).toBe(true);
    expect(idx.sameOccupants("den", ["ann"])).toBe(false);
  });

  test("with a capacity learnt late, only the seated count; without one, seats count for nothing", () => {
    const idx = new RoomIndex();
    idx.apply([put("person/ann", "den"), put("person/bob", "den"), put("seat/den/1", "bob"), put("room/den", { capacity: null })]);
    expect(idx.occupants("den")).toEqual(["ann", "bob"]);
    idx.apply([put("room/den", { capacity: 1 }, { capacity: null })]);
    expect(idx.occupants("den")).toEqual(["bob"]);
    expect(idx.seatOf("den", "bob")).toBe(1);
    expect(idx.roomOf("ann")).toBeNull();
    expect(idx.freeSeats("den", ["ann"])).toBeNull();
    // Bob moves out: his seat frees, and his key no longer names the room.
    idx.apply([put("person/bob", "hall", "den")]);
    expect(idx.occupants("den")).toEqual([]);
    expect(idx.freeSeats("den", ["ann"])).toEqual([1]);
  });

  test("a deleted room lists nobody and leaves the room list; the list stays sorted as rooms come and go", () => {
    const idx = new RoomIndex();
    idx.apply(["b", "d", "a"].map((r) => put(`room/${r}`, { capacity: null })));
    idx.apply([put("person/ann", "b")]);
    expect(idx.rooms()).toEqual(["a", "b", "d"]);
    idx.apply([put("room/c", { capacity: null }), put("room/b", undefined, { capacity: null })]);
    expect(idx.rooms()).toEqual(["a", "c", "d"]);
    expect(idx.roomCount()).toBe(3);
    expect(idx.occupants("b")).toEqual([]);
    expect(idx.roomOf("ann")).toBeNull();
    idx.apply([put("room/b", { capacity: null })]);
    expect(idx.rooms()).toEqual(["a", "b", "c", "d"]);
    expect(idx.occupants("b")).toEqual(["ann"]);
  });
});

test("occupants stay sorted and exact as people come and go in any order, in small rooms and big ones", () => {
  const idx = new RoomIndex();
  idx.apply(["small", "big"].map((r) => put(`room/${r}`, { capacity: null })));
  const model = new Map<string, string>();
  let seed = 11;
  const rnd = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
  for (let i = 0; i < 6000; i++) {
    const p = `p${rnd(i < 3000 ? 40 : 3000)}`;
    const before = model.get(p);
    const to = rnd(5) === 0 ? undefined : rnd(3) === 0 ? "small" : "big";
    if (to === undefined) model.delete(p);
    else model.set(p, to);
    idx.apply([put(`person/${p}`, to, before)]);
    if (i % 500 === 0 || i === 5999) {
      for (const r of ["small", "big"]) {
        const want = [...model].filter(([, x]) => x === r).map(([q]) => q).sort();
        expect(idx.occupants(r)).toEqual(want);
        expect(idx.count(r)).toBe(want.length);
        expect(idx.sameOccupants(r, want)).toBe(true);
      }
    }
  }
});

describe("index tables", () => {
  test("sorted names: additions merge in, removals drop out, a name removed and added back between reads stays once", () => {
    const s = new SortedNames();
    for (const n of ["m", "c", "x"]) s.add(n);
    expect(s.sorted()).toEqual(["c", "m", "x"]);
    s.add("a");
    s.delete("m");
    s.add("m");
    s.delete("x");
    expect(s.sorted()).toEqual(["a", "c", "m"]);
    expect(s.size).toBe(3);
    s.add("z");
    s.delete("z");
    expect(s.sorted()).toEqual(["a", "c", "m"]);
  });

  test("person rooms: a hundred thousand keys set, read back and deleted", () => {
    const t = new PersonRooms();
    for (let i = 0; i < 100_000; i++) t.set(`person/p${i}`, `r${i % 7}`);
    expect(t.size).toBe(100_000);
    for (let i = 0; i < 100_000; i += 1000) expect(t.get(`person/p${i}`)).toBe(`r${i % 7}`);
    for (let i = 0; i < 100_000; i += 2) t.delete(`person/p${i}`);
    expect(t.size).toBe(50_000);
    expect(t.get("person/p2")).toBeUndefined();
    expect(t.get("person/p3")).toBe("r3");
  });
});
