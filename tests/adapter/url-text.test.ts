/**
 * A URL whose bytes past ASCII came unescaped reaches the servers as Latin-1
 * text; adapter/url-text.ts reads it as the UTF-8 it is (`café`, not `cafÃ©`),
 * and refuses bytes that are not UTF-8.
 */
import { expect, test } from "bun:test";
import { latin1AsUtf8 } from "../../adapter/url-text.ts";

const asLatin1 = (s: string) => Buffer.from(s, "utf8").toString("latin1");

test("ASCII is returned as is; UTF-8 bytes read as Latin-1 are read again as the text they spell", () => {
  const ascii = "http://h/v1/who-is-in?room=caf%C3%A9";
  expect(latin1AsUtf8(ascii)).toBe(ascii);
  for (const t of ["café", "zoë", "😀 room", "日本語", "ß"]) expect(latin1AsUtf8(asLatin1(`/v1/who-is-in?room=${t}`))).toBe(`/v1/who-is-in?room=${t}`);
});

test("bytes that are not UTF-8 (a lone é byte, 0xff, a cut sequence) and characters past Latin-1 are refused (null)", () => {
  expect(latin1AsUtf8("/x?room=caf\u00e9")).toBeNull(); // the single byte 0xe9
  expect(latin1AsUtf8("/x/\u00ff")).toBeNull();
  expect(latin1AsUtf8(asLatin1("é").slice(0, 1))).toBeNull();
  expect(latin1AsUtf8("/x?room=\u0100")).toBeNull();
});
