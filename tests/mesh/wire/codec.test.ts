import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Decoder } from "cbor-x/decode";
import { Encoder } from "cbor-x/encode";
import { CODEC_OPTIONS, decode, decodeRange, encode } from "../../../mesh/wire/codec.ts";
import { decodeBody, FrameError, FrameReader } from "../../../mesh/wire/frame.ts";
import { FrameQueue } from "../../../mesh/wire/frame-queue.ts";

const cborx = new Encoder(CODEC_OPTIONS);
const cborxDec = new Decoder(CODEC_OPTIONS);

// What mesh messages carry: JSON-like values and byte strings.
const wireValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double(),
    fc.string({ unit: "grapheme", maxLength: 30 }),
    fc.string({ unit: "grapheme-ascii", maxLength: 80 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie("value"), { maxLength: 6 }),
    fc.dictionary(fc.string({ unit: "grapheme-ascii", maxLength: 12 }).filter((k) => k !== "__proto__"), tie("value"), { maxKeys: 6 }),
  ),
})).value;

const message = fc.record({ t: fc.string({ minLength: 1, maxLength: 4 }), v: wireValue, ch: fc.constantFrom("reg", "repl", "swim") });

/** Byte strings compare as plain arrays (cbor-x may hand back a Buffer); -0 as 0 (cbor-x writes it so). */
function plain(v: unknown): unknown {
  if (Object.is(v, -0)) return 0;
  if (v instanceof Uint8Array) return { bytes: Array.from(v) };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

describe("wire codec", () => {
  test("cbor-x reads what we write, and we read what cbor-x writes (property)", () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(plain(cborxDec.decode(encode(m)))).toEqual(plain(m));
        expect(plain(decode(cborx.encode(m)))).toEqual(plain(m));
        expect(decode(encode(m))).toEqual(m);
      }),
      { numRuns: 400 },
    );
  });

  test("values that are not JSON-like still round-trip, and as cbor-x reads them", () => {
    const m = { t: "x", big: 10n, d: new Date(5), m: new Map<unknown, unknown>([[1, new Uint8Array([1, 2])]]), s: new Set(["a"]) };
    const back = decode(encode(m)) as typeof m;
    expect(back.big).toBe(10n);
    expect(back.d).toEqual(new Date(5));
    expect(Array.from(back.m.get(1) as Uint8Array)).toEqual([1, 2]);
    expect([...back.s]).toEqual(["a"]);
    const theirs = cborxDec.decode(encode(m)) as typeof m;
    expect(theirs.big).toBe(10n);
    expect((decode(cborx.encode(m)) as typeof m).big).toBe(10n);
  });

  test("encoded messages stay intact while later ones are encoded", () => {
    const first = encode({ t: "a", v: "x".repeat(100) });
    const copy = Uint8Array.from(first);
    const later: Uint8Array[] = [];
    // Enough to move past the shared buffer several times, one big message included.
    for (let i = 0; i < 5000; i++) later.push(encode({ t: "b", i, p: "y".repeat(i % 50) }));
    later.push(encode({ t: "big", p: new Uint8Array(200_000) }));
    expect(Array.from(first)).toEqual(Array.from(copy));
    expect((decode(later[1234]!) as { i: number }).i).toBe(1234);
  });

  test("a value that cannot be encoded throws and leaves nothing behind", () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    const before = encode({ t: "a", i: 1 });
    const keep = Uint8Array.from(before);
    expect(() => encode({ t: "x", f: () => 1 })).toThrow();
    expect(() => encode({ t: "x", c: cyclic })).toThrow(RangeError);
    const after = encode({ t: "b", i: 2 });
    expect(decode(after)).toEqual({ t: "b", i: 2 });
    expect(Array.from(before)).toEqual(Array.from(keep));
  });

  test("byte strings are copies, including inside values read through cbor-x", () => {
    const input = encode({ t: "x", b: new Uint8Array([1, 2, 3]), m: new Map([["k", new Uint8Array([4, 5])]]) });
    const back = decode(input) as { b: Uint8Array; m: Map<string, Uint8Array> };
    input.fill(0);
    expect(Array.from(back.b)).toEqual([1, 2, 3]);
    expect(Array.from(back.m.get("k")!)).toEqual([4, 5]);
    const frame = new Uint8Array(64).fill(9);
    const body = encode({ t: "y", b: new Uint8Array([7, 8]) });
    frame.set(body, 10);
    const inFrame = decodeRange(frame, 10, 10 + body.length) as { b: Uint8Array };
    frame.fill(0);
    expect(Array.from(inFrame.b)).toEqual([7, 8]);
  });

  test("every truncation of a valid message is malformed, never a partial value", () => {
    fc.assert(
      fc.property(message, (m) => {
        const bytes = encode(m);
        for (let n = 0; n < bytes.length; n++) {
          expect(() => decodeBody(bytes.subarray(0, n))).toThrow(FrameError);
        }
      }),
      { numRuns: 100 },
    );
  });

  test("trailing bytes after the message are malformed", () => {
    const bytes = encode({ t: "x" });
    expect(() => decodeBody(Uint8Array.of(...bytes, 0))).toThrow(FrameError);
  });

  test("arbitrary bytes decode to a value or throw FrameError, never anything else (fuzz)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        try {
          decodeBody(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
        }
      }),
      { numRuns: 3000 },
    );
    // Lengths that claim more than the input, nesting past the limit, invalid UTF-8.
    for (const bad of [[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x5a, 0x7f, 0xff, 0xff, 0xff], [0x62, 0xc3, 0x28], new Array(300).fill(0x81)]) {
      expect(() => decodeBody(Uint8Array.from(bad))).toThrow(FrameError);
    }
  });
});

describe("FrameQueue", () => {
  const frames = (q: FrameQueue, max = Infinity): { bytes: Uint8Array; count: number } => {
    const count = new Uint32Array(1);
    const bytes = q.take(max, count);
    return { bytes: Uint8Array.from(bytes), count: count[0]! };
  };
  const read = (bytes: Uint8Array): unknown[] => {
    const out: unknown[] = [];
    new FrameReader().push(bytes, (b) => out.push(decode(b)));
    return out;
  };

  test("queued messages come out as the frames a FrameReader reads back, in order", () => {
    const q = new FrameQueue(64); // tiny: growth is exercised
    const msgs = Array.from({ length: 50 }, (_, i) => ({ t: "m", i, p: "z".repeat(i * 3) }));
    for (const m of msgs) expect(q.push(m, 1 << 20, 1 << 20)).toBe("queued");
    expect(q.queuedFrames).toBe(50);
    const { bytes, count } = frames(q);
    expect(count).toBe(50);
    expect(read(bytes)).toEqual(msgs);
    expect(q.queuedFrames).toBe(0);
    expect(q.queuedBytes).toBe(0);
  });

  test("take splits at frame boundaries under the byte limit, always at least one frame", () => {
    const q = new FrameQueue();
    for (let i = 0; i < 10; i++) q.push({ t: "m", i, p: "x".repeat(100) }, 1 << 20, 1 << 20);
    const got: unknown[] = [];
    let takes = 0;
    while (q.queuedFrames > 0 && takes < 100) {
      const { bytes, count } = frames(q, 250);
      expect(count).toBeGreaterThanOrEqual(1);
      expect(count === 1 || bytes.length <= 250).toBe(true);
      got.push(...read(bytes));
      takes++;
    }
    expect(got.map((m) => (m as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(takes).toBeGreaterThan(1);
  });

  test("refuses a body over the frame limit or past the queue limit, queuing nothing", () => {
    const q = new FrameQueue();
    expect(q.push({ t: "big", p: "x".repeat(500) }, 100, 1 << 20)).toBe("oversized");
    expect(q.lastBodyBytes).toBeGreaterThan(100);
    expect(q.push({ t: "a" }, 100, 1 << 20)).toBe("queued");
    const size = q.queuedBytes;
    expect(q.push({ t: "b", p: "y".repeat(40) }, 1000, size + 10)).toBe("full");
    expect(q.queuedFrames).toBe(1);
    expect(read(frames(q).bytes)).toEqual([{ t: "a" }]);
  });

  test("a message that cannot be encoded throws and leaves the queue as it was", () => {
    const q = new FrameQueue();
    q.push({ t: "a" }, 1000, 1000);
    expect(() => q.push({ t: "f", f: () => 1 }, 1000, 1000)).toThrow();
    expect(q.queuedFrames).toBe(1);
    expect(read(frames(q).bytes)).toEqual([{ t: "a" }]);
  });

  test("dropLast takes back the message just queued; clear drops all; absorb moves another queue's frames", () => {
    const q = new FrameQueue();
    q.push({ t: "a" }, 1000, 1000);
    q.push({ t: "b" }, 1000, 1000);
    q.dropLast();
    expect(q.queuedFrames).toBe(1);
    const other = new FrameQueue();
    other.push({ t: "c" }, 1000, 1000);
    other.push({ t: "d" }, 1000, 1000);
    q.absorb(other);
    expect(other.queuedFrames).toBe(0);
    expect(q.queuedFrames).toBe(3);
    const bytes = frames(q).bytes;
    expect(read(bytes)).toEqual([{ t: "a" }, { t: "c" }, { t: "d" }]);
    expect(q.queuedBytes).toBe(0);
    q.push({ t: "e" }, 1000, 1000);
    expect(q.clear()).toBe(1);
    expect(q.queuedFrames).toBe(0);
  });

  test("frames already handed out are never written over by later pushes", () => {
    const q = new FrameQueue(128);
    q.push({ t: "first", p: "a".repeat(50) }, 1 << 20, 1 << 20);
    const count = new Uint32Array(1);
    const view = q.take(Infinity, count);
    const copy = Uint8Array.from(view);
    for (let i = 0; i < 200; i++) q.push({ t: "m", i }, 1 << 20, 1 << 20);
    expect(Array.from(view)).toEqual(Array.from(copy));
  });
});
