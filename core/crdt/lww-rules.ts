/**
 * The per-entry rules of the LWW map: which of two writes wins, what a
 * stored record looks like, and joining deltas.
 */
import { compareTs } from "./hlc.ts";
import type { Delta, DeltaEntry, Entry, Value } from "./lww-types.ts";

/** The record to store: a tombstone drops any value, a value is never undefined. */
export function normalise(d: DeltaEntry, tomb: boolean): DeltaEntry {
  if (tomb) return d.v === undefined ? d : { k: d.k, ts: d.ts, d: true };
  return d.v === undefined ? { k: d.k, ts: d.ts, v: null } : d;
}

export function toEntry(r: DeltaEntry): Entry {
  return r.d === true ? { v: undefined, ts: r.ts, d: true } : { v: r.v, ts: r.ts, d: false };
}

/** Whether write `a` beats write `b`. */
export function wins(a: DeltaEntry, b: DeltaEntry): boolean {
  const c = compareTs(a.ts, b.ts);
  if (c !== 0) return c > 0;
  // Same timestamp: only possible if a writer identity was reused. Break the
  // tie deterministically so every replica still picks the same winner.
  const at = a.d === true;
  const bt = b.d === true;
  if (at !== bt) return at;
  if (at) return false;
  return tieKey(a.v) > tieKey(b.v);
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
