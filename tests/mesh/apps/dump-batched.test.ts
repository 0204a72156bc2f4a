/**
 * The full dump asks owner nodes in batches (who-hash: each room's
 * fingerprint; who-many: the names of rooms whose fingerprint differs from
 * the dumping node's own list), not one call per room, and keeps its promises: every room answered by its owner, people
 * two replicas place in different rooms shown only where the newer key puts
 * them, complete or `unavailable`.
 */
import { turnsDuring } from "../../support/turns.ts";
import { describe, expect, test } from "bun:test";
import { codeOf } from "../../support/outcomes.ts";
import { RoomyError } from "../../../core/errors.ts";
import type { Write } from "../../../core/crdt/map-view.ts";
import { mergeOccupancies, personKey, type RoomAnswer, roomKey } from "../../../core/rooms/rooms.ts";
import { DUMP_CHUNK } from "../../../mesh/apps/room-dump.ts";
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

/** What the per-room answers of every room's owner merge to (the dump before batching). */
async function perRoomMerge(w: DumpWorld, rooms: string[]): Promise<Record<string, string[]>> {
  // A room process answers its reads behind the read barrier: a promise.
  const answers = await Promise.all(rooms.map((r) => w.node(w.ownerOf(roomProcess(r))).handle(roomProcess(r), { t: "who" }) as Promise<RoomAnswer>));
  return { ...mergeOccupancies(answers) };
}

describe("the full dump, batched by owner", () => {
  test("asks each other owner node ceil(its rooms / chunk) times, its own rooms not at all, no room alone, and no names when the replicas agree", async () => {
    const rooms = 2 * DUMP_CHUNK + 1500;
    const w = loaded(rooms);
    const dump = await w.node("n1").app.dump();
    expect(Object.keys(dump)).toHaveLength(rooms);
    const owned = new Map<string, number>();
    for (let i = 0; i < rooms; i++) {
      const o = w.ownerOf(roomProcess(room(i)));
      owned.set(o, (owned.get(o) ?? 0) + 1);
    }
    const many = w.callsOf("who-hash");
    expect(w.callsOf("who-many")).toEqual([]);
    for (const n of ["n2", "n3"]) {
      const asked = many.filter((c) => c.to === n);
      expect({ n, calls: asked.length }).toEqual({ n, calls: Math.ceil(owned.get(n)! / DUMP_CHUNK) });
      // Each batch lists only rooms the node owns, and every one of them once.
      const listed = asked.flatMap((c) => c.msg.rooms as string[]);
      expect(new Set(listed).size).toBe(owned.get(n)!);
      for (const r of listed) expect(w.ownerOf(roomProcess(r))).toBe(n);
    }
    expect(w.calls.filter((c) => c.to === "n1")).toEqual([]);
    expect(w.callsOf("who")).toEqual([]);
    expect(dump).toEqual(await perRoomMerge(w, Object.keys(dump)));
  });

  test("equals the merge of every owner's own answer when the replicas are at different points", async () => {
    const w = loaded(300);
    // Owners walk people between rooms on their own replicas only: every
    // replica now disagrees with the others about someone.
    const moves: [string, number][] = [["n2", 0], ["n3", 1], ["n1", 2], ["n2", 3]];
    let k = 0;
    for (const [n, p] of moves) {
      for (let j = 0; j < 40; j++) {
        const target = [...Array(300).keys()].map(room).find((r) => w.ownerOf(roomProcess(r)) === n && r !== room((p + j * 4) % 300))!;
        w.node(n).write([{ key: personKey(`p${p + j * 4 + k}`), value: target }]);
      }
      k++;
    }
    for (const n of w.names) {
      const dump = await w.node(n).app.dump();
      expect(dump).toEqual(await perRoomMerge(w, Object.keys(dump)));
      const seen = Object.values(dump).flat();
      expect(new Set(seen).size).toBe(seen.length); // nobody in two rooms
      expect(seen.length).toBe(900);
    }
  });

  test("a room that moved after its batch was sent is asked again, alone, at its new owner", async () => {
    const w = loaded(200);
    const mine = (n: string) => [...Array(200).keys()].map(room).filter((r) => w.ownerOf(roomProcess(r)) === n);
    const moving = mine("n2")[5]!;
    let moved = false;
    w.onDeliver = (c) => {
      if (c.msg.t === "who-hash" && c.to === "n2" && !moved) {
        moved = true;
        w.owner.set(roomProcess(moving), "n3"); // the batch reaches n2, which no longer serves it
      }
    };
    const dump = await w.node("n1").app.dump();
    expect(moved).toBe(true);
    const alone = w.callsOf("who");
    expect(alone.map((c) => [c.name, c.to])).toEqual([[roomProcess(moving), "n3"]]);
    expect(dump[moving]).toEqual(w.node("n3").app.index.occupants(moving));
    expect(dump).toEqual(await perRoomMerge(w, Object.keys(dump)));
  });

  test("an owner node that does not answer makes the dump unavailable, never a dump without its rooms", async () => {
    const w = loaded(200);
    w.down.add("n3");
    expect(await codeOf(w.node("n1").app.dump())).toBe("unavailable");
    const err = await w.node("n1").app.dump().catch((e: unknown) => e as RoomyError);
    expect(String((err as RoomyError).message)).toContain("n3");
    w.down.delete("n3");
    expect(Object.keys(await w.node("n1").app.dump())).toHaveLength(200);
  });

  test("a person who moves while the dump runs is shown in one room, the one their newer key names", async () => {
    const w = loaded(200);
    const here = [...Array(200).keys()].map(room).find((r) => w.ownerOf(roomProcess(r)) === "n1")!;
    const there = [...Array(200).keys()].map(room).find((r) => w.ownerOf(roomProcess(r)) === "n2")!;
    const person = w.node("n1").app.index.occupants(here)[0]!;
    let walked = false;
    w.onDeliver = (c) => {
      // n1 has read its own rooms (person in `here`); n2 answers after the walk.
      if (c.msg.t === "who-hash" && c.to === "n2" && !walked) {
        walked = true;
        w.writeEverywhere("n2", [{ key: personKey(person), value: there }]);
      }
    };
    const dump = await w.node("n1").app.dump();
    expect(walked).toBe(true);
    expect(dump[there]).toContain(person);
    expect(dump[here]).not.toContain(person);
    // n1's own rooms, read as text before the walk, are read again once someone moved: no stamp to ask of anyone.
    expect(w.callsOf("stamps")).toEqual([]);
  });

  test("a person an owner's lagging replica still shows in their old room is kept only in the new one", async () => {
    const w = loaded(200);
    const rooms = [...Array(200).keys()].map(room);
    const old = rooms.find((r) => w.ownerOf(roomProcess(r)) === "n3")!;
    const neu = rooms.find((r) => w.ownerOf(roomProcess(r)) === "n2")!;
    const person = w.node("n3").app.index.occupants(old)[0]!;
    // n2 admits them; n1 (dumping) has seen it, n3 (the old room's owner) has not.
    const d = w.node("n2").write([{ key: personKey(person), value: neu }]);
    w.node("n1").merge(d);
    const dump = await w.node("n1").app.dump();
    expect(dump[neu]).toContain(person);
    expect(dump[old]).not.toContain(person);
    expect(dump).toEqual(await perRoomMerge(w, rooms));
  });

  test("a node from before who-many has its rooms asked one by one, and its stamps read from its whole answer", async () => {
    const w = loaded(200);
    w.old.add("n3");
    const rooms = [...Array(200).keys()].map(room);
    const old = rooms.find((r) => w.ownerOf(roomProcess(r)) === "n3")!;
    const neu = rooms.find((r) => w.ownerOf(roomProcess(r)) === "n2")!;
    const person = w.node("n3").app.index.occupants(old)[0]!;
    w.node("n1").merge(w.node("n2").write([{ key: personKey(person), value: neu }]));
    const dump = await w.node("n1").app.dump();
    expect(dump).toEqual(await perRoomMerge(w, rooms));
    const n3rooms = rooms.filter((r) => w.ownerOf(roomProcess(r)) === "n3");
    expect(w.callsOf("who").filter((c) => c.to === "n3").length).toBe(n3rooms.length + 1); // each room, then `old` again for stamps
  });

  test("asks names only of the rooms whose owner's list differs from the dumping node's, in one batch per owner", async () => {
    const w = loaded(300);
    const rooms = [...Array(300).keys()].map(room);
    const of = (n: string) => rooms.filter((r) => w.ownerOf(roomProcess(r)) === n);
    // n2 and n3 each admit someone n1 has not heard of; n1 admits someone only it knows.
    w.node("n2").write([{ key: personKey("x2"), value: of("n2")[3]! }]);
    w.node("n3").write([{ key: personKey("x3"), value: of("n3")[7]! }]);
    w.node("n1").write([{ key: personKey("x1"), value: of("n2")[9]! }]);
    const dump = await w.node("n1").app.dump();
    expect(dump).toEqual(await perRoomMerge(w, rooms));
    expect(dump[of("n2")[3]!]).toContain("x2");
    expect(dump[of("n3")[7]!]).toContain("x3");
    expect(dump[of("n2")[9]!]).not.toContain("x1"); // the owner's list, not n1's
    const many = w.callsOf("who-many").map((c) => [c.to, c.msg.rooms]);
    expect(many.sort()).toEqual([["n2", [of("n2")[3]!, of("n2")[9]!]], ["n3", [of("n3")[7]!]]]);
    expect(w.callsOf("who")).toEqual([]);
  });

  test("each dump seeds its fingerprints afresh: every who-hash of one dump carries its seed, the next dump another", async () => {
    const w = loaded(300);
    const seedsOf = () => new Set(w.callsOf("who-hash").map((c) => c.msg.s));
    await w.node("n1").app.dump();
    const first = seedsOf();
    expect(first.size).toBe(1);
    const [s1] = [...first];
    expect(Number.isInteger(s1)).toBe(true);
    await w.node("n1").app.dump();
    const both = seedsOf();
    expect(both.size).toBe(2); // a fixed seed would let chosen names collide in every dump
  });

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

  test("asked for bytes with digests equal, an owner answers every text in one UTF-8 buffer and each one's length; a dump reads them so and equals the per-room merge", async () => {
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
    const dump = await w.node("n1").app.dump();
    expect(w.callsOf("who-hash").every((c) => c.msg.b === true)).toBe(true);
    expect(dump).toEqual(await perRoomMerge(w, Object.keys(dump)));
  });

  test("a person who moves after an owner answered as text is shown once: the text rooms are read again here", async () => {
    const w = loaded(200);
    const rooms = [...Array(200).keys()].map(room);
    let first: string | undefined;
    let moved: { person: string; from: string; to: string } | undefined;
    w.onDeliver = (c) => {
      if (c.msg.t !== "who-hash") return;
      first ??= c.to;
      if (c.to === first || moved !== undefined) return;
      // `first` has answered its first batch as text; someone in one of its rooms moves to a room of c.to, which n1 sees too.
      const from = rooms.find((r) => w.ownerOf(roomProcess(r)) === first && (c.msg.rooms as string[]).length > 0 && w.node(first).app.index.occupants(r).length > 0)!;
      const to = (c.msg.rooms as string[])[0]!;
      const person = w.node(first).app.index.occupants(from)[0]!;
      const d = w.node(c.to).write([{ key: personKey(person), value: to }]);
      w.node("n1").merge(d);
      moved = { person, from, to };
    };
    const dump = await w.node("n1").app.dump();
    expect(moved).toBeDefined();
    const { person, from, to } = moved!;
    expect(dump[to]).toContain(person);
    expect(dump[from]).not.toContain(person);
    const seen = Object.values(dump).flat();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(600);
  });

  test("a node from before who-hash is asked for names (who-many), in batches", async () => {
    const w = loaded(4 * DUMP_CHUNK);
    w.beforeHash.add("n3");
    const rooms = [...Array(4 * DUMP_CHUNK).keys()].map(room);
    const dump = await w.node("n1").app.dump();
    expect(dump).toEqual(await perRoomMerge(w, rooms));
    const n3rooms = rooms.filter((r) => w.ownerOf(roomProcess(r)) === "n3");
    const many = w.callsOf("who-many");
    expect(many.every((c) => c.to === "n3")).toBe(true);
    expect(many.flatMap((c) => c.msg.rooms as string[]).sort()).toEqual(n3rooms);
    expect(n3rooms.length).toBeGreaterThan(DUMP_CHUNK);
    expect(many.length).toBe(Math.ceil(n3rooms.length / DUMP_CHUNK)); // each chunk once, after its who-hash was refused
    expect(w.callsOf("who")).toEqual([]);
  });

  test("lets other work run every few hundred rooms: grouping, reading and writing out each yield the event loop", async () => {
    const w = loaded(5000);
    w.owner.clear();
    for (let i = 0; i < 5000; i++) w.owner.set(roomProcess(room(i)), "n1"); // all local: no message to wait on
    const { value: dump, turns } = await turnsDuring(() => w.node("n1").app.dump());
    expect(w.calls).toEqual([]);
    expect(Object.keys(dump)).toHaveLength(5000);
    // 5,000 rooms, 500 a turn, three loops: some 30 turns; a dump in one turn would give none.
    expect(turns).toBeGreaterThanOrEqual(20);
  });
});
