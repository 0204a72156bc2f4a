/**
 * A linearizability checker for the parking lot: Wing & Gong's search with
 * Lowe's just-in-time linearization and a memo of (linearized set, lot state),
 * the algorithm Porcupine uses. Histories are never split per plate: the
 * lot's capacity couples all plates and a read sees them all at once, so
 * per-plate sub-histories can each be linearizable while the whole is not.
 */
import { type CompiledOp, describeOp, Expect, LotModel, type LotState, mulberry32, PARK, READ, UNPARK } from "./model.ts";
import type { CheckOptions, CheckResult, CheckStats, LotHistory, LotOp } from "./types.ts";

const DEFAULT_NO_EFFECT = ["invalid_name", "unknown_gate", "bad_request", "unauthorized", "payload_too_large"];

interface Compiled {
  model: LotModel;
  ops: CompiledOp[];
  dropped: number;
}

function compile(history: LotHistory, spaces: number, noEffect: ReadonlySet<string>): Compiled {
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

/**
 * Is `history` linearizable with respect to a lot of `spaces` spaces that
 * starts empty? `{ ok: true }`, `{ ok: false, reason, longestPrefix, ... }`,
 * or `{ ok: "unknown" }` when the step or time budget runs out.
 */
export function checkLot(history: LotHistory, spaces: number, opts: CheckOptions = {}): CheckResult {
  const now = opts.now ?? (() => performance.now());
  const started = now();
  const maxSteps = opts.maxSteps ?? 20_000_000;
  const maxMs = opts.maxMs ?? 20_000;
  const { model, ops, dropped } = compile(history, spaces, new Set(opts.noEffectCodes ?? DEFAULT_NO_EFFECT));
  const n = ops.length;
  const definite = ops.filter((o) => o.expect !== Expect.Any).length;

  // Events: a call for every op, a return for every definite one (an
  // indeterminate op returns at +infinity: it has none). Equal times put
  // calls first, so touching intervals count as concurrent.
  const events: { time: number; call: boolean; op: number }[] = [];
  for (const o of ops) {
    events.push({ time: o.op.call, call: true, op: o.index });
    if (o.expect !== Expect.Any) events.push({ time: o.op.ret as number, call: false, op: o.index });
  }
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));

  // A doubly linked list of events: node 0 the head, node E+1 the tail.
  const E = events.length;
  const next = new Int32Array(E + 2);
  const prev = new Int32Array(E + 2);
  const nodeOp = new Int32Array(E + 2).fill(-1);
  const isCall = new Uint8Array(E + 2);
  const callNode = new Int32Array(n);
  const retNode = new Int32Array(n).fill(-1);
  for (let i = 0; i <= E + 1; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  events.forEach((ev, i) => {
    nodeOp[i + 1] = ev.op;
    isCall[i + 1] = ev.call ? 1 : 0;
    if (ev.call) callNode[ev.op] = i + 1;
    else retNode[ev.op] = i + 1;
  });
  const TAIL = E + 1;
  const unlink = (x: number) => {
    next[prev[x]] = next[x];
    prev[next[x]] = prev[x];
  };
  const relink = (x: number) => {
    next[prev[x]] = x;
    prev[next[x]] = x;
  };
  const lift = (op: number) => {
    unlink(callNode[op]);
    if (retNode[op] >= 0) unlink(retNode[op]);
  };
  const unlift = (op: number) => {
    if (retNode[op] >= 0) relink(retNode[op]);
    relink(callNode[op]);
  };

  // The memo: configurations already explored, keyed by a Zobrist hash.
  const linWords = Math.max(1, Math.ceil(n / 32));
  const lin = new Uint32Array(linWords);
  let linLo = 0;
  let linHi = 0;
  const cache = new Map<number, { lin: Uint32Array; bits: Uint32Array }[]>();
  let cached = 0;
  const remember = (s: LotState): boolean => {
    const key = ((linHi ^ s.hHi) & 0x1fffff) * 4294967296 + ((linLo ^ s.hLo) >>> 0);
    let bucket = cache.get(key);
    if (bucket === undefined) {
      bucket = [];
      cache.set(key, bucket);
    } else {
      outer: for (const c of bucket) {
        for (let w = 0; w < linWords; w++) if (c.lin[w] !== lin[w]) continue outer;
        for (let w = 0; w < s.bits.length; w++) if (c.bits[w] !== s.bits[w]) continue outer;
        return false;
      }
    }
    bucket.push({ lin: lin.slice(), bits: s.bits });
    cached++;
    return true;
  };
  const flip = (o: CompiledOp) => {
    lin[o.index >>> 5] ^= 1 << (o.index & 31);
    linLo = (linLo ^ o.zLo) >>> 0;
    linHi = (linHi ^ o.zHi) >>> 0;
  };

  const stackOp: number[] = [];
  const stackState: LotState[] = [];
  let state = model.empty();
  let remaining = definite;
  let steps = 0;
  // What the failure report shows: the deepest point reached and the op stuck there.
  let bestDepth = -1;
  let bestPrefix: number[] = [];
  let bestState = state;
  let stuck = -1;
  let candidates: number[] = [];
  const stats = (): CheckStats => ({ steps, cached, elapsedMs: now() - started, definite, indeterminate: n - definite, dropped });

  let node = next[0];
  while (remaining > 0) {
    if (++steps > maxSteps || ((steps & 1023) === 0 && now() - started > maxMs)) {
      const s = stats();
      return { ok: "unknown", reason: `gave up after ${s.steps} steps and ${Math.round(s.elapsedMs)} ms (deepest: ${bestDepth} of ${n} ops placed)`, ...s };
    }
    if (stackOp.length > bestDepth) {
      bestDepth = stackOp.length;
      bestPrefix = stackOp.slice();
      bestState = state;
      stuck = -1;
    }
    if (node === TAIL) throw new Error("checkLot: internal error, walked past the last return");
    const o = ops[nodeOp[node]];
    if (isCall[node]) {
      const after = model.step(o, state);
      if (after !== null) {
        flip(o);
        if (remember(after)) {
          stackOp.push(o.index);
          stackState.push(state);
          state = after;
          lift(o.index);
          if (o.expect !== Expect.Any) remaining--;
          node = next[0];
          continue;
        }
        flip(o);
      }
      node = next[node];
      continue;
    }
    // A return: the op it ends can no longer be placed later. Back up.
    if (stackOp.length === bestDepth && stuck < 0) {
      stuck = o.index;
      candidates = [];
      for (let x = next[0]; x !== node; x = next[x]) if (isCall[x]) candidates.push(nodeOp[x]);
    }
    if (stackOp.length === 0) break;
    const back = ops[stackOp.pop() as number];
    state = stackState.pop() as LotState;
    flip(back);
    unlift(back.index);
    if (back.expect !== Expect.Any) remaining++;
    node = next[callNode[back.index]];
  }
  const s = stats();
  if (remaining === 0) return { ok: true, ...s };

  const longestPrefix = bestPrefix.map((i) => ops[i].op);
  const carsAfterPrefix = model.cars(bestState);
  const stuckOp = stuck >= 0 ? ops[stuck].op : null;
  const cands = candidates.map((i) => ops[i].op);
  const list = (xs: LotOp[], max: number) =>
    xs.length === 0 ? "  (none)" : xs.slice(-max).map((x) => `  ${describeOp(x)}`).join("\n") + (xs.length > max ? `\n  (${xs.length - max} more)` : "");
  const reason = [
    `not linearizable: no order of the ${n} operations explains`,
    `  ${stuckOp ? describeOp(stuckOp) : "(unknown)"}`,
    `after the longest linearizable prefix found (${longestPrefix.length} ops), the lot holds [${carsAfterPrefix.join(", ")}] (${carsAfterPrefix.length} of ${spaces} spaces).`,
    `Operations that could still have gone first:`,
    list(cands, 12),
    `The prefix's last operations:`,
    list(longestPrefix, 8),
  ].join("\n");
  return { ok: false, reason, longestPrefix, stuck: stuckOp, carsAfterPrefix, candidates: cands, ...s };
}
