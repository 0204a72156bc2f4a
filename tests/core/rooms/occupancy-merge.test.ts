/**
 * OccupancyMerge (the dump's merge without a table of every person) gives
 * what mergeOccupancies gives over the same answers: whatever points the
 * owners' replicas and the dump's own replica are at, in whatever order the
 * answers arrive, read out in any slices.
 */
import { describe, expect, test } from "bun:test";
import { compareTs, type Timestamp } from "../../../core/crdt/hlc.ts";
import { type KeyHistory, mergeOccupancies, OccupancyMerge, type RoomAnswer } from "../../../core/rooms/rooms.ts";

/** A small deterministic generator (xorshift), so a failure names its seed. */
function rng(seed: number): () => number {
  let s = seed | 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** One replica's view: each person's latest write it has seen. */
type View = Map<string, { room: string; ts: Timestamp }>;

function scenario(seed: number) {
  const r = rng(seed);
  const rooms = Array.from({ length: 2 + Math.floor(r() * 12) }, (_, i) => `room${String(i).padStart(2, "0")}`);
  const people = Array.from({ length: 1 + Math.floor(r() * 60) }, (_, i) => `p${i}`);
  // Each person's writes, newest last; every replica has seen some prefix of them.
  const history = new Map(people.map((p, i) => [p, Array.from({ length: 1 + Math.floor(r() * 3) }, (_, k) => ({ room: rooms[Math.floor(r() * rooms.length)]!, ts: { w: 10 * k + Math.floor(r() * 5), c: i, n: `w${Math.floor(r() * 3)}` } }))]));
  for (const h of history.values()) h.sort((a, b) => compareTs(a.ts, b.ts));
  const views: View[] = Array.from({ length: 3 }, () => {
    const v: View = new Map();
    for (const [p, h] of history) {
      const seen = Math.floor(r() * (h.length + 1));
      if (seen > 0) v.set(p, h[seen - 1]!);
    }
    return v;
  });
  const ownerOf = new Map(rooms.map((room) => [room, views[Math.floor(r() * views.length)]!]));
  const answers: RoomAnswer[] = rooms.map((room) => {
    const v = ownerOf.get(room)!;
    const inside = [...v].filter(([, e]) => e.room === room).map(([p]) => p).sort();
    return { room, people: inside, since: inside.map((p) => v.get(p)!.ts) };
  });
  const here = views[Math.floor(r() * views.length)]!;
  const history_: KeyHistory = {
    anyChanged: () => false,
    changed: () => false,
    sameHere: (room, list) => {
      const mine = [...here].filter(([, e]) => e.room === room).map(([p]) => p).sort();
      return mine.length === list.length && mine.every((p, i) => p === list[i]);
    },
    keyRoom: (p) => here.get(p)?.room,
    startRoom: (p) => here.get(p)?.room,
  };
  const order = rooms.map((_, i) => i).sort(() => r() - 0.5);
  const slice = 1 + Math.floor(r() * rooms.length);
  return { rooms, answers, history: history_, order, slice, hereIs: views.indexOf(here), ownerOf: rooms.map((x) => views.indexOf(ownerOf.get(x)!)) };
}

describe("OccupancyMerge", () => {
  test("equals mergeOccupancies over the same answers, for replicas at any points", () => {
    let conflicted = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const s = scenario(seed);
      const m = new OccupancyMerge(s.rooms, s.history);
      for (const i of s.order) m.add(i, s.answers[i]!.people, s.ownerOf[i] === s.hereIs);
      const conflicts = m.conflicts();
      if (conflicts.length > 0) conflicted++;
      for (const c of conflicts) {
        // Each room's owner, asked again, still holds what it answered.
        m.resolve(c, c.rooms.map((i) => {
          const a = s.answers[i]!;
          const at = a.people.indexOf(c.person);
          return at < 0 ? null : a.since![at]!;
        }));
      }
      const out = Object.create(null) as Record<string, string[]>;
      for (let from = 0; from < s.rooms.length; from += s.slice) m.writeInto(out, from, from + s.slice);
      expect({ seed, out: { ...out } }).toEqual({ seed, out: { ...mergeOccupancies(s.answers) } });
    }
    expect(conflicted).toBeGreaterThan(100); // the seeds do exercise people shown twice
  });

  test("a person whose key changed here during the dump is checked even where this replica agreed", () => {
    // Read here: al in den (clean then); al's key then changes here; a peer's answer shows al in hall.
    let changed = false;
    const h: KeyHistory = {
      anyChanged: () => changed,
      changed: (p) => changed && p === "al",
      sameHere: () => false,
      keyRoom: () => (changed ? "hall" : "den"),
      startRoom: () => "den",
    };
    const m = new OccupancyMerge(["den", "hall"], h);
    m.add(0, ["al"], true);
    changed = true;
    m.add(1, ["al"], false);
    const c = m.conflicts();
    expect(c).toEqual([{ person: "al", rooms: [0, 1] }]);
    m.resolve(c[0]!, [null, { w: 5, c: 0, n: "x" }]); // den's owner: no longer there
    const out = Object.create(null) as Record<string, string[]>;
    m.writeInto(out, 0, 2);
    expect({ ...out }).toEqual({ den: [], hall: ["al"] });
  });
});
