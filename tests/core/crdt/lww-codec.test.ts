import { describe, expect, test } from "bun:test";
import { Encoder } from "cbor-x/encode";
import { Decoder } from "cbor-x/decode";
import { decodeDelta, deltaFromWire, deltaToWire, encodeDelta, FORMAT } from "../../../core/crdt/lww-codec.ts";
import { type Delta, LwwMap } from "../../../core/crdt/lww-map.ts";
import { RoomyError } from "../../../core/errors.ts";
import type { Timestamp } from "../../../core/crdt/hlc.ts";

const ts = (w: number, c = 0, n = "node-a"): Timestamp => ({ w, c, n });
const cborx = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const cborxDec = new Decoder({ useRecords: false, mapsAsObjects: true });
const roundTrip = (d: Delta) => decodeDelta(encodeDelta(d));

function badRequest(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof RoomyError && e.code === "bad_request") return e.message;
    throw new Error(`expected bad_request, got ${String(e)}`);
  }
  throw new Error("expected bad_request, got success");
}

const sample: Delta = {
  e: [
    { k: "person/alan", ts: ts(1_700_000_000_000, 0), v: "kitchen" },
    { k: "room/kitchen", ts: ts(1_700_000_000_000, 1), v: { capacity: 3 } },
    { k: "person/jess", ts: ts(1_700_000_000_500, 0, "node-b"), d: true },
    { k: "vehicle/ABC 123", ts: ts(1_700_000_001_000, 7, "node-c"), v: { gate: 1, at: "2024-01-01T00:00:00Z", node: "n1" } },
    { k: "nothing", ts: ts(1_699_999_999_000, 3), v: null },
  ],
};

describe("delta encoding round trip", () => {
  test("preserves values, tombstones, nulls and timestamps", () => {
    expect(roundTrip(sample)).toEqual(sample);
  });

  test("an empty delta", () => {
    expect(roundTrip({ e: [] })).toEqual({ e: [] });
  });

  test("unicode keys and values: accents, CJK, emoji, a leading BOM", () => {
    const keys = ["person/zoë", "room/部屋", "person/\u{1F600}\u{1F680}", "\uFEFFbom", "x".repeat(300), "é".repeat(70_000)];
    const d: Delta = { e: keys.map((k, i) => ({ k, ts: ts(i), v: `${k}!` })) };
    expect(roundTrip(d)).toEqual(d);
  });

  test("a lone surrogate becomes U+FFFD, as in any UTF-8 encoder", () => {
    const out = roundTrip({ e: [{ k: "a\uD800b", ts: ts(1), v: 1 }] });
    expect(out.e[0]!.k).toBe("a\uFFFDb");
  });

  test("JSON-like values of every kind", () => {
    const values: unknown[] = [
      0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER,
      -1, -24, -25, -256, -257, -(2 ** 32), Number.MIN_SAFE_INTEGER,
      0.5, 0.1, -2.75, 1e300, 3.4e38, 2 ** 60, Infinity, -Infinity,
      true, false, "", "s", [], [1, [2, [3]]], {}, { a: { b: { c: [null, true] } } },
      { "": 1, "with space": 2, "ключ": 3 },
    ];
    const d: Delta = { e: values.map((v, i) => ({ k: `k${i}`, ts: ts(i), v })) };
    expect(roundTrip(d)).toEqual(d);
  });

  test("NaN and negative zero survive", () => {
    const out = roundTrip({ e: [{ k: "a", ts: ts(1), v: [NaN, -0] }] });
    const [nan, negZero] = out.e[0]!.v as number[];
    expect(Number.isNaN(nan)).toBe(true);
    expect(Object.is(negZero, -0)).toBe(true);
  });

  test("a __proto__ key in a value stays plain data", () => {
    const v = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}');
    const out = roundTrip({ e: [{ k: "a", ts: ts(1), v }] }).e[0]!.v as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(["__proto__", "ok"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("values beyond JSON go through cbor-x: bytes, dates, bigints", () => {
    const bytes = new Uint8Array([1, 2, 3, 255]);
    const date = new Date("2024-05-06T07:08:09.010Z");
    const out = roundTrip({
      e: [
        { k: "b", ts: ts(1), v: bytes },
        { k: "d", ts: ts(2), v: { at: date } },
        { k: "n", ts: ts(3), v: 2n ** 70n },
      ],
    });
    expect(out.e[0]!.v).toEqual(bytes);
    expect((out.e[1]!.v as { at: Date }).at.getTime()).toBe(date.getTime());
    expect(out.e[2]!.v).toBe(2n ** 70n);
  });

  test("undefined as a value is carried as null (never as a tombstone)", () => {
    const out = roundTrip({ e: [{ k: "a", ts: ts(1), v: undefined }] });
    expect(out.e[0]).toEqual({ k: "a", ts: ts(1), v: null });
  });

  test("many writers go into one table, walls far apart stay exact", () => {
    const d: Delta = {
      e: Array.from({ length: 200 }, (_, i) => ({ k: `k${i}`, ts: ts(i * 1_000_003_123, i * 97, `w${i % 13}`), v: i })),
    };
    expect(roundTrip(d)).toEqual(d);
    const wire = deltaToWire(d) as [number, string[], number, unknown[]];
    expect(wire[1].length).toBe(13);
    expect(wire[2]).toBe(0);
  });

  test("writers switching at every entry, more of them than the decoder keeps at hand, each entry keeps its own", () => {
    const d: Delta = {
      e: Array.from({ length: 600 }, (_, i) => ({ k: `k${i}`, ts: ts(5_000 + (i % 3), i % 5, `node-${(i * i + 3 * i) % 11}-member`), v: i })),
    };
    // Twice: the second decode finds every writer already known.
    expect(roundTrip(d)).toEqual(d);
    expect(roundTrip(d)).toEqual(d);
  });

  test("encoding is compact: wall times are relative to the smallest", () => {
    const m = new LwwMap();
    for (let i = 0; i < 1000; i++) m.set(`person/p${i}`, { room: `r${i % 10}` }, ts(1_700_000_000_000 + i));
    const bytes = encodeDelta(m.state());
    expect(bytes.length).toBeLessThan(1000 * 30);
  });

  test("refuses to encode timestamps the wire cannot carry", () => {
    expect(() => encodeDelta({ e: [{ k: "a", ts: ts(1.5), v: 1 }] })).toThrow(RangeError);
    expect(() => encodeDelta({ e: [{ k: "a", ts: ts(-1), v: 1 }] })).toThrow(RangeError);
    expect(() => encodeDelta({ e: [{ k: "a", ts: ts(1, -1), v: 1 }] })).toThrow(RangeError);
  });
});

describe("interoperability with cbor-x", () => {
  test("cbor-x reads our bytes as the documented wire form", () => {
    expect(cborxDec.decode(encodeDelta(sample))).toEqual(deltaToWire(sample));
  });

  test("we read what cbor-x writes", () => {
    expect(decodeDelta(cborx.encode(deltaToWire(sample)))).toEqual(sample);
    expect(deltaFromWire(cborxDec.decode(encodeDelta(sample)))).toEqual(sample);
  });

  test("the wire form says its format", () => {
    expect(FORMAT).toBe(2);
    expect((deltaToWire(sample) as unknown[])[0]).toBe(2);
  });
});

describe("malformed deltas are refused with bad_request", () => {
  const good = encodeDelta(sample);

  test("every truncation of a valid delta", () => {
    for (let n = 0; n < good.length; n++) badRequest(() => decodeDelta(good.subarray(0, n)));
  });

  test("trailing bytes after a valid delta", () => {
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(badRequest(() => decodeDelta(longer))).toMatch(/trailing/);
  });

  test("bytes that are not CBOR at all", () => {
    badRequest(() => decodeDelta(new TextEncoder().encode("{\"e\":[]}")));
    badRequest(() => decodeDelta(new Uint8Array([0xff])));
    badRequest(() => decodeDelta(new Uint8Array([0x1c]))); // reserved additional info
    badRequest(() => decodeDelta(new Uint8Array([0x9f, 0x02, 0xff]))); // indefinite top-level array
  });

  test("random bytes never crash the decoder", () => {
    let seed = 99;
    for (let t = 0; t < 2000; t++) {
      const b = new Uint8Array(1 + (t % 64));
      for (let i = 0; i < b.length; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        b[i] = seed >>> 24;
      }
      // A random prefix of a valid header makes it likelier to get deep.
      if (t % 2) b.set(good.subarray(0, Math.min(b.length, 1 + (t % 12))));
      try {
        decodeDelta(b);
      } catch (e) {
        expect(e).toBeInstanceOf(RoomyError);
        expect((e as RoomyError).code).toBe("bad_request");
      }
    }
  });

  const wireCases: [string, unknown][] = [
    ["not an array", { e: [] }],
    ["wrong length", [FORMAT, [], 0]],
    ["unknown format", [1, [], 0, []]],
    ["writers not strings", [FORMAT, [1], 0, []]],
    ["writers not a list", [FORMAT, "a", 0, []]],
    ["negative base", [FORMAT, ["a"], -1, []]],
    ["fractional base", [FORMAT, ["a"], 0.5, []]],
    ["entries not 5-tuples", [FORMAT, ["a"], 0, ["k", 0, 0, 0]]],
    ["key not a string", [FORMAT, ["a"], 0, [7, 0, 0, 0, 1]]],
    ["negative wall", [FORMAT, ["a"], 0, ["k", -1, 0, 0, 1]]],
    ["fractional wall", [FORMAT, ["a"], 0, ["k", 1.5, 0, 0, 1]]],
    ["wall beyond 2^53", [FORMAT, ["a"], 2 ** 52, ["k", 2 ** 52 + 8, 0, 0, 1]]],
    ["negative counter", [FORMAT, ["a"], 0, ["k", 0, -1, 0, 1]]],
    ["counter a string", [FORMAT, ["a"], 0, ["k", 0, "1", 0, 1]]],
    ["writer index out of range", [FORMAT, ["a"], 0, ["k", 0, 0, 1, 1]]],
    ["writer index negative", [FORMAT, ["a"], 0, ["k", 0, 0, -1, 1]]],
  ];
  for (const [name, wire] of wireCases) {
    test(`${name} (bytes and wire form)`, () => {
      badRequest(() => decodeDelta(cborx.encode(wire)));
      badRequest(() => deltaFromWire(wire));
    });
  }

  test("invalid UTF-8 in a key", () => {
    const ok = encodeDelta({ e: [{ k: "ab", ts: ts(1), v: 1 }] });
    const i = ok.indexOf(0x61); // 'a'
    const bad = ok.slice();
    bad[i] = 0xc3; // a lead byte followed by 'b': not UTF-8
    expect(badRequest(() => decodeDelta(bad))).toMatch(/UTF-8/);
  });

  test("an array claiming more items than there are bytes", () => {
    // [2, [...], 0, <array of 2^32-1 items>] with nothing after
    const b = new Uint8Array([0x84, 0x02, 0x80, 0x00, 0x9a, 0xff, 0xff, 0xff, 0xff]);
    badRequest(() => decodeDelta(b));
  });

  test("a value nested too deep", () => {
    let v: unknown = 1;
    for (let i = 0; i < 1000; i++) v = [v];
    const bytes = cborx.encode([FORMAT, ["a"], 0, ["k", 0, 0, 0, v]]);
    badRequest(() => decodeDelta(bytes));
  });

  test("nothing is merged from a malformed delta", () => {
    const m = new LwwMap();
    m.set("keep", 1, ts(1));
    const before = m.digest();
    // A valid first entry followed by a broken second one.
    const bytes = cborx.encode([FORMAT, ["a"], 0, ["new", 5, 0, 0, 1, "k2", -1, 0, 0, 2]]);
    badRequest(() => m.merge(decodeDelta(bytes)));
    expect(m.has("new")).toBe(false);
    expect(m.digest()).toEqual(before);
  });
});

describe("decoding shares stamps", () => {
  test("entries of one write share one Timestamp object; a new stamp gets a new one, with its own values", () => {
    const m = new LwwMap();
    const one: Timestamp = { w: 1000, c: 2, n: "w1" };
    // The writes' deltas in write order (a map's state goes bucket by bucket).
    const writes = [m.setMany(["a", "b", "c"], [1, 2, 3], one), m.set("d", 4, { w: 1000, c: 3, n: "w1" }), m.set("e", 5, { w: 1000, c: 3, n: "w2" })];
    const d = decodeDelta(encodeDelta({ e: writes.flatMap((x) => x.e) }));
    const [a, b, c, dd, e] = d.e;
    expect(a!.ts).toBe(b!.ts);
    expect(b!.ts).toBe(c!.ts);
    expect(a!.ts).toEqual(one);
    expect(dd!.ts).not.toBe(c!.ts);
    expect(dd!.ts).toEqual({ w: 1000, c: 3, n: "w1" });
    expect(e!.ts).toEqual({ w: 1000, c: 3, n: "w2" });
  });
});

describe("decoding shares stamps across deltas", () => {
  test("the keys of one write decoded from different deltas share one Timestamp object", () => {
    const one: Timestamp = { w: 1_700_000_000_123, c: 4, n: "w-shared" };
    const a = decodeDelta(encodeDelta({ e: [{ k: "a", ts: one, v: 1 }] }));
    const b = decodeDelta(encodeDelta({ e: [{ k: "zz", ts: { ...one }, v: 2 }, { k: "y", ts: { w: 1, c: 0, n: "other" }, v: 3 }] }));
    expect(b.e[0]!.ts).toBe(a.e[0]!.ts);
    expect(b.e[1]!.ts).not.toBe(a.e[0]!.ts);
    const c = deltaFromWire(deltaToWire({ e: [{ k: "q", ts: { ...one }, v: 4 }] }));
    expect(c.e[0]!.ts).toBe(a.e[0]!.ts);
  });
});
