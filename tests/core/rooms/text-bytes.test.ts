import { expect, test } from "bun:test";
import { textsToBytes, utf8Length } from "../../../core/rooms/text-bytes.ts";

const texts = ['["a","b"]', null, '["é","😀"]', "[]", '["\\u2028x"]', null];

test("room texts go into one UTF-8 buffer, each one's bytes in order and its length beside it, non-ASCII and empty rooms included", () => {
  const { bytes, lengths } = textsToBytes(texts);
  expect(lengths).toEqual(texts.map((t) => (t === null ? null : new TextEncoder().encode(t).length)));
  expect(bytes.length).toBe(new TextEncoder().encode(texts.filter((t) => t !== null).join("")).length);
  let at = 0;
  const back = lengths.map((n) => (n === null ? null : new TextDecoder().decode(bytes.subarray(at, (at += n)))));
  expect(back).toEqual(texts);
});

test("utf8Length counts what TextEncoder writes, lone surrogates as U+FFFD", () => {
  for (const s of ["", "abc", "é", "€", "😀", "a\ud800b", "\udc00", "x😀y\ud83d"]) expect({ s, n: utf8Length(s) }).toEqual({ s, n: new TextEncoder().encode(s).length });
});
