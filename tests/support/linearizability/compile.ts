/**
 * Turns a history into the search's input: drops what constrains nothing
 * (unanswered or refused reads, refusals before any effect), classifies each
 * remaining answer as definite or indeterminate, and interns plates.
 */
import { type CompiledOp, Expect, LotModel, mulberry32, PARK, READ, UNPARK } from "./model.ts";
import type { LotHistory, LotOp } from "./types.ts";

export const DEFAULT_NO_EFFECT = ["invalid_name", "unknown_gate", "bad_request", "unauthorized", "payload_too_large"];

export interface Compiled {
  model: LotModel;
  ops: CompiledOp[];
  dropped: number;
}

export function compile(history: LotHistory, spaces: number, noEffect: ReadonlySet<string>): Compiled {
  if (!Number.isInteger(spaces) || spaces < 0) throw new TypeError(`spaces must be a whole number >= 0, got ${spaces}`);
  const kept: { op: LotOp; expect: Expect }[] = [];
  const plateIndex = new Map<string, number>();
  let dropped = 0;
  for (const op of history) {
    const bad = (why: string) => new TypeError(`history op #${op.id}: ${why}`);
    if (typeof op.call !== "number" || !Number.isFinite(op.call)) throw bad("call must be a finite number");
    if (op.ret !== null && (typeof op.ret !== "number" || !(op.ret >= op.call))) throw bad("ret must be null or a number >= call");
    const r = op.result;
    if (op.kind === "read") {
      // An unanswered or refused read says nothing about the lot.
      if (op.ret === null || r === null || !r.ok) {
        dropped++;
        continue;
      }
      if (!("cars" in r) || !Array.isArray(r.cars)) throw bad("a successful read needs cars: string[]");
      kept.push({ op, expect: Expect.Ok });
      continue;
    }
    if (op.kind !== "park" && op.kind !== "unpark") throw bad(`unknown kind ${JSON.stringify(op.kind)}`);
    if (typeof op.plate !== "string") throw bad(`${op.kind} needs a plate`);
    let expect: Expect;
    if (op.ret === null || r === null) expect = Expect.Any;
    else if (r.ok) {
      const already = op.kind === "park" && "already" in r ? r.already : undefined;
      expect = already === true ? Expect.OkAlready : already === false ? Expect.OkFresh : Expect.Ok;
    } else if (r.code === "lot_full") expect = op.kind === "park" ? Expect.LotFull : Expect.Impossible;
    else if (r.code === "not_parked") expect = op.kind === "unpark" ? Expect.NotParked : Expect.Impossible;
    else if (noEffect.has(r.code)) {
      dropped++;
      continue;
    } else expect = Expect.Any;
    if (!plateIndex.has(op.plate)) plateIndex.set(op.plate, plateIndex.size);
    kept.push({ op, expect });
  }
  const rand = mulberry32(0x10c0ffee);
  const model = new LotModel(spaces, [...plateIndex.keys()], rand);
  const ops = kept.map(({ op, expect }, index): CompiledOp => {
    const kind = op.kind === "park" ? PARK : op.kind === "unpark" ? UNPARK : READ;
    let seen: Uint32Array | null = null;
    if (kind === READ && op.result !== null && op.result.ok && "cars" in op.result) {
      const { cars, occupied } = op.result;
      seen = model.bitsOf(cars, plateIndex);
      // More cars than spaces, a plate nobody parked, a plate twice, or a
      // count that disagrees with the list: no state of the lot looks like that.
      if (seen === null || cars.length > spaces || (occupied !== undefined && occupied !== cars.length)) expect = Expect.Impossible;
    }
    const plate = kind === READ ? -1 : (plateIndex.get(op.plate as string) as number);
    return { index, op, kind, plate, expect, seen, zLo: rand(), zHi: rand() };
  });
  return { model, ops, dropped };
}

