/**
 * The data of an LWW map (lww-map.ts): values, stored entries, deltas and
 * the changes a merge reports.
 */
import type { Timestamp } from "./hlc.ts";

/** Anything CBOR can carry: JSON-like data. */
export type Value = unknown;

/** One key's state: a value, or a tombstone (`d`) that remembers a delete. */
export interface Entry {
  v: Value;
  ts: Timestamp;
  d: boolean;
}

export interface DeltaEntry {
  k: string;
  ts: Timestamp;
  v?: Value;
  /** tombstone */
  d?: true;
}

/** A delta (or a whole state): entries to merge, at most one per key. */
export interface Delta {
  e: DeltaEntry[];
}

/** A visible change caused by a write or a merge. */
export interface Change {
  key: string;
  /** previous value, undefined if absent or deleted */
  old: Value;
  /** new value, undefined if now deleted */
  value: Value;
}
