/**
 * The reference a dump's answer is checked against in tests: room answers
 * from several replicas (each room as one replica holds it, with each
 * person's key stamp) joined into one view, a person two answers place in
 * different rooms kept only where their newer key puts them, as merging
 * those replicas would. Each room keeps a subset of its own answer, so
 * capacities hold too. Keys and lists sorted; no prototype.
 */
import { compareTs, type Timestamp, ZERO } from "../../core/crdt/hlc.ts";
import type { RoomAnswer } from "../../core/rooms/rooms.ts";

export function mergeOccupancies(answers: readonly RoomAnswer[]): Record<string, string[]> {
  const best = new Map<string, { room: string; ts: Timestamp }>();
  for (const a of answers) {
    a.people.forEach((p, i) => {
      const ts = asTimestamp(a.since?.[i]);
      const b = best.get(p);
      const c = b === undefined ? 1 : compareTs(ts, b.ts);
      // Equal stamps are one write (one room); the name order only breaks ties of stamp-less answers.
      if (c > 0 || (c === 0 && b !== undefined && a.room < b.room)) best.set(p, { room: a.room, ts });
    });
  }
  // No prototype: a room named "__proto__" (or "constructor") is a key like any other.
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const a of [...answers].sort((x, y) => (x.room < y.room ? -1 : x.room > y.room ? 1 : 0))) {
    out[a.room] = a.people.filter((p) => best.get(p)?.room === a.room).sort();
  }
  return out;
}

/** A timestamp from the wire, or zero if it is not one. */
function asTimestamp(v: unknown): Timestamp {
  if (typeof v !== "object" || v === null) return ZERO;
  const t = v as Partial<Timestamp>;
  return typeof t.w === "number" && typeof t.c === "number" && typeof t.n === "string" ? { w: t.w, c: t.c, n: t.n } : ZERO;
}
