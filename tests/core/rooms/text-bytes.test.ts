import { expect, test } from "bun:test";
import { bytesToSlices, bytesToText, textsToBytes, utf8Length } from "../../../core/rooms/text-bytes.ts";
import { OccupancyMerge } from "../../../core/rooms/occupancy-merge.ts";

const texts = ['["a","b"]', null, '["é","😀"]', "[]", '["\\u2028x"]', null];

test("room texts go into one UTF-8 buffer and come back slice by slice, non-ASCII and empty rooms included", () => {
  const { bytes, lengths } = textsToBytes(texts);
  expect(lengths).toEqual(texts.map((t) => (t === null ? null : new TextEncoder().encode(t).length)));
  expect(bytes.length).toBe(new TextEncoder().encode(texts.filter((t) => t !== null).join("")).length);
  const slices = bytesToSlices(bytes, lengths)!;
  expect(slices.map((s) => (s === null ? null : bytesToText(s)))).toEqual(texts);
});

test("utf8Length counts what TextEncoder writes, lone surrogates as U+FFFD", () => {
  for (const s of ["", "abc", "é", "€", "😀", "a\ud800b", "\udc00", "x😀y\ud83d"]) expect({ s, n: utf8Length(s) }).toEqual({ s, n: new TextEncoder().encode(s).length });
});

test("lengths that overrun the buffer, leave bytes over, or bytes that are not UTF-8 make no answer (null)", () => {
  const { bytes, lengths } = textsToBytes(['["a"]', '["b"]']);
  expect(bytesToSlices(bytes, [5, 6])).toBeNull();
  expect(bytesToSlices(bytes, [5, 4])).toBeNull();
  expect(bytesToSlices(bytes, lengths)).not.toBeNull();
  // Not a whole number: that room has no text, the rest still line up.
  expect(bytesToSlices(bytes, [5, "x", 5])!.map((s) => s?.length ?? null)).toEqual([5, null, 5]);
  expect(bytesToSlices(new Uint8Array([0x5b, 0xff, 0x5d]), [3])).toBeNull();
});

test("a merge answered in bytes gives them back as bytes, as text and as names, and names the buffer to free", () => {
  const m = new OccupancyMerge(["r1", "r2"], { anyChanged: () => false, changed: () => false, sameHere: () => true, keyRoom: () => undefined, startRoom: () => undefined });
  const { bytes, lengths } = textsToBytes(['["al","bo"]', '["é"]']);
  const [a, b] = bytesToSlices(bytes, lengths)!;
  m.addBytes(0, a!);
  m.addBytes(1, b!);
  m.hold(bytes);
  expect(m.outstanding).toBe(0);
  expect(m.roomBytes(0)).toBe(a!);
  expect(m.roomJson(1)).toBe('["é"]');
  expect(m.jsonOf(0, 2)).toBe('"r1":["al","bo"],"r2":["é"]');
  const out: Record<string, string[]> = {};
  m.writeInto(out, 0, 2);
  expect(out).toEqual({ r1: ["al", "bo"], r2: ["é"] });
  expect(m.buffers()).toEqual([bytes]);
  expect(m.textRooms()).toEqual([0, 1]);
});
