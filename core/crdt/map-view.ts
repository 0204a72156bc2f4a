/**
 * What the app rules see of the replicated map, and what they hand back:
 * a read-only view (LwwMap satisfies it) and a list of writes, which the
 * caller turns into one delta with one timestamp so it applies all or nothing.
 */
import type { Timestamp } from "./hlc.ts";
import type { Delta, DeltaEntry } from "./lww-map.ts";

/** Read access to a replica. */
export interface MapView {
  get(key: string): unknown;
  withPrefix(prefix: string): Iterable<[string, unknown]>;
}

/** One key to set, or to delete when `value` is undefined. */
export interface Write {
  key: string;
  value?: unknown;
}

/** The writes as one delta, every entry stamped with `ts`. */
export function writesToDelta(writes: readonly Write[], ts: Timestamp): Delta {
  const e: DeltaEntry[] = [];
  for (const w of writes) {
    e.push(w.value === undefined ? { k: w.key, ts, d: true } : { k: w.key, ts, v: w.value });
  }
  return { e };
}
