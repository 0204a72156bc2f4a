/**
 * The per-entry rules of the LWW map: which of two writes wins, what a
 * stored record looks like, and joining deltas.
 */
import { compareTs, type Timestamp } from "./hlc.ts";
import type { Delta, DeltaEntry, Entry, Value } from "./lww-types.ts";

/** What a map stores for a tombstone in place of a value: no value from the wire is this. */
export const TOMB: unique symbol = Symbol("tombstone");

/** A stored value: TOMB for a tombstone, undefined only in a hole. */
export type Stored = Value | typeof TOMB;

/** The entry of a stored timestamp and value. */
export function toEntry(ts: Timestamp, v: Stored): Entry {
  return v === TOMB ? { v: undefined, ts, d: true } : { v, ts, d: false };
}

/** Whether a write of `v` (TOMB: a delete) at `ts` beats the stored `cur` at `curTs`: wins() for a stored entry. */
export function winsOver(ts: Timestamp, v: Stored, curTs: Timestamp, cur: Stored): boolean {
  const c = compareTs(ts, curTs);
  if (c !== 0) return c > 0;
  return tieWins(v === TOMB, v, cur === TOMB, cur);
}

/** Whether write `a` beats write `b`. */
export function wins(a: DeltaEntry, b: DeltaEntry): boolean {
  const c = compareTs(a.ts, b.ts);
  if (c !== 0) return c > 0;
  // Same timestamp: only possible if a writer identity was reused. Break the
  // tie deterministically so every replica still picks the same winner.
  return tieWins(a.d === true, a.v, b.d === true, b.v);
}

/** Between equal stamps: a delete beats a value, else the larger value's JSON text. */
function tieWins(at: boolean, av: unknown, bt: boolean, bv: unknown): boolean {
  if (at !== bt) return at;
  if (at) return false;
  return tieKey(av) > tieKey(bv);
}

function tieKey(v: Value): string {
  try {
    return JSON.stringify(v) ?? "";
  } catch {
    // bigint or a cycle: still deterministic, if coarser.
    return String(v);
  }
}

/** Join several deltas into one (largest timestamp per key wins). */
export function joinDeltas(deltas: readonly Delta[]): Delta {
  if (deltas.length === 1) return deltas[0]!;
  const byKey = new Map<string, DeltaEntry>();
  for (const d of deltas) {
    for (const en of d.e) {
      const cur = byKey.get(en.k);
      if (cur === undefined || wins(en, cur)) byKey.set(en.k, en);
    }
  }
  return { e: [...byKey.values()] };
}
