import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Encoder } from "cbor-x/encode";
import { Decoder } from "cbor-x/decode";
import { CborWriter, MAX_DEPTH } from "../../../core/cbor/write.ts";
import { CborError, CborReader } from "../../../core/cbor/read.ts";

const cborx = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const cborxDec = new Decoder({ useRecords: false, mapsAsObjects: true });

function write(v: unknown): Uint8Array {
  const w = new CborWriter(8); // tiny, so growth is exercised
  w.value(v);
  return w.finish();
}
function read(b: Uint8Array): unknown {
  const r = new CborReader(b);
  const v = r.value();
  expect(r.done).toBe(true);
  return v;
}

// JSON-like values; doubles include -0, NaN and infinities.
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double(),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: "grapheme-ascii" }), tie("value"), { maxKeys: 5 }),
  ),
})).value;

// Lone surrogates become U+FFFD in UTF-8; compare against that.
const fixSurrogates = (s: string): string => new TextDecoder().decode(new TextEncoder().encode(s));
const wellFormed = (v: unknown): unknown => {
  if (typeof v === "string") return fixSurrogates(v);
  if (Array.isArray(v)) return v.map(wellFormed);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [fixSurrogates(k), wellFormed(x)]));
  }
  return v;
};

const noNegZero = (v: unknown): unknown => {
  if (Object.is(v, -0)) return 0;
  if (Array.isArray(v)) return v.map(noNegZero);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, noNegZero(x)]));
  return v;
};

describe("CBOR writer and reader", () => {
  test("round-trip JSON-like values (property)", () => {
    fc.assert(
      fc.property(jsonish, (v) => {
        expect(read(write(v))).toEqual(wellFormed(v));
      }),
      { numRuns: 500 },
    );
  });

  test("cbor-x reads what we write, and we read what cbor-x writes (property)", () => {
    fc.assert(
      fc.property(jsonish, (v) => {
        const w = wellFormed(v);
        // cbor-x assigns a "__proto__" key (so drops it); we keep it as data.
        fc.pre(!JSON.stringify(w ?? null).includes('"__proto__"'));
        expect(cborxDec.decode(write(w))).toEqual(w);
        // cbor-x writes -0 as the integer 0
        expect(read(cborx.encode(w))).toEqual(noNegZero(w));
      }),
      { numRuns: 500 },
    );
  });

  test("string heads at every size boundary", () => {
    for (const n of [0, 23, 24, 255, 256, 1024, 1025, 65535, 65536]) {
      for (const s of ["a".repeat(n), "é".repeat(n), "\u{1F600}".repeat(n >> 1)]) {
        const b = write(s);
        expect(read(b)).toBe(s);
        expect(cborxDec.decode(b)).toBe(s);
      }
    }
  });

  test("a big input reads strings of every length, ASCII or not, exactly (its fast paths included)", () => {
    // Over 4 KiB, the reader takes ASCII strings from a latin1 view of the input where the runtime has one.
    const strings: string[] = [];
    for (let n = 0; n <= 300; n++) {
      strings.push("k".repeat(n), "\u007f".repeat(n), `${"a".repeat(n)}é`, `é${"z".repeat(n)}`, `${"x".repeat(n)}\u{1F600}`);
    }
    const list = [...strings, { [strings[40]!]: strings[41], long: strings[500] }];
    const b = write(list);
    expect(b.length).toBeGreaterThan(4096);
    // Read from inside a bigger buffer too, at an odd offset.
    const framed = new Uint8Array(b.length + 7);
    framed.set(b, 3);
    expect(read(framed.subarray(3, 3 + b.length))).toEqual(list);
    const back = read(b) as unknown[];
    expect(back).toEqual(list);
    // Each string is its own copy: changing the input afterwards changes nothing read from it.
    b.fill(0x61);
    expect(back).toEqual(list);
    expect(cborxDec.decode(write(list))).toEqual(list);
  });

  test("integers at every head boundary, and beyond 32 bits as cbor-x writes them", () => {
    for (const n of [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      for (const x of [n, -n - 1]) {
        expect(read(write(x))).toBe(x);
        expect(cborxDec.decode(write(x))).toBe(x);
        expect(read(cborx.encode(x))).toBe(x);
      }
    }
  });

  test("refuses to write a cycle", () => {
    const a: unknown[] = [];
    a.push(a);
    expect(() => write(a)).toThrow(RangeError);
  });

  test("refuses to read nesting deeper than the limit", () => {
    let v: unknown = 0;
    for (let i = 0; i < MAX_DEPTH + 5; i++) v = [v];
    expect(() => read(cborx.encode(v))).toThrow(CborError);
  });

  test("indefinite lengths and tags are read through cbor-x", () => {
    // [_ 1, "ab"] then {_ "a": 1}, then tag 1 (epoch date)
    expect(read(new Uint8Array([0x9f, 0x01, 0x62, 0x61, 0x62, 0xff]))).toEqual([1, "ab"]);
    expect(read(new Uint8Array([0xbf, 0x61, 0x61, 0x01, 0xff]))).toEqual({ a: 1 });
    expect(read(new Uint8Array([0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00]))).toEqual(new Date(0x6553f100 * 1000));
  });

  test("maps with non-text keys are read as cbor-x reads them", () => {
    const bytes = new Uint8Array([0xa2, 0x01, 0x61, 0x61, 0x61, 0x62, 0x02]); // {1: "a", "b": 2}
    expect(read(bytes)).toEqual(cborxDec.decode(bytes));
  });

  test("truncated input is an error, never a partial value", () => {
    const b = write({ list: [1, 2, 3], name: "x".repeat(40), nested: { deep: [true, null, 1.5] } });
    for (let n = 0; n < b.length; n++) expect(() => read(b.subarray(0, n))).toThrow();
  });
});

describe("CBOR writer: plain objects", () => {
  test("objects of 0, 23, 24, 255, 256 and 70,000 keys round-trip (here and through cbor-x) with the shortest map head, growing mid-object", () => {
    const heads: Record<number, string> = { 0: "a0", 23: "b7", 24: "b818", 255: "b8ff", 256: "b90100", 70_000: "ba00011170" };
    for (const n of [0, 23, 24, 255, 256, 70_000]) {
      const o: Record<string, number> = {};
      for (let i = 0; i < n; i++) o[`key${i}`] = i;
      const bytes = write({ outer: [o, "after"] });
      expect(read(bytes)).toEqual({ outer: [o, "after"] });
      expect(cborxDec.decode(bytes)).toEqual({ outer: [o, "after"] });
      // a1 (map of 1) 65 "outer" 82 (array of 2), then the object's head
      const head = heads[n]!;
      expect(Buffer.from(bytes.subarray(8, 8 + head.length / 2)).toString("hex")).toBe(head);
    }
  });

  test("an enumerable property added to Object.prototype is not written as a key of every object", () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto["polluted"] = 1;
    try {
      const bytes = write({ a: 1, b: { c: 2 } });
      delete proto["polluted"];
      expect(read(bytes)).toEqual({ a: 1, b: { c: 2 } });
      expect(Object.keys(read(bytes) as object)).toEqual(["a", "b"]);
    } finally {
      delete proto["polluted"];
    }
  });
});
