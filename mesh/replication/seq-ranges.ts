/**
 * Sets of write sequence numbers on the wire as flat inclusive ranges
 * `[a1, b1, a2, b2, ...]`: a batch of consecutive writes acks in two numbers.
 */

/** Ranges of `seqs` (any order, duplicates allowed). */
export function toRanges(seqs: readonly number[]): number[] {
  if (seqs.length === 0) return [];
  const sorted = isAscending(seqs) ? seqs : [...seqs].sort((a, b) => a - b);
  const out: number[] = [];
  let start = sorted[0]!;
  let end = start;
  for (let i = 1; i < sorted.length; i++) {
    const s = sorted[i]!;
    if (s === end || s === end + 1) {
      end = s;
      continue;
    }
    out.push(start, end);
    start = end = s;
  }
  out.push(start, end);
  return out;
}

function isAscending(a: readonly number[]): boolean {
  for (let i = 1; i < a.length; i++) if (a[i]! < a[i - 1]!) return false;
  return true;
}

/** Whether `v` is a well-formed range list (at most `maxRanges` ranges). */
export function isRanges(v: unknown, maxRanges = 1 << 20): v is number[] {
  if (!Array.isArray(v) || v.length % 2 !== 0 || v.length / 2 > maxRanges) return false;
  for (let i = 0; i < v.length; i += 2) {
    const a = v[i];
    const b = v[i + 1];
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || (a as number) < 1 || (b as number) < (a as number)) return false;
  }
  return true;
}

/** What forEachKnown needs of a table by seq (a Map or a SeqTable). */
export interface SeqLookup<T> {
  readonly size: number;
  get(seq: number): T | undefined;
  [Symbol.iterator](): Iterator<[number, T]>;
}

/**
 * Call `fn` for each seq in `ranges` that is a key of `known`. Never walks a
 * range wider than `known` itself, so a hostile `[1, 2^53]` costs no more
 * than one pass over what we hold.
 */
export function forEachKnown<T>(ranges: readonly number[], known: SeqLookup<T>, fn: (seq: number, v: T) => void): void {
  for (let i = 0; i < ranges.length; i += 2) {
    const a = ranges[i]!;
    const b = ranges[i + 1]!;
    if (b - a + 1 <= known.size) {
      for (let s = a; s <= b; s++) {
        const v = known.get(s);
        if (v !== undefined) fn(s, v);
      }
    } else {
      for (const [s, v] of known) if (s >= a && s <= b) fn(s, v);
    }
  }
}

/** How many seqs the ranges cover (for counters). */
export function rangeCount(ranges: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < ranges.length; i += 2) n += ranges[i + 1]! - ranges[i]! + 1;
  return n;
}
