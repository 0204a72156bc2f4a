/**
 * Safe tombstone collection. Every tombstone that lands in the local map gets
 * a local arrival seq. When anti-entropy finds this replica's digest equal to
 * a peer's (name, id) while the arrival counter stood at S, that peer held
 * every tombstone with arrival seq <= S. A tombstone is forgotten once that
 * is proven for EVERY member that has not left, at its current identity — a
 * dead or partitioned member blocks collection, since it may still hold the
 * old value and would bring it back. The map's horizon then refuses any
 * late copy of a write at or below the forgotten timestamp.
 */
import { compareTs, type Timestamp } from "../../core/crdt/hlc.ts";
import type { Delta, LwwMap } from "../../core/crdt/lww-map.ts";
import type { Member } from "../membership/types.ts";

/**
 * The most tombstones one collect() forgets, and looks at: forgetting costs
 * about 0.3 us a key, so a million deletes proven at once would hold the
 * event loop for most of a second; this keeps a call to a few ms.
 */
export const COLLECT_MAX = 20_000;
const COLLECT_SCAN = 100_000;
/**
 * The most too-young tombstones one collect() looks past. Arrival order is
 * about stamp order, so what follows a run of young ones is young too: under
 * a stream of deletes (10 s of them at 10,000/s) every equality would
 * otherwise walk COLLECT_SCAN young entries to forget none. One stamped
 * ahead of the rest (a skewed clock) holds those behind it back only until
 * it ages, which only delays collection.
 */
export const YOUNG_SCAN = 1_024;

interface Arrival {
  seq: number;
  ts: Timestamp;
}

interface Equality {
  id: string;
  seq: number;
}

export class TombstoneGc {
  collected = 0;
  /** Tombstones the last collect() looked at (its cost). */
  lastLooked = 0;
  private arrival = 0;
  /** Tombstones held, in arrival order (re-inserted when replaced). */
  private readonly tombs = new Map<string, Arrival>();
  private readonly equal = new Map<string, Equality>();
  /** Every member name seen and not known to have left, with its latest identity. */
  private readonly known = new Map<string, { id: string }>();

  constructor(
    private readonly map: LwwMap,
    private readonly minAgeMs: number,
    /**
     * Keys just forgotten: every member holds their deletes, so a copy of an
     * older write of one still kept to be sent (a write not yet acknowledged
     * by every peer) must go, or a peer's new process, whose map has no
     * horizon yet, would take it as live for good (soak seed 5332).
     */
    private readonly forgotten: (keys: () => ReadonlySet<string>) => void = () => {},
  ) {}

  /** The arrival counter now: what an equality observed at this moment proves. */
  get seq(): number {
    return this.arrival;
  }

  /** Tombstones awaiting collection. */
  get tracked(): number {
    return this.tombs.size;
  }

  /** Note the keys of a delta just merged (locally written or remote). */
  noteMerged(delta: Delta): void {
    // Nothing tracked (the common case): only tombstones in the delta matter,
    // and no key need be looked up for the live writes.
    const none = this.tombs.size === 0;
    for (const d of delta.e) {
      // A live write either won (no tombstone left) or lost to what is there:
      // only a key we track can need a look.
      if (d.d !== true && (none || !this.tombs.has(d.k))) continue;
      const en = this.map.entry(d.k);
      if (en === undefined || !en.d) {
        this.tombs.delete(d.k);
        continue;
      }
      const prev = this.tombs.get(d.k);
      if (prev !== undefined && compareTs(prev.ts, en.ts) === 0) continue; // a copy of one we have
      this.tombs.delete(d.k);
      this.tombs.set(d.k, { seq: ++this.arrival, ts: en.ts });
    }
  }

  /** Our digest equalled that of (name, id) when our arrival counter was `seq`. */
  recordEqual(name: string, id: string, seq: number): void {
    const cur = this.equal.get(name);
    if (cur !== undefined && cur.id === id && cur.seq >= seq) return;
    this.equal.set(name, { id, seq });
  }

  /**
   * The arrival seq up to which every member holds our tombstones. Members
   * are remembered by name until they leave: one that membership has reaped
   * (dead long enough to be dropped from its table) still blocks collection,
   * since it may come back from a partition holding the old values.
   */
  provenUpTo(selfName: string, members: readonly Member[]): number {
    const current = new Map<string, Member>();
    for (const m of members) {
      const prev = current.get(m.name);
      // A dead identity whose name came back with a new one is superseded.
      if (prev === undefined || m.state === "alive" || m.state === "suspect") current.set(m.name, m);
    }
    for (const [name, m] of current) {
      if (m.state === "left") this.known.delete(name);
      else this.known.set(name, { id: m.id });
    }
    let min = this.arrival;
    for (const [name, m] of this.known) {
      if (name === selfName) continue;
      const eq = this.equal.get(name);
      if (eq === undefined || eq.id !== m.id) return 0;
      if (eq.seq < min) min = eq.seq;
    }
    return min;
  }

  /** Forget these tombstones (a peer proved them collected). Returns how many. */
  forget(keys: string[]): number {
    for (const k of keys) this.tombs.delete(k);
    const n = this.map.forget(keys);
    this.collected += n;
    // The keys gone from the map (a live one passed in stays), made only if asked for.
    if (n > 0) this.forgotten(() => new Set(keys.filter((k) => this.map.entry(k) === undefined)));
    return n;
  }

  /** Forget every tombstone all members hold (and old enough). Returns how many. */
  collect(selfName: string, members: readonly Member[], now: number): number {
    this.lastLooked = 0;
    if (this.tombs.size === 0) return 0;
    const upTo = this.provenUpTo(selfName, members);
    if (upTo === 0) return 0;
    const keys: string[] = [];
    let looked = 0;
    let young = 0;
    for (const [k, a] of this.tombs) {
      if (a.seq > upTo) break; // arrival order: the rest are newer
      looked++;
      if (now - a.ts.w >= this.minAgeMs) keys.push(k);
      else if (++young === YOUNG_SCAN) break;
      // A bounded turn: the rest waits for the next equality (each is another call).
      if (looked === COLLECT_SCAN || keys.length === COLLECT_MAX) break;
    }
    this.lastLooked = looked;
    return keys.length === 0 ? 0 : this.forget(keys);
  }
}
