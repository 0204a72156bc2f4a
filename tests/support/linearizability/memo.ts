/**
 * The search's memo: configurations already explored, each a (set of placed
 * definite ops, set of placed indeterminate ops, lot state). Keyed by a
 * Zobrist hash of the definite set and the state, so a step updates the key
 * in O(1) and a lookup compares a few words.
 *
 * Dominance, not just equality: a configuration with the same definite ops
 * placed and the same state as one already explored, but with MORE
 * indeterminate ops placed, can do nothing the explored one could not (an
 * indeterminate op may always stay unplaced to the end), so it is pruned too.
 * This holds even against a configuration still on the search's stack: every
 * completion of the pruned one is a completion of that one, which the search
 * is still exploring. (The brute-force test in property.test.ts fails if the
 * subset test is turned around.) Without this, every subset of lost answers
 * that leaves the lot the same would be explored again.
 */
import type { CompiledOp, LotState } from "./model.ts";

interface MemoEntry {
  def: Uint32Array;
  ind: Uint32Array;
  bits: Uint32Array;
}

function same(a: Uint32Array, b: Uint32Array): boolean {
  for (let w = 0; w < a.length; w++) if (a[w] !== b[w]) return false;
  return true;
}

/** a ⊆ b */
function subset(a: Uint32Array, b: Uint32Array): boolean {
  for (let w = 0; w < a.length; w++) if ((a[w] & ~b[w]) !== 0) return false;
  return true;
}

export class Memo {
  private readonly def: Uint32Array;
  private readonly ind: Uint32Array;
  private lo = 0;
  private hi = 0;
  private readonly buckets = new Map<number, MemoEntry[]>();
  size = 0;

  constructor(ops: number, indeterminate: number) {
    this.def = new Uint32Array(Math.max(1, Math.ceil(ops / 32)));
    this.ind = new Uint32Array(Math.max(1, Math.ceil(indeterminate / 32)));
  }

  /** Toggle an op in the placed sets: a definite one by its index, an indeterminate one by `indPos` (>= 0). */
  flip(o: CompiledOp, indPos: number): void {
    if (indPos >= 0) {
      this.ind[indPos >>> 5] ^= 1 << (indPos & 31);
      return;
    }
    this.def[o.index >>> 5] ^= 1 << (o.index & 31);
    this.lo = (this.lo ^ o.zLo) >>> 0;
    this.hi = (this.hi ^ o.zHi) >>> 0;
  }

  hasInd(indPos: number): boolean {
    return (this.ind[indPos >>> 5] & (1 << (indPos & 31))) !== 0;
  }

  /** Record the current placed sets with state `s`; false if an explored configuration dominates it. */
  add(s: LotState): boolean {
    const key = ((this.hi ^ s.hHi) & 0x1fffff) * 4294967296 + ((this.lo ^ s.hLo) >>> 0);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(key, bucket);
    }
    let dominated = 0;
    for (const e of bucket) {
      if (!same(e.bits, s.bits) || !same(e.def, this.def)) continue;
      if (subset(e.ind, this.ind)) return false;
      if (subset(this.ind, e.ind)) dominated++;
    }
    if (dominated > 0) {
      // Entries the new one dominates prune nothing it does not: drop them.
      const kept = bucket.filter((e) => !(same(e.bits, s.bits) && same(e.def, this.def) && subset(this.ind, e.ind)));
      this.size -= bucket.length - kept.length;
      bucket = kept;
      this.buckets.set(key, bucket);
    }
    bucket.push({ def: this.def.slice(), ind: this.ind.slice(), bits: s.bits });
    this.size++;
    return true;
  }
}
