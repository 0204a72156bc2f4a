/** Request bodies: measured in UTF-8 bytes, whatever way they are read. */
import { describe, expect, test } from "bun:test";
import { readJson, utf8Length } from "../../http/body.ts";

const post = (body: string | Uint8Array<ArrayBuffer>) => new Request("http://x/", { method: "POST", body });

describe("utf8Length", () => {
  test("counts the bytes TextEncoder would write, for ASCII, 2-, 3- and 4-byte characters and lone surrogates", () => {
    const samples = ["", "abc", "é", "€", "😀", "a😀b€é", "\ud800", "x\udc00y", "\ud83d", "€".repeat(1000)];
    for (const s of samples) expect({ s, n: utf8Length(s) }).toEqual({ s, n: new TextEncoder().encode(s).length });
  });
});

describe("readJson", () => {
  for (const capped of [false, true]) {
    test(`a body at the limit in bytes passes, one byte more is payload_too_large (${capped ? "read whole" : "counted"})`, async () => {
      const body = JSON.stringify({ k: "€".repeat(10) }); // 8 + 30 bytes
      const bytes = new TextEncoder().encode(body).length;
      expect(await readJson(post(body), bytes, capped)).toEqual({ k: "€".repeat(10) });
      await expect(readJson(post(body), bytes - 1, capped)).rejects.toMatchObject({ code: "payload_too_large" });
    });

    test(`bad UTF-8 and U+FFFD are both bad_request (${capped ? "read whole" : "counted"})`, async () => {
      await expect(readJson(post(new Uint8Array([0x7b, 0xff, 0x7d])), 100, capped)).rejects.toMatchObject({ code: "bad_request" });
      await expect(readJson(post('{"a":"\ufffd"}'), 100, capped)).rejects.toMatchObject({ code: "bad_request" });
    });
  }
});
