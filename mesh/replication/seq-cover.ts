/**
 * Which writes of each origin (a process: name and identity) this replica is
 * known to hold, as sets of write seqs: those it merged whole off the write
 * stream and acked, and those a completed anti-entropy round brought with
 * everything else its peer held. The read barrier's fast path (cover-barrier.ts)
 * compares a peer's cover with ours instead of the maps' digests.
 *
 * Why a stream ack is enough: a write is acknowledged to its client only once
 * a majority of holders acked it, and a holder acks a write only after
 * merging it off the stream (its origin counts itself). So every
 * acknowledged write is in the cover of each holder that acked it.
 */
import { isRanges } from "./seq-ranges.ts";

/** Flat inclusive ranges [a1, b1, a2, b2, ...], ascending and disjoint (not adjacent). */
export type Ranges = number[];

/** One origin's cover on the wire: name, identity, ranges. */
export type CoverEntry = [string, string, Ranges];

const keyOf = (name: string, id: string): string => `${name}\u0000${id}`;

export class SeqCover {
  private readonly byOrigin = new Map<string, { name: string; id: string; r: Ranges }>();

  /** Add `seqs` (flat inclusive ranges, any order) of origin name/id. */
  add(name: string, id: string, seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const k = keyOf(name, id);
    let o = this.byOrigin.get(k);
    if (o === undefined) this.byOrigin.set(k, (o = { name, id, r: [] }));
    for (let j = 0; j + 1 < seqs.length; j += 2) o.r = insert(o.r, seqs[j]!, seqs[j + 1]!);
  }

  /** Add every origin's ranges of `entries` (a peer's cover this replica now holds). */
  addAll(entries: readonly CoverEntry[]): void {
    for (const [name, id, r] of entries) this.add(name, id, r);
  }

  /** Whether every seq of `entries` is covered here; `self` (this process) holds all its own writes. */
  covers(entries: readonly CoverEntry[], self: { name: string; id: string }): boolean {
    for (const [name, id, r] of entries) {
      if (name === self.name && id === self.id) continue;
      const mine = this.byOrigin.get(keyOf(name, id))?.r;
      if (!contains(mine ?? [], r)) return false;
    }
    return true;
  }

  /** The cover on the wire, with this process's own writes 1..lastSeq (all of them here). */
  entries(self: { name: string; id: string }, lastSeq: number): CoverEntry[] {
    const out: CoverEntry[] = [];
    // Copies: the ranges grow in place, and a cover is what was held when it was asked.
    for (const o of this.byOrigin.values()) if (!(o.name === self.name && o.id === self.id)) out.push([o.name, o.id, o.r.slice()]);
    if (lastSeq > 0) out.push([self.name, self.id, [1, lastSeq]]);
    return out;
  }

  /** Origins tracked (metrics, tests). */
  get origins(): number {
    return this.byOrigin.size;
  }
}

/** Whether cover `have` (a peer's, off the wire) contains every seq of cover `want`. */
export function coverContains(have: readonly CoverEntry[], want: readonly CoverEntry[]): boolean {
  const by = new Map<string, Ranges>();
  for (const [name, id, r] of have) by.set(keyOf(name, id), r);
  for (const [name, id, r] of want) if (!contains(by.get(keyOf(name, id)) ?? [], r)) return false;
  return true;
}

/** `r` with [a, b] added, merged with ranges it overlaps or touches. */
function insert(r: Ranges, a: number, b: number): Ranges {
  if (a > b) return r;
  const n = r.length;
  // The common case: appending at or just past the end (the stream is in order).
  if (n === 0 || a > r[n - 1]! + 1) {
    r.push(a, b);
    return r;
  }
  if (a >= r[n - 2]!) {
    if (b > r[n - 1]!) r[n - 1] = b;
    return r;
  }
  const out: Ranges = [];
  let i = 0;
  while (i < n && r[i + 1]! + 1 < a) out.push(r[i]!, r[i + 1]!), (i += 2);
  let lo = a;
  let hi = b;
  while (i < n && r[i]! <= hi + 1) {
    lo = Math.min(lo, r[i]!);
    hi = Math.max(hi, r[i + 1]!);
    i += 2;
  }
  out.push(lo, hi);
  while (i < n) out.push(r[i]!, r[i + 1]!), (i += 2);
  return out;
}

/** Whether sorted disjoint `have` contains every seq of `want` (flat ranges, any order). */
function contains(have: Ranges, want: Ranges): boolean {
  for (let j = 0; j + 1 < want.length; j += 2) {
    const a = want[j]!;
    const b = want[j + 1]!;
    if (a > b) continue;
    // Binary search for the last range starting at or before a.
    let lo = 0;
    let hi = have.length / 2 - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (have[2 * mid]! <= a) (at = mid), (lo = mid + 1);
      else hi = mid - 1;
    }
    if (at < 0 || have[2 * at + 1]! < b) return false;
  }
  return true;
}

/** A cover off the wire, checked: entries of [string, string, ranges of positive integers]. */
export function coverFromWire(v: unknown): CoverEntry[] {
  if (!Array.isArray(v)) throw new Error("cover: not an array");
  return v.map((e: unknown) => {
    if (!Array.isArray(e) || e.length !== 3 || typeof e[0] !== "string" || typeof e[1] !== "string" || !isRanges(e[2])) {
      throw new Error("cover: a malformed entry");
    }
    return [e[0], e[1], e[2] as number[]] satisfies CoverEntry;
  });
}
