/**
 * GET /v1/dump writes its body a thousand rooms per turn of the event
 * loop, and the text is exactly what orderedJson() writes for the same dump
 * (rooms sorted as strings even when some names look like integers, special
 * names as plain keys).
 */
import { turnsDuring } from "../support/turns.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DUMP_ROOMS_PER_TURN, dumpJsonPieces, dumpResponse } from "../../http/dump-json.ts";
import { orderedJson } from "../../http/json.ts";
import { DumpLists, type DumpText, PERSON_PREFIX } from "../../core/rooms/rooms.ts";
import { mergeOccupancies } from "../support/occupancies.ts";
import { servedNode, type Served_ } from "./harness.ts";
import { serve } from "../../adapter/serve.ts";
import { prebuiltOf } from "../../adapter/prebuilt.ts";
import { RELEASE_MIN } from "../../adapter/release.ts";

/** A dump as the app builds it: no prototype, rooms inserted in sorted order. */
function dumpOf(rooms: Record<string, string[]>): Record<string, string[]> {
  return mergeOccupancies(Object.entries(rooms).map(([room, people]) => ({ room, people })));
}

/** The same dump as the app reads it (every room's list, sorted); every other list keyed (person keys) when `keyed`. */
function textOf(dump: Record<string, string[]>, keyed = false): DumpText {
  const rooms = Object.keys(dump).sort();
  const m = new DumpLists(rooms);
  rooms.forEach((r, i) => {
    const people = dump[r]!.slice().sort();
    if (keyed && i % 2 === 0) m.set(i, { people: people.map((p) => PERSON_PREFIX + p).sort(), keyed: true });
    else m.set(i, { people, keyed: false });
  });
  return m;
}

describe("the dump's JSON, piece by piece", () => {
  const odd = dumpOf({ "7": ["b", "a"], "10": [], "2": ["\"q\"", "é"], __proto__x: ["x"], constructor: ["c"], toJSON: [], "": [], zz: ["\u2028"] });
  odd["__proto__"] = ["p"]; // a plain key: the dump has no prototype

  test("joined, equals orderedJson of the same dump, for any piece size, from names or from person keys", () => {
    for (const keyed of [false, true]) {
      for (const per of [1, 2, 3, 5, 100]) expect({ per, keyed, text: [...dumpJsonPieces(textOf(odd, keyed), per)].join("") }).toEqual({ per, keyed, text: orderedJson(odd) });
    }
    expect([...dumpJsonPieces(textOf(Object.create(null) as Record<string, string[]>))].join("")).toBe("{}");
    const text = [...dumpJsonPieces(textOf(odd), 2)].join("");
    expect(Object.keys(JSON.parse(text) as object)).toContain("__proto__");
  });

  test("the response's bytes are the text's UTF-8, whatever the piece size and however many bytes a name takes", async () => {
    const rooms: Record<string, string[]> = {};
    for (let i = 0; i < 50; i++) rooms[`r${String(i).padStart(2, "0")}`] = i % 7 === 3 ? ["😀😀😀😀😀😀😀😀", "é".repeat(40)] : [`p${i}`];
    // Room names JSON escapes, or beyond ASCII, written byte by byte.
    Object.assign(rooms, { "": ["a"], "q\"uote": [], "back\\slash": ["b"], "tab\t": ["c"], "é": ["d"], "😀": [], "\u2028": ["e"] });
    const dump = dumpOf(rooms);
    for (const per of [1, 3, 10, 1000]) {
      for (const keyed of [false, true]) {
        const res = await dumpResponse(textOf(dump, keyed), per);
        expect({ per, keyed, text: new TextDecoder().decode(await res.arrayBuffer()) }).toEqual({ per, keyed, text: orderedJson(dump) });
      }
    }
    const odd = await dumpResponse(textOf(dumpOf({ "7": ["b", "a"], "10": [], "2": ["\"q\"", "é"], constructor: ["c"] })));
    expect(await odd.text()).toBe(orderedJson(dumpOf({ "7": ["b", "a"], "10": [], "2": ["\"q\"", "é"], constructor: ["c"] })));
    expect(await (await dumpResponse(textOf(Object.create(null) as Record<string, string[]>))).text()).toBe("{}");
  });

  test("a big dump's body is sized from its first rooms: one buffer, exactly the text's bytes", async () => {
    const rooms: Record<string, string[]> = {};
    for (let i = 0; i < 3 * DUMP_ROOMS_PER_TURN; i++) rooms[`room-${i}`] = Array.from({ length: i % 13 }, (_, k) => `person-${i}-${k}`);
    const dump = dumpOf(rooms);
    const body = new Uint8Array(await (await dumpResponse(textOf(dump, true))).arrayBuffer());
    expect(new TextDecoder().decode(body)).toBe(orderedJson(dump));
  });

  // A big answer's buffers were otherwise freed only by a full collection,
  // which a node with a large heap may not run for minutes: each dump stayed
  // resident (RSS) on top of the last.
  test("a big dump written by the server has its buffer freed once written; read as a Response it is whole", async () => {
    const rooms: Record<string, string[]> = {};
    for (let i = 0; i < 3 * DUMP_ROOMS_PER_TURN; i++) rooms[`room-${i}`] = Array.from({ length: 5 }, (_, k) => `person-${i}-${k}`);
    const dump = dumpOf(rooms);
    const expected = orderedJson(dump);
    expect(expected.length).toBeGreaterThan(RELEASE_MIN);
    const answered: Response[] = [];
    const http = serve({ hostname: "127.0.0.1", port: 0, fetch: async () => {
      const res = await dumpResponse(textOf(dump, true));
      answered.push(res);
      return res;
    } });
    try {
      const res = await fetch(`${http.url}/v1/dump`);
      expect(res.headers.get("content-length")).toBe(String(new TextEncoder().encode(expected).byteLength));
      expect(await res.text()).toBe(expected);
      const body = prebuiltOf(answered[0]!)!.body;
      expect((body.buffer as ArrayBuffer & { detached: boolean }).detached).toBe(true);
    } finally {
      await http.stop();
    }
    // Not through a server that writes it: the Response reads as the dump.
    const res = await dumpResponse(textOf(dump, true));
    expect(res.headers.get("content-length")).toBe(String(prebuiltOf(res)!.body.byteLength));
    expect(await res.text()).toBe(expected);
  });

  test("a person placed in another room after the rooms were read is written there alone, as the record form has them", async () => {
    const dump = dumpOf({ den: ["al", "bo"], hall: ["cy"], yard: [] });
    const m = textOf(dump, true) as DumpLists;
    m.place("al", [m.indexOf("den")], m.indexOf("yard")); // al moved den -> yard while the dump ran
    m.place("cy", [m.indexOf("hall")], -1); // cy left
    const moved = dumpOf({ den: ["bo"], hall: [], yard: ["al"] });
    expect(await (await dumpResponse(m)).text()).toBe(orderedJson(moved));
    const record: Record<string, string[]> = {};
    m.writeInto(record, 0, 3);
    expect(record).toEqual({ ...moved });
  });

  test("names that look like keys, quotes, backslashes and commas come out as JSON.stringify writes them", () => {
    const tricky = [`${PERSON_PREFIX}x`, `a","${PERSON_PREFIX}b`, `c,`, `d\\`, `e\\","${PERSON_PREFIX}`, `"`, `,"`, `é😀`, `${PERSON_PREFIX}`].sort();
    const dump = dumpOf({ k: tricky, n: tricky.slice(1), z: [`${PERSON_PREFIX}${PERSON_PREFIX}`] });
    const text = [...dumpJsonPieces(textOf(dump, true), 1)].join("");
    expect(text).toBe(orderedJson(dump));
    expect((JSON.parse(text) as Record<string, string[]>)["k"]).toEqual(tricky);
  });

  test("gives one piece per DUMP_ROOMS_PER_TURN rooms, and other work runs between the pieces", async () => {
    const rooms: Record<string, string[]> = {};
    for (let i = 0; i < 4 * DUMP_ROOMS_PER_TURN + 1; i++) rooms[`r${i}`] = [`p${i}`];
    const dump = dumpOf(rooms);
    expect([...dumpJsonPieces(textOf(dump))]).toHaveLength(5);
    // A loop of macrotasks stands for timers and I/O: it gets a turn between pieces.
    const { value: text, turns } = await turnsDuring(async () => (await dumpResponse(textOf(dump, true))).text());
    expect(text).toBe(orderedJson(dump));
    expect(turns).toBeGreaterThanOrEqual(4);
  });
});

describe("GET /v1/dump", () => {
  let s: Served_;
  const ROOMS = 2 * DUMP_ROOMS_PER_TURN + 100;
  beforeAll(async () => {
    s = await servedNode({ name: "dj1" });
    const names = Array.from({ length: ROOMS }, (_, i) => `room-${i}`);
    for (let i = 0; i < names.length; i += 2000) await s.node.app.addRooms(names.slice(i, i + 2000));
    await s.node.app.addRooms(["7", "10", "__proto__"]);
    await s.node.app.walkInto("7", ["al", "bo"]);
    await s.node.app.walkInto("room-42", ["cy"]);
  });
  afterAll(async () => {
    await s?.stop();
  });

  test("answers the whole dump as orderedJson would", async () => {
    const res = await fetch(`${s.url}/v1/dump`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(text).toBe(orderedJson(await s.node.app.dump()));
    const body = JSON.parse(text) as Record<string, string[]>;
    expect(Object.keys(body)).toHaveLength(ROOMS + 3);
    expect(body["7"]).toEqual(["al", "bo"]);
    expect(body["room-42"]).toEqual(["cy"]);
  });
});
