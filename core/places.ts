/**
 * Numbered places 1..limit (a room's seats, the lot's slots), each a key of
 * the map naming its holder. A holder counts only while a place it holds is
 * its own (the place its record names, or its lowest place when any will
 * do) and it is entitled at all (its person key names this room, its car
 * record exists). A place key names one holder, so at most `limit` holders
 * count on any replica, whatever order the writes arrived in: capacity holds
 * by construction. A place is free when no counted holder owns it.
 *
 * The table is kept current incrementally: call setPlace on every place-key
 * change and refresh(holder) whenever what the holder wants changes.
 */

/** What a holder wants: no place (not entitled), one named place, or any of its places. */
export type Want = number | "any" | null;

export class PlaceTable {
  private readonly byPlace = new Map<number, string>();
  /** holder -> the places naming it (usually one: an array is cheaper than a set) */
  private readonly byHolder = new Map<string, number[]>();
  /** holder -> the place it is counted in */
  private readonly counted = new Map<string, number>();
  /** keyed places <= limit that no counted holder owns */
  private readonly free = new Set<number>();
  /** no place below this is unkeyed */
  private unkeyedFrom = 1;

  constructor(
    private limitValue: number,
    private readonly want: (holder: string) => Want,
  ) {}

  /** Holders counted now. */
  get size(): number {
    return this.counted.size;
  }

  /** The holders counted now. */
  holders(): IterableIterator<string> {
    return this.counted.keys();
  }

  /** Every place whose key names a holder (counted or not, within the limit or not). */
  places(): IterableIterator<number> {
    return this.byPlace.keys();
  }

  /** The place `holder` is counted in, or null. */
  placeOf(holder: string): number | null {
    return this.counted.get(holder) ?? null;
  }

  /**
   * A place key changed: `holder` undefined when it was deleted. Returns the
   * holders whose counted state may have changed (the old and new holder).
   */
  setPlace(place: number, holder: string | undefined): string[] {
    const old = this.byPlace.get(place);
    if (old === holder) return holder === undefined ? [] : [holder];
    const touched: string[] = [];
    if (old !== undefined) {
      const l = this.byHolder.get(old)!;
      l.splice(l.indexOf(place), 1);
      if (l.length === 0) this.byHolder.delete(old);
      touched.push(old);
    }
    if (holder === undefined) {
      this.byPlace.delete(place);
      this.free.delete(place);
      if (place < this.unkeyedFrom) this.unkeyedFrom = place;
    } else {
      this.byPlace.set(place, holder);
      const l = this.byHolder.get(holder);
      if (l === undefined) this.byHolder.set(holder, [place]);
      else l.push(place);
      touched.push(holder);
    }
    for (const h of touched) this.refresh(h);
    return touched;
  }

  /** Recompute whether and where `holder` is counted; true if that changed. */
  refresh(holder: string): boolean {
    const places = this.byHolder.get(holder);
    const before = this.counted.get(holder);
    if (places === undefined && before === undefined) return false; // holds nothing, counted nowhere
    const now = places === undefined ? null : this.own(holder, places);
    if (now === null) this.counted.delete(holder);
    else this.counted.set(holder, now);
    if (places !== undefined) for (let i = 0; i < places.length; i++) this.markFree(places[i]!);
    if (before !== undefined && this.byPlace.get(before) !== holder) this.markFree(before);
    return (before ?? null) !== now;
  }

  /** A new limit (a capacity learnt late): everything is recomputed. */
  setLimit(limit: number): void {
    this.limitValue = limit;
    this.free.clear();
    this.counted.clear();
    for (const h of this.byHolder.keys()) this.refresh(h);
  }

  /**
   * `n` distinct free places, preferring for each newcomer a place it
   * already holds (no second key for one holder), then freed places, then
   * never-used ones. Null when fewer than `n` are free.
   */
  pick(newcomers: readonly string[]): number[] | null {
    const taken = new Set<number>();
    const out: (number | null)[] = newcomers.map((h) => {
      const places = this.byHolder.get(h);
      let best: number | null = null;
      if (places !== undefined) {
        for (const p of places) if (this.free.has(p) && !taken.has(p) && (best === null || p < best)) best = p;
      }
      if (best !== null) taken.add(best);
      return best;
    });
    const freed = this.free.values();
    for (let i = 0; i < out.length; i++) {
      if (out[i] !== null) continue;
      let p: number | null = null;
      for (let r = freed.next(); !r.done; r = freed.next()) {
        if (!taken.has(r.value)) {
          p = r.value;
          break;
        }
      }
      if (p === null) p = this.lowestUnkeyed(taken);
      if (p === null) return null;
      taken.add(p);
      out[i] = p;
    }
    return out as number[];
  }

  private lowestUnkeyed(taken: ReadonlySet<number>): number | null {
    while (this.byPlace.has(this.unkeyedFrom)) this.unkeyedFrom++;
    let p = this.unkeyedFrom;
    while (this.byPlace.has(p) || taken.has(p)) p++;
    return p <= this.limitValue ? p : null;
  }

  private own(holder: string, places: readonly number[]): number | null {
    const w = this.want(holder);
    if (w === null) return null;
    if (w !== "any") return w >= 1 && w <= this.limitValue && this.byPlace.get(w) === holder ? w : null;
    let best: number | null = null;
    for (const p of places) if (p <= this.limitValue && (best === null || p < best)) best = p;
    return best;
  }

  private markFree(place: number): void {
    const h = this.byPlace.get(place);
    if (h === undefined || place > this.limitValue || this.counted.get(h) === place) this.free.delete(place);
    else this.free.add(place);
  }
}

/** The number of a place key's last segment (a positive decimal integer, no leading zero), or null. */
export function placeNumber(text: string): number | null {
  if (text.length === 0 || text.length > 10 || text.charCodeAt(0) === 48) return null;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return n;
}
