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

/**
 * Builds a NameCatalogue a slice at a time: names are lower-cased as they
 * are added and joined at each cut(), so a million names never take one
 * long stretch of the event loop.
 */
export class CatalogueBuilder {
  private readonly names: string[] = [];
  private readonly starts: number[] = [];
  private readonly parts: string[] = ["\n"];
  private pending: string[] = [];
  private at = 1;

  add(name: string): void {
    // Offsets from the lower-cased name: lower-casing may change a name's length ("İ").
    const l = name.toLowerCase();
    this.names.push(name);
    this.starts.push(this.at);
    this.at += l.length + 1;
    this.pending.push(l);
  }

  /** Joins the names added since the last cut. */
  cut(): void {
    if (this.pending.length === 0) return;
    this.parts.push(this.pending.join("\n") + "\n");
    this.pending = [];
  }

  build(): NameCatalogue {
    this.cut();
    const starts = Int32Array.from(this.starts);
    const all = new Int32Array(starts.length + 1);
    all.set(starts);
    all[starts.length] = this.at;
    return new NameCatalogue(this.names, this.parts.join(""), all);
  }
}

/** An immutable snapshot of names (in the order given) to search. */
export class NameCatalogue {
  static of(names: readonly string[]): NameCatalogue {
    const b = new CatalogueBuilder();
    for (const n of names) b.add(n);
    return b.build();
  }

  /**
   * `hay`: "\n" + every lower-cased name followed by "\n"; `starts`: where
   * name i starts in it (one extra entry: the end). Use of() or CatalogueBuilder.
   */
  constructor(
    readonly names: readonly string[],
    private readonly hay: string,
    private readonly starts: Int32Array,
  ) {}

  get size(): number {
    return this.names.length;
  }

  /**
   * Names holding `q` (any case), counted in full; the indices of [offset,
   * offset + limit). A name equal to `q` (any case) comes first: the
   * dashboard shows a person's room by searching its name, and among 50
   * rooms holding "x" room "x" itself was not on the first page.
   */
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
    const exactAt = this.hay.indexOf(`\n${q}\n`);
    const exact = exactAt < 0 ? -1 : this.nameAt(exactAt + 1);
    if (exact >= 0 && p.offset === 0 && p.limit > 0) indices.push(exact);
    let matches = exact >= 0 ? 1 : 0;
    let from = 1;
    for (;;) {
      const at = this.hay.indexOf(q, from);
      if (at < 0) break;
      const i = this.nameAt(at);
      from = this.starts[i + 1]!; // one match per name: go on from the next name
      if (i === exact) continue;
      if (matches >= p.offset && matches < end) indices.push(i);
      matches++;
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
