/**
 * A room's people as one replica's index holds them, for a dump: copied
 * without making a string per person (a room without a capacity keeps its
 * people's map keys, PERSON_PREFIX + name: `keyed`), a fingerprint of the
 * list (an owner node answers a dump with it instead of the names, and the
 * names travel only when the dumping node's own list differs), and the list
 * as JSON text written from the keys.
 */
import { fmix32 } from "../hash.ts";
import { PERSON_PREFIX } from "./keys.ts";

const P = PERSON_PREFIX.length;

/** Sorted people of one room: person keys when `keyed`, else names. The array is the holder's own (a copy of the index's). */
export interface OccupantList {
  people: readonly string[];
  keyed: boolean;
}

export const NO_ONE: OccupantList = Object.freeze({ people: Object.freeze([]) as readonly string[], keyed: false });

/** The name of entry `s` of a list (keyed or not). */
export function nameAt(s: string, keyed: boolean): string {
  return keyed ? s.slice(P) : s;
}

/**
 * A 53-bit fingerprint of the names (in order), equal for equal lists
 * whether keyed or not. Two independent 32-bit hashes (FNV-1a, and a
 * murmur-style multiply-rotate) over every character, with a separator no
 * name holds (names have no control characters) and the count: a dump takes
 * an owner's list as equal to its own on a match, so a chance collision is
 * about 1 in 2^53 per room whose lists differ. `seed` (a dump's own random
 * 32 bits, never shown to clients) starts both hashes, so names chosen to
 * collide under one dump's fingerprint do not collide under the next's.
 */
export function occupantsHash(people: readonly string[], keyed: boolean, seed = 0): number {
  const from = keyed ? P : 0;
  let a = 0x811c9dc5 ^ seed;
  let b = fmix32(0x3c6ef372 ^ seed);
  for (let j = 0; j < people.length; j++) {
    const s = people[j]!;
    for (let i = from; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    a = Math.imul(a, 0x01000193); // the separator (0)
    b = Math.imul(b ^ 0x9e3779b9, 0x5bd1e995);
  }
  a = fmix32(a ^ people.length);
  b = fmix32(b ^ Math.imul(people.length, 0x85ebca6b));
  return (a & 0x1fffff) * 4294967296 + b;
}

/**
 * The list as JSON text (an array of names), as JSON.stringify(names) writes
 * it. The names joined natively, and each joint (and, keyed, each key's
 * prefix) replaced by `","`: about twice as fast as stringifying a million
 * keys and cutting their prefixes out. JOINT (DEL) is no character of a
 * valid name (nameProblem() refuses it) and JSON writes it unescaped; names
 * with a character JSON escapes (a quote, a backslash, a control character,
 * a surrogate) take JSON.stringify.
 */
export function occupantsJson(people: readonly string[], keyed: boolean): string {
  if (people.length === 0) return "[]";
  const joined = people.join(JOINT);
  if (ESCAPED.test(joined)) return JSON.stringify(keyed ? people.map((k) => k.slice(P)) : people);
  return '["' + (keyed ? joined.slice(P).replaceAll(JOINT_KEY, '","') : joined.replaceAll(JOINT, '","')) + '"]';
}

const JOINT = "\u007f";
const JOINT_KEY = JOINT + PERSON_PREFIX;
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;
