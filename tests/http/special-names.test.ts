/**
 * Every name the contract allows round-trips through every JSON answer,
 * including the names an object `{}` treats specially ("__proto__" sets its
 * prototype instead of a key; "constructor", "toString", ... are inherited).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mergeOccupancies } from "../support/occupancies.ts";
import { LotIndex } from "../../core/parking/lot-index.ts";
import { orderedJson } from "../../http/json.ts";
import { call, servedNode, type Served_ } from "./harness.ts";

/** Names that mean something to a plain object or to JSON.stringify. */
const SPECIAL = [
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
  "__defineGetter__",
  "__lookupGetter__",
  "toJSON",
  "prototype",
  "length",
  "0",
];

const SPACES = 200;
let s: Served_;

beforeAll(async () => {
  s = await servedNode({ name: "h1", gates: 2, spaces: SPACES });
});
afterAll(async () => {
  await s?.stop();
});

const j = (v: unknown) => JSON.stringify(v);
const q = encodeURIComponent;

async function ok(method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await call(s.url, method, path, body === undefined ? undefined : j(body));
  if (r.status !== 200) throw new Error(`${method} ${path} ${j(body)}: ${r.status} ${r.text}`);
  return r.json;
}

describe("the JSON writer", () => {
  test("an object without prototype keeps a __proto__ key, and a toJSON key is data", () => {
    const t = Object.create(null) as Record<string, unknown>;
    for (const n of SPECIAL) t[n] = [n];
    const back = JSON.parse(orderedJson(t)) as Record<string, unknown>;
    expect(Object.keys(back).sort()).toEqual([...SPECIAL].sort());
    for (const n of SPECIAL) expect(Object.getOwnPropertyDescriptor(back, n)?.value).toEqual([n]);
  });

  test("a Map is written as an object of its entries", () => {
    expect(orderedJson(new Map([["__proto__", 1], ["b", 2]]))).toBe('{"__proto__":1,"b":2}');
  });
});

describe.each(SPECIAL)("the name %p", (name) => {
  test("core: merged occupancies and the lot's vehicles keep it as an own key", () => {
    const merged = mergeOccupancies([{ room: name, people: [name] }]);
    expect(Object.keys(merged)).toEqual([name]);
    expect(orderedJson(merged)).toBe(j({ [name]: [name] }));
    const lot = new LotIndex(1);
    lot.apply([
      { key: `vehicle/${name}`, old: undefined, value: { gate: 1, at: "t", node: "n", slot: 1 } },
      { key: "slot/1", old: undefined, value: name },
    ]);
    expect(Object.keys(lot.info().vehicles)).toEqual([name]);
  });

  test("over HTTP: room, person and plate in dump, who-is-in, where-is and the lot", async () => {
    const room = name;
    const person = name;
    await ok("POST", "/v1/rooms", { rooms: [room] });
    await ok("POST", "/v1/walk-into", { room, people: [person] });
    const one = JSON.parse((await call(s.url, "GET", `/v1/dump?room=${q(room)}`)).text) as Record<string, unknown>;
    expect(Object.keys(one)).toEqual([room]);
    expect(Object.getOwnPropertyDescriptor(one, room)?.value).toEqual([person]);
    const all = JSON.parse((await call(s.url, "GET", "/v1/dump")).text) as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(all, room)?.value).toEqual([person]);
    expect(await ok("GET", `/v1/who-is-in?room=${q(room)}`)).toEqual([person]);
    expect(await ok("GET", `/v1/where-is?person=${q(person)}`)).toEqual({ room });

    await ok("POST", "/v1/gates/1/park", { plate: name });
    const lot = JSON.parse((await call(s.url, "GET", "/v1/lot")).text) as { occupied: number; vehicles: Record<string, unknown> };
    expect(Object.keys(lot.vehicles)).toContain(name);
    expect(Object.keys(lot.vehicles).length).toBe(lot.occupied);
    expect(Object.getOwnPropertyDescriptor(lot.vehicles, name)?.value).toMatchObject({ gate: 1 });
    await ok("POST", "/v1/gates/1/unpark", { plate: name });
    await ok("POST", "/v1/leave", { people: [person] });
  });
});

/** A valid name: mostly the special ones and short printable ones, some Unicode. */
// Graphemes without control characters, line separators or U+FFFD (which the API refuses as the mark of bad UTF-8).
const nameArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom(..."ab_-./ 07%{}\"\\") }) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 6, unit: "grapheme" }).filter((n) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffd]/.test(n)) },
);

describe("property: random names round-trip through every answer", () => {
  test("add-rooms, walk-into, dump, who-is-in, where-is, park and lot agree with a model", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(nameArb, { minLength: 1, maxLength: 4 }),
        fc.uniqueArray(nameArb, { minLength: 1, maxLength: 6 }),
        fc.uniqueArray(nameArb, { minLength: 1, maxLength: 4 }),
        async (rooms, people, plates) => {
          // Rooms stay (adding one again is a no-op, and they are empty after each run); people and cars are cleared.
          try {
            await ok("POST", "/v1/rooms", { rooms });
            const model = new Map<string, string>(); // person -> room
            people.forEach((p, i) => model.set(p, rooms[i % rooms.length]!));
            for (const r of rooms) {
              const inside = people.filter((p) => model.get(p) === r);
              if (inside.length > 0) await ok("POST", "/v1/walk-into", { room: r, people: inside });
            }
            const query = rooms.map((r) => "room=" + q(r)).join("&");
            const dumped = JSON.parse((await call(s.url, "GET", `/v1/dump?${query}`)).text) as Record<string, unknown>;
            expect(Object.keys(dumped).sort()).toEqual([...rooms].sort());
            const whole = JSON.parse((await call(s.url, "GET", "/v1/dump")).text) as Record<string, unknown>;
            for (const r of rooms) {
              const expected = people.filter((p) => model.get(p) === r).sort();
              expect(Object.getOwnPropertyDescriptor(dumped, r)?.value).toEqual(expected);
              expect(Object.getOwnPropertyDescriptor(whole, r)?.value).toEqual(expected);
              expect(await ok("GET", `/v1/who-is-in?room=${q(r)}`)).toEqual(expected);
            }
            for (const p of people) expect(await ok("GET", `/v1/where-is?person=${q(p)}`)).toEqual({ room: model.get(p)! });

            for (const p of plates) await ok("POST", "/v1/gates/2/park", { plate: p });
            const lot = JSON.parse((await call(s.url, "GET", "/v1/lot")).text) as { occupied: number; vehicles: Record<string, unknown> };
            expect(Object.keys(lot.vehicles).sort()).toEqual([...plates].sort());
            expect(lot.occupied).toBe(plates.length);
            for (const p of plates) expect(Object.getOwnPropertyDescriptor(lot.vehicles, p)?.value).toMatchObject({ gate: 2 });
          } finally {
            for (const p of plates) await call(s.url, "POST", "/v1/gates/2/unpark", j({ plate: p }));
            await call(s.url, "POST", "/v1/leave", j({ people }));
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
