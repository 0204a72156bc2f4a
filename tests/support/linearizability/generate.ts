/**
 * Random lot histories that are linearizable by construction, for testing
 * the checker: clients call operations, each takes effect on a sequential
 * lot at one instant between its call and its return, and some answers are
 * lost (the client gives up with `unavailable`; the op may still take
 * effect later, or never). Also: mutations that make a history impossible.
 */
import { mulberry32 } from "./model.ts";
import type { LotOp, LotResult } from "./types.ts";

export interface GenOptions {
  seed: number;
  ops: number;
  clients: number;
  plates: number;
  spaces: number;
  /** share of operations that are reads (default 0.2) */
  reads?: number;
  /** chance an operation's answer is lost (default 0) */
  lost?: number;
}

export interface Generated {
  history: LotOp[];
  /** the order the operations took effect in (lost ones that never did are absent) */
  linearization: LotOp[];
}

export function plateName(i: number): string {
  return `P${String(i).padStart(2, "0")}`;
}

export function generateLotHistory(o: GenOptions): Generated {
  const rand = mulberry32(o.seed);
  const r = () => rand() / 4294967296;
  const pick = (k: number) => Math.floor(r() * k);
  const readShare = o.reads ?? 0.2;
  const lost = o.lost ?? 0;
  const lot = new Set<string>();
  const history: LotOp[] = [];
  const linearization: LotOp[] = [];
  // per client: the op in flight and, once it took effect, its answer
  const inFlight: ({ op: LotOp; answer: LotResult | null } | null)[] = Array.from({ length: o.clients }, () => null);
  const zombies: LotOp[] = []; // given up on, not yet taken effect
  let t = 0;

  const apply = (op: LotOp): LotResult => {
    linearization.push(op);
    const p = op.plate as string;
    if (op.kind === "read") return { ok: true, cars: [...lot].sort(), occupied: lot.size };
    if (op.kind === "unpark") return lot.delete(p) ? { ok: true } : { ok: false, code: "not_parked" };
    if (lot.has(p)) return { ok: true };
    if (lot.size >= o.spaces) return { ok: false, code: "lot_full" };
    lot.add(p);
    return { ok: true };
  };

  while (history.length < o.ops || inFlight.some((f) => f !== null)) {
    t += 1 + pick(3);
    const c = pick(o.clients);
    const f = inFlight[c];
    if (zombies.length > 0 && r() < 0.05) {
      apply(zombies.splice(pick(zombies.length), 1)[0]);
      continue;
    }
    if (f === null) {
      if (history.length >= o.ops) continue;
      const x = r();
      const kind = x < readShare ? "read" : x < readShare + (1 - readShare) * 0.55 ? "park" : "unpark";
      const op: LotOp = { id: history.length, client: c, kind, plate: kind === "read" ? undefined : plateName(pick(o.plates)), call: t, ret: null, result: null };
      history.push(op);
      inFlight[c] = { op, answer: null };
    } else if (f.answer === null) {
      if (r() < lost) {
        // The client gives up before the op took effect; it may still, later.
        f.op.result = { ok: false, code: "unavailable" };
        f.op.ret = r() < 0.5 ? t : null;
        zombies.push(f.op);
        inFlight[c] = null;
      } else f.answer = apply(f.op);
    } else {
      f.op.ret = t;
      f.op.result = r() < lost ? { ok: false, code: "unavailable" } : f.answer;
      inFlight[c] = null;
    }
  }
  return { history, linearization };
}

/**
 * Change one definite answer into one no ordering can give: a read of more
 * cars than spaces or of a plate nobody parks, park -> not_parked, unpark ->
 * lot_full. Returns the changed op's id, or null if no op has a definite answer.
 */
export function mutateImpossible(history: LotOp[], spaces: number, seed: number): number | string | null {
  const rand = mulberry32(seed);
  const definite = history.filter((op) => op.ret !== null && op.result !== null && (op.result.ok || op.result.code === "lot_full" || op.result.code === "not_parked"));
  if (definite.length === 0) return null;
  const op = definite[rand() % definite.length];
  if (op.kind === "park") op.result = { ok: false, code: "not_parked" };
  else if (op.kind === "unpark") op.result = { ok: false, code: "lot_full" };
  else if (rand() % 2 === 0) {
    const cars = Array.from({ length: spaces + 1 }, (_, i) => plateName(i));
    op.result = { ok: true, cars, occupied: cars.length };
  } else {
    const cars = op.result !== null && op.result.ok && "cars" in op.result ? op.result.cars : [];
    op.result = { ok: true, cars: [...cars, "NEVER-PARKED"].sort() };
  }
  return op.id;
}

/**
 * In a history with no overlap the order is forced, so any other answer is
 * wrong: flip one definite answer to a different plausible one (ok <->
 * lot_full, ok <-> not_parked, a read with one plate more or less).
 */
export function mutatePlausible(history: LotOp[], plates: number, seed: number): number | string | null {
  const rand = mulberry32(seed);
  const definite = history.filter((op) => op.ret !== null && op.result !== null && (op.result.ok || op.result.code === "lot_full" || op.result.code === "not_parked"));
  if (definite.length === 0) return null;
  const op = definite[rand() % definite.length];
  const res = op.result as LotResult;
  if (op.kind === "park") op.result = res.ok ? { ok: false, code: "lot_full" } : { ok: true };
  else if (op.kind === "unpark") op.result = res.ok ? { ok: false, code: "not_parked" } : { ok: true };
  else {
    const cars = res.ok && "cars" in res ? res.cars : [];
    const p = plateName(rand() % plates);
    const changed = cars.includes(p) ? cars.filter((x) => x !== p) : [...cars, p].sort();
    op.result = { ok: true, cars: changed };
  }
  return op.id;
}
