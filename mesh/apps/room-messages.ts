/**
 * What a room process is asked. In code a RoomMsg, a union with full field
 * names; on the wire (and in a call to a process on this node, which is not
 * encoded) the objects every roomy node already sends and reads, `t` naming
 * the kind: roomMsgToWire and roomMsgFromWire are the only places that
 * spell them.
 */
import { RoomyError } from "../../core/errors.ts";
import { validateNames } from "../../core/names.ts";
import { validateCapacity } from "../../core/rooms/rooms.ts";
import { textsToBytes } from "../../core/rooms/text-bytes.ts";

export type RoomMsg =
  /** Create the room (no-op if it exists); answers `{ created }`. */
  | { kind: "create"; capacity: number | null }
  /** People walk into the room, all or nothing; answers `{ ok: true }`. */
  | { kind: "walk"; people: readonly string[] }
  /** The room's people (RoomAnswer), with each one's key timestamp when `withStamps` (a dump's merge needs them). */
  | { kind: "who"; withStamps: boolean }
  /** A dump's batch to an owner node: each listed room it serves now (ManyAnswers). */
  | { kind: "whoMany"; rooms: readonly unknown[] }
  /**
   * As whoMany: when the asker's map digest (`digest`, taken as it asked)
   * equals the owner's, each room it serves answers its people as JSON text;
   * else its occupantsHash() under the asker's `seed`, which the asker compares with its own list (HashAnswers).
   * `bytes`: the texts as one UTF-8 buffer (text-bytes.ts); a node from before it ignores the ask and answers strings.
   */
  | { kind: "whoHash"; rooms: readonly unknown[]; digest: Uint8Array | null; seed: number; bytes: boolean }
  /** A dump's second question: each person's key timestamp if they are in this room now, else null. */
  | { kind: "stamps"; people: readonly unknown[] };

/** The most rooms a who-many may list (a peer asking more is refused). */
export const MAX_DUMP_CHUNK = 10_000;

/** The wire's names for each kind (older nodes refuse the ones they do not know with bad_request). */
type WireKind = "create" | "walk" | "who" | "who-many" | "who-hash" | "stamps";

/** A RoomMsg as it travels. */
export function roomMsgToWire(m: RoomMsg): { t: WireKind } & Record<string, unknown> {
  switch (m.kind) {
    case "create":
      return { t: "create", capacity: m.capacity };
    case "walk":
      return { t: "walk", people: m.people };
    case "who":
      // Older nodes answer stamps unless told `bare`.
      return m.withStamps ? { t: "who" } : { t: "who", bare: true };
    case "whoMany":
      return { t: "who-many", rooms: m.rooms };
    case "whoHash":
      return m.bytes ? { t: "who-hash", rooms: m.rooms, d: m.digest, s: m.seed, b: true } : { t: "who-hash", rooms: m.rooms, d: m.digest, s: m.seed };
    case "stamps":
      return { t: "stamps", people: m.people };
  }
}

/**
 * A message as a room process received it (off the wire, or from this node).
 * Checks what each kind carries, with the errors the API gives for the same
 * mistakes (a room's own call path checked them already: this is for the
 * wire). Any other kind is `bad_request` naming the kind, which a dump takes
 * for a node from before that kind.
 */
export function roomMsgFromWire(wire: unknown): RoomMsg {
  const o = typeof wire === "object" && wire !== null ? (wire as Record<string, unknown>) : {};
  switch (o["t"]) {
    case "create":
      return { kind: "create", capacity: validateCapacity(o["capacity"]) };
    case "walk":
      return { kind: "walk", people: validateNames("person", o["people"]) };
    case "who":
      return { kind: "who", withStamps: o["bare"] !== true };
    case "who-many":
      return { kind: "whoMany", rooms: chunk(o["rooms"], `who-many takes a list of at most ${MAX_DUMP_CHUNK} rooms`) };
    case "who-hash":
      return {
        kind: "whoHash",
        rooms: chunk(o["rooms"], `who-hash takes a list of at most ${MAX_DUMP_CHUNK} rooms`),
        digest: o["d"] instanceof Uint8Array ? o["d"] : null,
        // A fingerprint seed is 32 bits; anything else is no seed (0).
        seed: typeof o["s"] === "number" && Number.isInteger(o["s"]) ? o["s"] | 0 : 0,
        bytes: o["b"] === true,
      };
    case "stamps":
      return { kind: "stamps", people: chunk(o["people"], "stamps takes a list of people") };
    default:
      throw new RoomyError("bad_request", `room process cannot handle ${JSON.stringify(o["t"])}`);
  }
}

/** A list of at most MAX_DUMP_CHUNK items (each checked by its reader), else `bad_request`. */
function chunk(x: unknown, problem: string): readonly unknown[] {
  if (!Array.isArray(x) || x.length > MAX_DUMP_CHUNK) throw new RoomyError("bad_request", problem);
  return x;
}

/** A who-many answer: per asked room, in order, its people (sorted), or null: not answered here, ask the room itself. */
export type ManyAnswers = readonly (readonly string[] | null)[];

/** A who-many answer as it travels: `{ a: [...] }`. */
export function manyAnswersToWire(answers: ManyAnswers): { a: ManyAnswers } {
  return { a: answers };
}

/** A who-hash answer: `same` (digests equal): each served room's JSON text; else its fingerprint; null: ask the room itself. */
export interface HashAnswers {
  same: boolean;
  answers: readonly (string | number | null)[];
}

/**
 * As it travels: `{e: true, a}` (texts) or `{a}` (fingerprints); asked for
 * `bytes` with digests equal, `{e: true, a: lengths, t: bytes}`: the texts
 * as one UTF-8 buffer, `a` each one's byte length (null: not served here).
 */
export function hashAnswersToWire(h: HashAnswers, bytes = false): { e?: true; a: readonly (string | number | null)[]; t?: Uint8Array } {
  if (!h.same) return { a: h.answers };
  if (!bytes) return { e: true, a: h.answers };
  const { bytes: t, lengths } = textsToBytes(h.answers.map((x) => (typeof x === "string" ? x : null)));
  return { e: true, a: lengths, t };
}

/** A who-hash answer off the wire (entries unchecked), or null if it is no answer at all. */
export function hashAnswersFromWire(wire: unknown): { same: boolean; answers: readonly unknown[]; text: Uint8Array | null } | null {
  const a = manyAnswersFromWire(wire);
  if (a === null) return null;
  const t = (wire as { t?: unknown }).t;
  return { same: (wire as { e?: unknown }).e === true, answers: a, text: t instanceof Uint8Array ? t : null };
}

/** The per-room list of a who-many answer off the wire (entries unchecked), or null if it is no answer at all. */
export function manyAnswersFromWire(wire: unknown): readonly unknown[] | null {
  const a = typeof wire === "object" && wire !== null ? (wire as { a?: unknown }).a : undefined;
  return Array.isArray(a) ? a : null;
}
