/**
 * The dump reads this replica behind the read barrier (as who-is-in does):
 * no owner is asked for a room the replica holds, and it keeps its
 * promises however people move while it runs: everyone shown in the one
 * room the replica has them in when it ends (nobody twice, nobody lost),
 * complete or `unavailable`, `unknown_room` only from a room's owner.
 */
import { turnsDuring } from "../../support/turns.ts";
import { describe, expect, test } from "bun:test";
import { codeOf } from "../../support/outcomes.ts";
import type { Write } from "../../../core/crdt/map-view.ts";
import { type DumpLists, personKey, roomKey, seatKey } from "../../../core/rooms/rooms.ts";
import { digestToBytes } from "../../../mesh/replication/messages.ts";
import { roomProcess } from "../../../mesh/apps/rooms.ts";
import { DumpWorld } from "./dump-world.ts";

const room = (i: number) => `r${String(i).padStart(5, "0")}`;

/** `rooms` rooms and 3 people in each, written on n1 and copied everywhere. */
function loaded(rooms: number): DumpWorld {
  const w = new DumpWorld(["n1", "n2", "n3"]);
  const writes: Write[] = [];
  for (let i = 0; i < rooms; i++) writes.push({ key: roomKey(room(i)), value: { capacity: null } });
  for (let i = 0; i < 3 * rooms; i++) writes.push({ key: personKey(`p${i}`), value: room(i % rooms) });
  w.writeEverywhere("n1", writes);
  return w;
}

/** What node `n`'s index holds now, room -> people, for `rooms`. */
function heldBy(w: DumpWorld, n: string, rooms: readonly string[]): Record<string, string[]> {
  const idx = w.node(n).app.index;
  return Object.fromEntries(rooms.map((r) => [r, idx.occupants(r)]));
}

/** 20 rooms everywhere, and room "late-room" written (with `writes`) on its owner only: `other` is a node that lacks it. */
function lateRoom(people: Write[] = []): { w: DumpWorld; late: string; owner: string; other: string } {
  const w = loaded(20);
  const late = "late-room";
  const owner = w.ownerOf(roomProcess(late));
  const other = w.names.find((n) => n !== owner)!;
  w.node(owner).write([{ key: roomKey(late), value: { capacity: null } }, ...people]);
  return { w, late, owner, other };
}

/** The first turn node n1 yields during a dump runs `fn` once. */
function atFirstTurn(w: DumpWorld, fn: () => void): () => boolean {
  let done = false;
  w.onTurn = (n) => {
    if (n !== "n1" || done) return;
    done = true;
    fn();
  };
  return () => done;
}

describe("the dump, read from this replica", () => {
  test("a full dump asks no node: every room is read here, after the read barrier", async () => {
    const w = loaded(2500);
    const rooms = [...Array(2500).keys()].map(room);
    const dump = await w.node("n2").app.dump();
    expect(w.calls).toEqual([]);
    expect(w.barriers.get("n2")).toBe(1);
    expect({ ...dump }).toEqual(heldBy(w, "n2", rooms));
    expect(Object.values(dump).flat()).toHaveLength(7500);
  });

  test("a node that has not caught up for its epoch answers every dump `unavailable`, never a partial one", async () => {
    const w = loaded(50);
    w.behind.add("n1");
    expect(await codeOf(w.node("n1").app.dump())).toBe("unavailable");
    expect(await codeOf(w.node("n1").app.dump([room(1)]))).toBe("unavailable");
    w.behind.delete("n1");
    expect(Object.keys(await w.node("n1").app.dump())).toHaveLength(50);
  });

  // Rooms are read in order, 2,000 a turn: r00000 before the first turn, r04999 after it.
  test.each([
    ["from a room read already to one not read yet: shown once, in the new room", "p0", 0, 4999],
    ["from a room not read yet to one read already: not lost, shown in the new room", "p4999", 4999, 0],
  ])("a person who moves %s", async (_, person, from, to) => {
    const w = loaded(5000);
    const ran = atFirstTurn(w, () => w.writeEverywhere("n2", [{ key: personKey(person), value: room(to) }]));
    const dump = await w.node("n1").app.dump();
    expect(ran()).toBe(true);
    expect(dump[room(from)]).not.toContain(person);
    expect(dump[room(to)]).toContain(person);
  });

  test("under many moves, leaves and walk-ins while it runs, a dump is the replica as it is when the dump ends", async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const w = loaded(4500);
      // A capacity room too: people count there only with a seat.
      const cap = "cap";
      w.writeEverywhere("n1", [{ key: roomKey(cap), value: { capacity: 3 } }]);
      let x = seed * 7919;
      const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
      let fresh = 0;
      let seat = 0;
      w.onTurn = (n) => {
        if (n !== "n1") return;
        const writes: Write[] = [];
        for (let k = 0; k < 40; k++) {
          const kind = rnd(4);
          const p = `p${rnd(13500)}`;
          if (kind === 0) writes.push({ key: personKey(p), value: undefined });
          else if (kind === 1) writes.push({ key: personKey(`new${fresh++}`), value: room(rnd(4500)) });
          else if (kind === 2 && seat < 3) writes.push({ key: personKey(p), value: cap }, { key: seatKey(cap, ++seat), value: p });
          else writes.push({ key: personKey(p), value: room(rnd(4500)) });
        }
        w.writeEverywhere(rnd(2) === 0 ? "n2" : "n3", writes);
      };
      // The gathered dump, compared before any other turn can run (dump() then writes it out over turns).
      const lists = await w.node("n1").app.dumpText();
      const rooms = [...Array(4500).keys()].map(room).concat(cap).sort();
      const held = heldBy(w, "n1", rooms);
      w.onTurn = () => {};
      const dump: Record<string, string[]> = {};
      (lists as DumpLists).writeInto(dump, 0, rooms.length);
      expect(fresh).toBeGreaterThan(0);
      expect({ seed, dump }).toEqual({ seed, dump: held });
      const seen = Object.values(dump).flat();
      expect(new Set(seen).size).toBe(seen.length);
    }
  });

  test("a named room this replica lacks is asked of its owner; a name that is no room is unknown_room from it", async () => {
    // Created and walked into on its owner; not yet on `other`.
    const { w, late, owner, other } = lateRoom([{ key: personKey("zed"), value: "late-room" }]);
    const dump = await w.node(other).app.dump([late, room(3)]);
    expect({ ...dump }).toEqual({ [late]: ["zed"], [room(3)]: w.node(other).app.index.occupants(room(3)) });
    expect(w.calls.map((c) => [c.name, c.to, c.msg.t])).toEqual([[roomProcess(late), owner, "who"]]);
    expect(await codeOf(w.node(other).app.dump(["no-such-room"]))).toBe("unknown_room");
  });

  test("an owner that does not answer for a room this replica lacks makes the dump unavailable, never a dump without it", async () => {
    const { w, late, owner, other } = lateRoom();
    w.down.add(owner);
    const err = await w.node(other).app.dump([late, room(1)]).catch((e: unknown) => e as Error);
    expect(await codeOf(Promise.reject(err))).toBe("unavailable");
    expect(String(err)).toContain(late);
  });

  test("an owner's list for a room this replica lacks does not show someone this replica has in another room", async () => {
    const { w, late, other } = lateRoom([{ key: personKey("p2"), value: "late-room" }]);
    // `other` has p2 moved on again, to r00005.
    w.node(other).write([{ key: personKey("p2"), value: room(5) }]);
    const dump = await w.node(other).app.dump([late, room(2), room(5)]);
    expect(dump[late]).toEqual([]);
    expect(dump[room(5)]).toContain("p2");
    expect(dump[room(2)]).not.toContain("p2");
  });

  test("lets other work run: rooms are read and written out a few thousand per turn", async () => {
    const w = loaded(9000);
    const { value: dump, turns } = await turnsDuring(() => w.node("n1").app.dump());
    expect(Object.keys(dump)).toHaveLength(9000);
    // 9,000 rooms, 2,000 a turn, read then written out: 8 turns; a dump in one turn would give none.
    expect(turns).toBeGreaterThanOrEqual(6);
  });
});

describe("the answers an older node's batched dump asks of an owner (rolling upgrade)", () => {
  test("an owner whose digest equals the asker's answers each room it serves as JSON text; else as its fingerprint under the asker's seed", async () => {
    const w = loaded(60);
    const rooms = [...Array(60).keys()].map(room);
    const n2 = rooms.filter((r) => w.ownerOf(roomProcess(r)) === "n2");
    const asked = [n2[0]!, n2[1]!, rooms.find((r) => w.ownerOf(roomProcess(r)) !== "n2")!];
    const ask = (d: Uint8Array | undefined, s = 12345) => w.node("n2").handle(roomProcess(asked[0]!), { t: "who-hash", rooms: asked, d, s });
    const idx = w.node("n2").app.index;
    expect(await ask(digestToBytes(w.node("n1").map.digest()))).toEqual({ e: true, a: [JSON.stringify(idx.occupants(asked[0]!)), JSON.stringify(idx.occupants(asked[1]!)), null] });
    const fingerprints = (s: number) => ({ a: [idx.occupantsHash(asked[0]!, s), idx.occupantsHash(asked[1]!, s), null] });
    w.node("n1").write([{ key: personKey("someone"), value: asked[0]! }]);
    expect(await ask(digestToBytes(w.node("n1").map.digest()))).toEqual(fingerprints(12345));
    expect(await ask(undefined)).toEqual(fingerprints(12345));
    // Another dump's seed, another fingerprint: names chosen to collide under one seed need not under the next.
    expect(await ask(undefined, 999)).toEqual(fingerprints(999));
    expect(fingerprints(999).a[0]).not.toBe(fingerprints(12345).a[0]);
  });

  test("asked for bytes with digests equal, an owner answers every text in one UTF-8 buffer and each one's length", async () => {
    const w = loaded(60);
    const rooms = [...Array(60).keys()].map(room);
    const n2 = rooms.filter((r) => w.ownerOf(roomProcess(r)) === "n2");
    const asked = [n2[0]!, rooms.find((r) => w.ownerOf(roomProcess(r)) !== "n2")!, n2[1]!];
    const idx = w.node("n2").app.index;
    const texts = [JSON.stringify(idx.occupants(asked[0]!)), JSON.stringify(idx.occupants(asked[2]!))];
    const enc = new TextEncoder();
    const got = (await w.node("n2").handle(roomProcess(asked[0]!), { t: "who-hash", rooms: asked, d: digestToBytes(w.node("n1").map.digest()), s: 1, b: true })) as { e: boolean; a: unknown[]; t: Uint8Array };
    expect({ e: got.e, a: got.a }).toEqual({ e: true, a: [enc.encode(texts[0]).length, null, enc.encode(texts[1]).length] });
    expect(new TextDecoder().decode(got.t)).toBe(texts.join(""));
  });
});
