/**
 * A room's people as a dump reads them from the index (occupantList: person
 * keys while the room has no capacity, names with one), their fingerprint
 * (occupantsHash: what an owner node answers a dump instead of the names)
 * and their JSON text.
 */
import { describe, expect, test } from "bun:test";
import { LwwMap } from "../../../core/crdt/lww-map.ts";
import { RoomIndex } from "../../../core/rooms/room-index.ts";
import { nameAt, occupantsHash, occupantsJson, PERSON_PREFIX } from "../../../core/rooms/rooms.ts";

function replica() {
  const map = new LwwMap();
  const idx = new RoomIndex(map);
  let t = 1;
  const apply = (puts: [string, unknown][]): void => {
    const ts = { w: t++, c: 0, n: "w" };
    idx.apply(map.merge({ e: puts.map(([k, v]) => (v === undefined ? { k, ts, d: true as const } : { k, ts, v })) }));
  };
  return { idx, apply };
}

describe("a room's people for a dump", () => {
  test("occupantList is occupants() as keys (no capacity) or names (capacity), null for no room, and an array the index's later changes leave alone", () => {
    const { idx, apply } = replica();
    apply([["room/den", { capacity: null }], ["room/box", { capacity: 2 }], ["person/bo", "den"], ["person/al", "den"], ["person/cy", "box"], ["seat/box/1", "cy"]]);
    const den = idx.occupantList("den")!;
    expect(den).toEqual({ people: [`${PERSON_PREFIX}al`, `${PERSON_PREFIX}bo`], keyed: true });
    expect(den.people.map((k) => nameAt(k, den.keyed))).toEqual(idx.occupants("den"));
    const box = idx.occupantList("box")!;
    expect(box).toEqual({ people: ["cy"], keyed: false });
    expect(idx.occupantList("nowhere")).toBeNull();
    // Not copied, yet never changed in place: a dump holding it keeps the room as it was read.
    apply([["person/al", undefined], ["person/dee", "den"], ["person/eve", "box"], ["seat/box/2", "eve"]]);
    expect(den.people).toEqual([`${PERSON_PREFIX}al`, `${PERSON_PREFIX}bo`]);
    expect(box.people).toEqual(["cy"]);
    expect(idx.occupants("den")).toEqual(["bo", "dee"]);
    expect(idx.occupants("box")).toEqual(["cy", "eve"]);
  });

  test("occupantsHash: equal for the same names keyed or not, different when a name, the order or a split changes", () => {
    const names = ["al", "bo", "cy"];
    const keys = names.map((n) => PERSON_PREFIX + n);
    const h = occupantsHash(names, false);
    expect(occupantsHash(keys, true)).toBe(h);
    expect(Number.isSafeInteger(h) && h >= 0).toBe(true);
    const others = [["al", "bo"], ["al", "bo", "cz"], ["bo", "al", "cy"], ["albo", "cy"], ["a", "lbo", "cy"], ["al", "bo", "cy", ""], []];
    const hashes = new Set([h, ...others.map((l) => occupantsHash(l, false))]);
    expect(hashes.size).toBe(others.length + 1);
    const { idx, apply } = replica();
    apply([["room/den", { capacity: null }], ["person/cy", "den"], ["person/al", "den"], ["person/bo", "den"]]);
    expect(idx.occupantsHash("den")).toBe(h);
    apply([["room/box", { capacity: 5 }], ["person/al", "box"], ["seat/box/1", "al"], ["person/cy", "box"], ["seat/box/2", "cy"]]);
    expect(idx.occupantsHash("box")).toBe(occupantsHash(["al", "cy"], false));
    expect(idx.occupantsHash("den")).toBe(occupantsHash(["bo"], false));
  });

  test("occupantsHash under a seed: the same for the same seed, different across seeds (a dump's seed is its own)", () => {
    const names = ["al", "bo", "cy"];
    const keys = names.map((n) => PERSON_PREFIX + n);
    expect(occupantsHash(keys, true, 42)).toBe(occupantsHash(names, false, 42));
    const seeds = [0, 1, 2, 42, -1, 0x7fffffff];
    expect(new Set(seeds.map((s) => occupantsHash(names, false, s))).size).toBe(seeds.length);
    // Two lists equal under one seed would be a collision; none among these under any seed.
    for (const s of seeds) expect(occupantsHash(["al", "bo"], false, s)).not.toBe(occupantsHash(names, false, s));
  });

  test("the index's text and fingerprint of a room follow every change (kept between changes, never stale)", () => {
    const { idx, apply } = replica();
    let seed = 7;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const rooms = ["a", "b", "c", "d"];
    const check = () => {
      for (const r of rooms) {
        if (!idx.has(r)) {
          expect(idx.occupantsJson(r)).toBeNull();
          continue;
        }
        expect({ r, text: idx.occupantsJson(r) }).toEqual({ r, text: JSON.stringify(idx.occupants(r)) });
        expect(idx.occupantsHash(r)).toBe(occupantsHash(idx.occupants(r), false));
      }
    };
    for (let step = 0; step < 400; step++) {
      const room = rooms[rnd(4)]!;
      const person = `p${rnd(12)}`;
      switch (rnd(5)) {
        case 0:
          apply([[`room/${room}`, { capacity: room === "a" || room === "b" ? 2 : null }]]);
          break;
        case 1:
          apply([[`person/${person}`, room]]);
          break;
        case 2:
          apply([[`person/${person}`, room], [`seat/${room}/${1 + rnd(2)}`, person]]);
          break;
        case 3:
          apply([[`person/${person}`, undefined]]);
          break;
        case 4:
          apply([[`seat/${room}/${1 + rnd(2)}`, person]]);
          break;
      }
      check();
    }
  });

  test("occupantsJson writes what JSON.stringify writes for the names, from keys too", () => {
    const names = ["a\"b", "c\\", `${PERSON_PREFIX}x`, "é", ",\"", `q","${PERSON_PREFIX}r`].sort();
    const plain = ["al", "bo b", "x,y", "é", `${PERSON_PREFIX}x`, `${PERSON_PREFIX}`, "[]", "'"].sort();
    for (const l of [names, plain, ["😀", "a😀b"], [], ["solo"]]) {
      expect(occupantsJson(l, false)).toBe(JSON.stringify(l));
      expect(occupantsJson(l.map((n) => PERSON_PREFIX + n), true)).toBe(JSON.stringify(l));
    }
  });
});
