/**
 * Name search for the dashboard: case-insensitive substring matches over a
 * snapshot of names, with paging. A snapshot keeps every name lower-cased
 * in one string ("\n" between names, which no valid name holds), so one
 * query is a few native indexOf scans of that string instead of a loop of
 * a million string tests: about 10 ms for a million people where a loop
 * of `toLowerCase().includes()` took 100.
 */
import { RoomyError } from "../core/errors.ts";

export interface PageParams {
  /** Lower-cased by the search; "" lists every name. */
  q: string;
  offset: number;
  limit: number;
}

/** Longest query accepted: a name is at most 255 characters (core/names.ts). */
export const MAX_QUERY_LENGTH = 255;

/** The `q`, `offset` and `limit` query parameters, checked (bad_request otherwise). */
export function pageParams(get: (name: string) => string | undefined, defaultLimit: number, maxLimit: number): PageParams {
  const q = get("q") ?? "";
  if (q.length > MAX_QUERY_LENGTH) throw new RoomyError("bad_request", `q is longer than ${MAX_QUERY_LENGTH} characters`);
  const int = (name: string, dflt: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined || raw === "") return dflt;
    // One strict rule: decimal digits only (no sign, no spaces, no exponent).
    if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new RoomyError("bad_request", `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return Number(raw);
  };
  return { q, offset: int("offset", 0, 0, 1_000_000_000), limit: int("limit", defaultLimit, 1, maxLimit) };
}

/** The indices of one page of matches, and how many match in all. */
export interface Hits {
  matches: number;
  indices: number[];
}

/** An immutable snapshot of names (in the order given) to search. */
export class NameCatalogue {
  /** "\n" + every lower-cased name followed by "\n" */
  private readonly hay: string;
  /** where name i starts in `hay` (one extra entry: the end) */
  private readonly starts: Int32Array;

  constructor(readonly names: readonly string[]) {
    const lowered = new Array<string>(names.length);
    const starts = new Int32Array(names.length + 1);
    let at = 1;
    for (let i = 0; i < names.length; i++) {
      // Lower-cased one by one: lower-casing may change a name's length ("İ").
      const l = names[i]!.toLowerCase();
      lowered[i] = l;
      starts[i] = at;
      at += l.length + 1;
    }
    starts[names.length] = at;
    this.hay = "\n" + lowered.join("\n") + "\n";
    this.starts = starts;
  }

  get size(): number {
    return this.names.length;
  }

  /** Names holding `q` (any case), counted in full; the indices of [offset, offset + limit). */
  search(p: PageParams): Hits {
    const n = this.names.length;
    const end = p.offset + p.limit;
    if (p.q === "") {
      const indices: number[] = [];
      for (let i = p.offset; i < Math.min(n, end); i++) indices.push(i);
      return { matches: n, indices };
    }
    const q = p.q.toLowerCase();
    // A query spanning a separator matches no single name.
    if (q.includes("\n")) return { matches: 0, indices: [] };
    const indices: number[] = [];
    let matches = 0;
    let from = 1;
    for (;;) {
      const at = this.hay.indexOf(q, from);
      if (at < 0) break;
      const i = this.nameAt(at);
      if (matches >= p.offset && matches < end) indices.push(i);
      matches++;
      from = this.starts[i + 1]!; // one match per name: go on from the next name
    }
    return { matches, indices };
  }

  /** The name whose text holds position `pos` of the hay (binary search over starts). */
  private nameAt(pos: number): number {
    let lo = 0;
    let hi = this.names.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
