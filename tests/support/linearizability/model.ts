/**
 * The lot's sequential specification, compiled for the search: plates become
 * bit positions, the lot's state a small bitset with a Zobrist hash (so a
 * state hashes in O(1) and compares in a few words), and every operation's
 * observed answer an expectation the model must meet.
 *
 * The specification (gates ignored):
 *   park(p):   p parked -> ok (no-op); count == spaces -> lot_full; else ok, p added
 *   unpark(p): p not parked -> not_parked; else ok, p removed
 *   read():    ok, the set of plates parked (and its size)
 */
import type { LotOp, LotResult } from "./types.ts";

export const PARK = 0;
export const UNPARK = 1;
export const READ = 2;

/** What an operation's answer demands of the model at its linearization point. */
export const Expect = {
  /** ok; for park, already parked or not */
  Ok: 0,
  /** park ok with `already: false` */
  OkFresh: 1,
  /** park ok with `already: true` */
  OkAlready: 2,
  LotFull: 3,
  NotParked: 4,
  /** an answer the model never gives (park -> not_parked, a read of an unknown plate...) */
  Impossible: 5,
  /** indeterminate: any outcome, possibly never */
  Any: 6,
} as const;
export type Expect = (typeof Expect)[keyof typeof Expect];

export interface CompiledOp {
  /** position in the checker's op arrays (also its bit in the linearized set) */
  index: number;
  op: LotOp;
  kind: typeof PARK | typeof UNPARK | typeof READ;
  /** bit position of the plate (-1 for reads) */
  plate: number;
  expect: Expect;
  /** a read's expected set of plates */
  seen: Uint32Array | null;
  /** Zobrist key of this op in the linearized set */
  zLo: number;
  zHi: number;
}

export interface LotState {
  bits: Uint32Array;
  count: number;
  hLo: number;
  hHi: number;
}

/** A small deterministic PRNG for the Zobrist keys (no Math.random: runs are reproducible). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

export class LotModel {
  readonly words: number;
  readonly plateNames: string[];
  private readonly pLo: Uint32Array;
  private readonly pHi: Uint32Array;

  constructor(
    readonly spaces: number,
    plates: readonly string[],
    rand: () => number,
  ) {
    this.plateNames = [...plates];
    this.words = Math.max(1, Math.ceil(plates.length / 32));
    this.pLo = new Uint32Array(plates.length);
    this.pHi = new Uint32Array(plates.length);
    for (let i = 0; i < plates.length; i++) {
      this.pLo[i] = rand();
      this.pHi[i] = rand();
    }
  }

  empty(): LotState {
    return { bits: new Uint32Array(this.words), count: 0, hLo: 0, hHi: 0 };
  }

  /** The set of plates as a bitset, or null if a plate is unknown or repeated. */
  bitsOf(plates: readonly string[], index: ReadonlyMap<string, number>): Uint32Array | null {
    const bits = new Uint32Array(this.words);
    for (const p of plates) {
      const i = index.get(p);
      if (i === undefined) return null;
      const w = i >>> 5;
      const b = 1 << (i & 31);
      if (bits[w] & b) return null;
      bits[w] |= b;
    }
    return bits;
  }

  has(s: LotState, plate: number): boolean {
    return (s.bits[plate >>> 5] & (1 << (plate & 31))) !== 0;
  }

  private toggle(s: LotState, plate: number, delta: 1 | -1): LotState {
    const bits = s.bits.slice();
    bits[plate >>> 5] ^= 1 << (plate & 31);
    return { bits, count: s.count + delta, hLo: (s.hLo ^ this.pLo[plate]) >>> 0, hHi: (s.hHi ^ this.pHi[plate]) >>> 0 };
  }

  /**
   * The state after `op` at this point, or null if its answer cannot be given
   * here. An indeterminate op that would change nothing here also gets null:
   * placing it here is never needed, since an op that may not have happened
   * can always be placed at the very end instead, where it constrains nothing.
   */
  step(op: CompiledOp, s: LotState): LotState | null {
    const e = op.expect;
    if (e === Expect.Impossible) return null;
    if (op.kind === READ) {
      if (op.seen === null) return null;
      for (let w = 0; w < this.words; w++) if (op.seen[w] !== s.bits[w]) return null;
      return s;
    }
    const parked = this.has(s, op.plate);
    if (op.kind === PARK) {
      if (parked) return e === Expect.Ok || e === Expect.OkAlready ? s : null;
      if (s.count >= this.spaces) return e === Expect.LotFull ? s : null;
      return e === Expect.Ok || e === Expect.OkFresh || e === Expect.Any ? this.toggle(s, op.plate, 1) : null;
    }
    if (!parked) return e === Expect.NotParked ? s : null;
    return e === Expect.Ok || e === Expect.Any ? this.toggle(s, op.plate, -1) : null;
  }

  cars(s: LotState): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.plateNames.length; i++) if (this.has(s, i)) out.push(this.plateNames[i]);
    return out.sort();
  }
}

/** One line for an operation in a failure report. */
export function describeOp(op: LotOp): string {
  const what = op.kind === "read" ? "read()" : `${op.kind}(${JSON.stringify(op.plate)})`;
  return `#${op.id} client ${op.client} ${what} -> ${describeResult(op.result)} [${op.call}, ${op.ret ?? "∞"}]`;
}

function describeResult(r: LotResult | null): string {
  if (r === null) return "(no answer)";
  if (!r.ok) return r.code;
  if ("cars" in r) return `ok [${[...r.cars].sort().join(", ")}]${r.occupied === undefined ? "" : ` occupied ${r.occupied}`}`;
  return r.already === undefined ? "ok" : r.already ? "ok (already)" : "ok (admitted)";
}
