import { describe, expect, test } from "bun:test";
import { MAX_NAME_LENGTH, nameProblem, validateName, validateNames } from "../../core/names.ts";
import { RoomyError } from "../../core/errors.ts";

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof RoomyError ? e.code : "not a RoomyError";
  }
  return undefined;
}

describe("names", () => {
  test("accepts ordinary names, plates with spaces and unicode", () => {
    for (const n of ["kitchen", "ABC 123", "2FAST4U", "salle à manger", "部屋", "a"]) {
      expect(nameProblem(n)).toBeNull();
      expect(validateName("room", n)).toBe(n);
    }
  });

  test("refuses the empty name", () => {
    expect(nameProblem("")).toMatch(/empty/);
    expect(codeOf(() => validateName("room", ""))).toBe("invalid_name");
  });

  test("255 code points pass, 256 fail", () => {
    expect(MAX_NAME_LENGTH).toBe(255);
    expect(nameProblem("x".repeat(255))).toBeNull();
    expect(nameProblem("x".repeat(256))).toMatch(/at most 255/);
    expect(codeOf(() => validateName("person", "x".repeat(256)))).toBe("invalid_name");
  });

  test("an emoji counts as one character, though it is two UTF-16 units", () => {
    const smile = "\u{1F600}";
    expect(smile.length).toBe(2);
    expect(nameProblem(smile.repeat(255))).toBeNull();
    expect(nameProblem(smile.repeat(256))).not.toBeNull();
  });

  test("refuses control characters anywhere", () => {
    for (const n of ["a\nb", "tab\there", "nul\u0000", "del\u007f", "c1\u0085", "ls\u2028", "\u001b[31mred"]) {
      expect(nameProblem(n)).toMatch(/control/);
      expect(codeOf(() => validateName("room", n))).toBe("invalid_name");
    }
  });

  test("refuses non-strings", () => {
    for (const n of [undefined, null, 42, {}, ["a"], true]) {
      expect(nameProblem(n)).toMatch(/string/);
      expect(codeOf(() => validateName("room", n))).toBe("invalid_name");
    }
  });

  test("the error message names the kind and shows the offending name", () => {
    try {
      validateName("plate", "a\nb");
      throw new Error("unreachable");
    } catch (e) {
      expect((e as Error).message).toContain("plate");
      expect((e as Error).message).toContain(JSON.stringify("a\nb"));
    }
  });

  test("validateNames wants a non-empty list of valid names", () => {
    expect(validateNames("person", ["alan", "jess"])).toEqual(["alan", "jess"]);
    expect(codeOf(() => validateNames("person", []))).toBe("invalid_name");
    expect(codeOf(() => validateNames("person", "alan"))).toBe("invalid_name");
    expect(codeOf(() => validateNames("person", ["alan", ""]))).toBe("invalid_name");
  });
});

describe("well-formed unicode", () => {
  test("refuses a lone surrogate, which UTF-8 would turn into U+FFFD and split one key into two", () => {
    expect(nameProblem("bad\uD800name")).toMatch(/lone surrogates/);
    expect(nameProblem("\uDC00")).toMatch(/lone surrogates/);
  });
  test("accepts a proper surrogate pair (an emoji)", () => {
    expect(nameProblem("party \u{1F389}")).toBeNull();
  });
});

describe("what a refusal says", () => {
  const messageOf = (v: unknown): string => {
    try {
      validateName("room", v);
    } catch (e) {
      return (e as Error).message;
    }
    return "accepted";
  };
  test("a name that is not a string says what it was instead", () => {
    expect([null, 1, {}, []].map(messageOf)).toEqual([
      "room name must be a string, got null",
      "room name must be a string, got a number",
      "room name must be a string, got an object",
      "room name must be a string, got an array",
    ]);
  });
  test("a long name is shown cut, with an ellipsis and its length", () => {
    expect(messageOf("a".repeat(300))).toBe(`room name "${"a".repeat(40)}…" (300 characters) must be at most 255 characters`);
    expect(messageOf("\u0001x")).toBe('room name "\\u0001x" must not contain control characters');
  });
});

describe("an invalid name in an error message", () => {
  test("shows every control character escaped (DEL, C1 and U+2028/2029 too, which JSON leaves raw), so the message stays one printable line", () => {
    for (const [bad, shown] of [
      ["a\u2028b", '"a\\u2028b"'],
      ["a\u2029b", '"a\\u2029b"'],
      ["a\u007fb", '"a\\u007fb"'],
      ["a\u0085b", '"a\\u0085b"'],
      ["a\nb", '"a\\nb"'],
    ] as const) {
      let message = "";
      try {
        validateName("room", bad);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toBe(`room name ${shown} must not contain control characters`);
      expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    }
  });
});
