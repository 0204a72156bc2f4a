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

/** Keyed places a table keeps in arrays up to (10,000 rooms hold ~10 each: three Maps were ~2.8 KB a table). */
export const SMALL_PLACES = 16;
/** ...and back in arrays below (not at SMALL_PLACES: one holder in and out would convert each time). */
const SMALL_AGAIN = 8;

/**
 * The place <-> holder pairs and the counted holders: parallel arrays while
 * few, Maps when many. Each holder's places come in the order they were
 * keyed to it (a relinked pair moves to the end), and counted holders in
 * Map order, so which free place pick() hands out does not depend on which
 * form a table is in.
 */
interface Store {
  readonly pairs: number;
  readonly countedSize: number;
  holderAt(place: number): string | undefined;
  placesOf(holder: string): readonly number[] | undefined;
  /** `place` names `holder` (named `old` before, or nothing). */
  link(place: number, holder: string, old: string | undefined): void;
  unlink(place: number, old: string): void;
  placeOf(holder: string): number | undefined;
  count(holder: string, place: number | null): void;
  clearCounted(): void;
  holders(): IterableIterator<string>;
  places(): IterableIterator<number>;
  holderList(): IterableIterator<string>;
}

class SmallStore implements Store {
  /** where placeOf() found its holder last */
  private at = -1;
  constructor(
    private readonly ps: number[] = [],
    private readonly hs: string[] = [],
    /** counted holders and their places, in Map order */
    private readonly ch: string[] = [],
    private readonly cp: number[] = [],
  ) {}
  get pairs(): number {
    return this.ps.length;
  }
  get countedSize(): number {
    return this.ch.length;
  }
  holderAt(place: number): string | undefined {
    const i = this.ps.indexOf(place);
    return i < 0 ? undefined : this.hs[i];
  }
  placesOf(holder: string): readonly number[] | undefined {
    let out: number[] | undefined;
    for (let i = 0; i < this.hs.length; i++) if (this.hs[i] === holder) (out ??= []).push(this.ps[i]!);
    return out;
  }
  link(place: number, holder: string, old: string | undefined): void {
    if (old !== undefined) this.unlink(place);
    this.ps.push(place);
    this.hs.push(holder);
  }
  unlink(place: number): void {
    const i = this.ps.indexOf(place);
    this.ps.splice(i, 1);
    this.hs.splice(i, 1);
  }
  placeOf(holder: string): number | undefined {
    const i = (this.at = this.ch.indexOf(holder));
    return i < 0 ? undefined : this.cp[i];
  }
  count(holder: string, place: number | null): void {
    // refresh() asked placeOf(holder) just before: no second scan
    const at = this.at;
    const i = at >= 0 && this.ch[at] === holder ? at : this.ch.indexOf(holder);
    if (place === null) {
      if (i >= 0) this.ch.splice(i, 1), this.cp.splice(i, 1);
    } else if (i >= 0) this.cp[i] = place;
    else this.ch.push(holder), this.cp.push(place);
  }
  clearCounted(): void {
    this.ch.length = this.cp.length = 0;
  }
  holders(): IterableIterator<string> {
    return this.ch.values();
  }
  places(): IterableIterator<number> {
    return this.ps.values();
  }
  /** Each holder once, in the order of their first pair. */
  holderList(): IterableIterator<string> {
    return new Set(this.hs).values();
  }
  toMaps(): MapStore {
    const m = new MapStore();
    for (let i = 0; i < this.ps.length; i++) m.link(this.ps[i]!, this.hs[i]!, undefined);
    for (let i = 0; i < this.ch.length; i++) m.count(this.ch[i]!, this.cp[i]!);
    return m;
  }
}

class MapStore implements Store {
  private readonly byPlace = new Map<number, string>();
  /** holder -> the places naming it (usually one: an array is cheaper than a set) */
  private readonly byHolder = new Map<string, number[]>();
  /** holder -> the place it is counted in */
  private readonly counted = new Map<string, number>();
  get pairs(): number {
    return this.byPlace.size;
  }
  get countedSize(): number {
    return this.counted.size;
  }
  holderAt(place: number): string | undefined {
    return this.byPlace.get(place);
  }
  placesOf(holder: string): readonly number[] | undefined {
    return this.byHolder.get(holder);
  }
  link(place: number, holder: string, old: string | undefined): void {
    if (old !== undefined) this.unlinkHolder(place, old);
    this.byPlace.set(place, holder);
    const l = this.byHolder.get(holder);
    if (l === undefined) this.byHolder.set(holder, [place]);
    else l.push(place);
  }
  unlink(place: number, old: string): void {
    this.unlinkHolder(place, old);
    this.byPlace.delete(place);
  }
  private unlinkHolder(place: number, old: string): void {
    const l = this.byHolder.get(old)!;
    l.splice(l.indexOf(place), 1);
    if (l.length === 0) this.byHolder.delete(old);
  }
  placeOf(holder: string): number | undefined {
    return this.counted.get(holder);
  }
  count(holder: string, place: number | null): void {
    if (place === null) this.counted.delete(holder);
    else this.counted.set(holder, place);
  }
  clearCounted(): void {
    this.counted.clear();
  }
  holders(): IterableIterator<string> {
    return this.counted.keys();
  }
  places(): IterableIterator<number> {
    return this.byPlace.keys();
  }
  holderList(): IterableIterator<string> {
    return this.byHolder.keys();
  }
  toArrays(): SmallStore {
    const ps: number[] = [];
    const hs: string[] = [];
    for (const [h, l] of this.byHolder) for (const p of l) ps.push(p), hs.push(h);
    const ch: string[] = [];
    const cp: number[] = [];
    for (const [h, p] of this.counted) ch.push(h), cp.push(p);
    return new SmallStore(ps, hs, ch, cp);
  }
}

export class PlaceTable {
  private store: SmallStore | MapStore = new SmallStore();
  /** keyed places <= limit that no counted holder owns (made when first needed: most tables never free one) */
  private free: Set<number> | null = null;
  /** no place below this is unkeyed */
  private unkeyedFrom = 1;

  constructor(
    private limitValue: number,
    private readonly want: (holder: string) => Want,
  ) {}

  /** Holders counted now. */
  get size(): number {
    return this.store.countedSize;
  }

  /** Whether the pairs are kept in arrays now (for tests). */
  get small(): boolean {
    return this.store instanceof SmallStore;
  }

  /** The holders counted now. */
  holders(): IterableIterator<string> {
    return this.store.holders();
  }

  /** Every place whose key names a holder (counted or not, within the limit or not), in no set order. */
  places(): IterableIterator<number> {
    return this.store.places();
  }

  /** The place `holder` is counted in, or null. */
  placeOf(holder: string): number | null {
    return this.store.placeOf(holder) ?? null;
  }

  /**
   * A place key changed: `holder` undefined when it was deleted. Returns the
   * holders whose counted state may have changed (the old and new holder).
   */
  setPlace(place: number, holder: string | undefined): string[] {
    const s = this.store;
    const old = s.holderAt(place);
    if (old === holder) return holder === undefined ? [] : [holder];
    const touched: string[] = [];
    if (old !== undefined) touched.push(old);
    if (holder === undefined) {
      s.unlink(place, old!);
      this.free?.delete(place);
      if (place < this.unkeyedFrom) this.unkeyedFrom = place;
      if (s instanceof MapStore && s.pairs < SMALL_AGAIN) this.store = s.toArrays();
    } else {
      s.link(place, holder, old);
      touched.push(holder);
      if (s instanceof SmallStore && s.pairs > SMALL_PLACES) this.store = s.toMaps();
    }
    for (const h of touched) this.refresh(h);
    return touched;
  }

  /** Recompute whether and where `holder` is counted; true if that changed. */
  refresh(holder: string): boolean {
    const s = this.store;
    const places = s.placesOf(holder);
    const before = s.placeOf(holder);
    if (places === undefined && before === undefined) return false; // holds nothing, counted nowhere
    const now = places === undefined ? null : this.own(holder, places);
    s.count(holder, now);
    // markFree() of the holder's own places, knowing their holder and where it is counted (no look-ups)
    if (places !== undefined) {
      for (let i = 0; i < places.length; i++) {
        const p = places[i]!;
        if (p > this.limitValue || p === now) this.free?.delete(p);
        else (this.free ??= new Set()).add(p);
      }
    }
    if (before !== undefined && s.holderAt(before) !== holder) this.markFree(before);
    return (before ?? null) !== now;
  }

  /** A new limit (a capacity learnt late): everything is recomputed. */
  setLimit(limit: number): void {
    this.limitValue = limit;
    this.free?.clear();
    this.store.clearCounted();
    for (const h of this.store.holderList()) this.refresh(h);
  }

  /**
   * `n` distinct free places, preferring for each newcomer a place it
   * already holds (no second key for one holder), then freed places, then
   * never-used ones. Null when fewer than `n` are free.
   */
  pick(newcomers: readonly string[]): number[] | null {
    const taken = new Set<number>();
    const free = this.free;
    const out: (number | null)[] = newcomers.map((h) => {
      const places = free === null || free.size === 0 ? undefined : this.store.placesOf(h);
      let best: number | null = null;
      if (places !== undefined) {
        for (const p of places) if (free!.has(p) && !taken.has(p) && (best === null || p < best)) best = p;
      }
      if (best !== null) taken.add(best);
      return best;
    });
    const freed = free === null ? null : free.values();
    for (let i = 0; i < out.length; i++) {
      if (out[i] !== null) continue;
      let p: number | null = null;
      if (freed !== null) {
        for (let r = freed.next(); !r.done; r = freed.next()) {
          if (!taken.has(r.value)) {
            p = r.value;
            break;
          }
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
    const s = this.store;
    while (s.holderAt(this.unkeyedFrom) !== undefined) this.unkeyedFrom++;
    let p = this.unkeyedFrom;
    while (s.holderAt(p) !== undefined || taken.has(p)) p++;
    return p <= this.limitValue ? p : null;
  }

  private own(holder: string, places: readonly number[]): number | null {
    const w = this.want(holder);
    if (w === null) return null;
    if (w !== "any") return w >= 1 && w <= this.limitValue && this.store.holderAt(w) === holder ? w : null;
    let best: number | null = null;
    for (const p of places) if (p <= this.limitValue && (best === null || p < best)) best = p;
    return best;
  }

  private markFree(place: number): void {
    const h = this.store.holderAt(place);
    if (h === undefined || place > this.limitValue || this.store.placeOf(h) === place) this.free?.delete(place);
    else (this.free ??= new Set()).add(place);
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
