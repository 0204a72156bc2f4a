import { describe, expect, test } from "bun:test";
import { LwwMap } from "../../../core/crdt/lww-map.ts";
import { RoomIndex } from "../../../core/rooms/room-index.ts";
import { SortedNames } from "../../../core/rooms/sorted-names.ts";

interface Put {
  key: string;
  value: unknown;
}
const put = (key: string, value: unknown): Put => ({ key, value });

/** A replica and its index, written as a node writes: merged into the map, the changes into the index. */
function replica() {
  const map = new LwwMap();
  const idx = new RoomIndex(map);
  let t = 1;
  const apply = (puts: Put[]): void => {
    const ts = { w: t++, c: 0, n: "w" };
    idx.apply(map.merge({ e: puts.map((p) => (p.value === undefined ? { k: p.key, ts, d: true as const } : { k: p.key, ts, v: p.value })) }));
  };
  return { idx, apply };
}

describe("the room index", () => {
  test("a room created after its people's keys arrived counts them at once", () => {
    const { idx, apply } = replica();
    apply([put("person/ann", "den"), put("person/bob", "den"), put("person/cy", "hall")]);
    expect(idx.occupants("den")).toEqual([]);
    expect(idx.roomOf("ann")).toBeNull();
    expect(idx.keyRoom("ann")).toBe("den");
    apply([put("room/den", { capacity: null })]);
    expect(idx.occupants("den")).toEqual(["ann", "bob"]);
    expect(idx.count("den")).toBe(2);
    expect(idx.roomOf("bob")).toBe("den");
    expect(idx.sameOccupants("den", ["ann", "bob"])).toBe(true);
    expect(idx.sameOccupants("den", ["ann"])).toBe(false);
  });

  test("with a capacity learnt late, only the seated count; without one, seats count for nothing", () => {
    const { idx, apply } = replica();
    apply([put("person/ann", "den"), put("person/bob", "den"), put("seat/den/1", "bob"), put("room/den", { capacity: null })]);
    expect(idx.occupants("den")).toEqual(["ann", "bob"]);
    apply([put("room/den", { capacity: 1 })]);
    expect(idx.occupants("den")).toEqual(["bob"]);
    expect(idx.seatOf("den", "bob")).toBe(1);
    expect(idx.roomOf("ann")).toBeNull();
    expect(idx.freeSeats("den", ["ann"])).toBeNull();
    // Bob moves out: his seat frees, and his key no longer names the room.
    apply([put("person/bob", "hall")]);
    expect(idx.occupants("den")).toEqual([]);
    expect(idx.freeSeats("den", ["ann"])).toEqual([1]);
  });

  test("a deleted room lists nobody and leaves the room list; the list stays sorted as rooms come and go", () => {
    const { idx, apply } = replica();
    apply(["b", "d", "a"].map((r) => put(`room/${r}`, { capacity: null })));
    apply([put("person/ann", "b")]);
    expect(idx.rooms()).toEqual(["a", "b", "d"]);
    apply([put("room/c", { capacity: null }), put("room/b", undefined)]);
    expect(idx.rooms()).toEqual(["a", "c", "d"]);
    expect(idx.roomCount()).toBe(3);
    expect(idx.occupants("b")).toEqual([]);
    expect(idx.roomOf("ann")).toBeNull();
    apply([put("room/b", { capacity: null })]);
    expect(idx.rooms()).toEqual(["a", "b", "c", "d"]);
    expect(idx.occupants("b")).toEqual(["ann"]);
  });
});

test("occupants stay sorted and exact as people come and go in any order, in small rooms and big ones", () => {
  const { idx, apply } = replica();
  apply(["small", "big"].map((r) => put(`room/${r}`, { capacity: null })));
  const model = new Map<string, string>();
  let seed = 11;
  const rnd = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
  for (let i = 0; i < 6000; i++) {
    const p = `p${rnd(i < 3000 ? 40 : 3000)}`;
    const before = model.get(p);
    const to = rnd(5) === 0 ? undefined : rnd(3) === 0 ? "small" : "big";
    if (to === undefined) model.delete(p);
    else model.set(p, to);
    apply([put(`person/${p}`, to)]);
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
});
