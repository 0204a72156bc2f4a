/**
 * Names of rooms, people and plates: 1 to 255 characters, no control
 * characters (CONTRACT.md, "Names"). Plates may contain spaces.
 */
import { RoomyError } from "./errors.ts";

export const MAX_NAME_LENGTH = 255;

// C0, DEL and C1 controls, plus line/paragraph separators that break lists.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `name` is not a valid name, or null when it is. */
export function nameProblem(name: unknown): string | null {
  if (typeof name !== "string") return "must be a string";
  if (name.length === 0) return "must not be empty";
  if (printableAscii(name)) return null;
  // Count code points, not UTF-16 units, so an emoji is one character.
  let n = 0;
  for (const _ of name) {
    if (++n > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters`;
  }
  if (CONTROL.test(name)) return "must not contain control characters";
  // A lone surrogate becomes U+FFFD on the wire: replicas would hold two keys.
  if (LONE_SURROGATE.test(name)) return "must be well-formed Unicode (no lone surrogates)";
  return null;
}

/** Short and printable ASCII only: the common case, valid at a glance (no iterator, no regex). */
function printableAscii(name: string): boolean {
  if (name.length > MAX_NAME_LENGTH) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** Returns `name` if valid; throws `invalid_name` naming what it is. */
export function validateName(kind: string, name: unknown): string {
  const problem = nameProblem(name);
  if (problem !== null) {
    if (typeof name !== "string") throw new RoomyError("invalid_name", `${kind} name ${problem}, got ${typeOf(name)}`);
    // A long name is shown cut, and said so.
    const shown = name.length > 40 ? `${quoted(name.slice(0, 40) + "…")} (${[...name].length} characters)` : quoted(name);
    throw new RoomyError("invalid_name", `${kind} name ${shown} ${problem}`);
  }
  return name as string;
}

/** JSON's quoting, with every control character escaped too (JSON leaves DEL, C1 and U+2028/9 raw: they break a terminal's or a log's lines). */
const quoted = (s: string): string =>
  JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

const typeOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`);

/** Validates a list of names (non-empty); returns the same array, now known to hold names. */
export function validateNames(kind: string, names: unknown): string[] {
  if (!Array.isArray(names) || names.length === 0) {
    throw new RoomyError("invalid_name", `expected one or more ${kind} names`);
  }
  for (let i = 0; i < names.length; i++) validateName(kind, names[i]);
  return names as string[];
}
