/**
 * A linearizability checker for the parking lot: Wing & Gong's search with
 * Lowe's just-in-time linearization and a memo of (linearized set, lot state),
 * the algorithm Porcupine uses, plus three prunings for indeterminate ops
 * (each argued where it is applied). Histories are never split per plate:
 * the lot's capacity couples all plates and a read sees them all at once, so
 * per-plate sub-histories can each be linearizable while the whole is not.
 */
import { compile, DEFAULT_NO_EFFECT } from "./compile.ts";
import { type CompiledOp, describeOp, Expect, type LotState } from "./model.ts";
import { Memo } from "./memo.ts";
import type { CheckOptions, CheckResult, CheckStats, LotHistory, LotOp } from "./types.ts";

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
  const isDef = (o: CompiledOp) => o.expect !== Expect.Any;
  const def = ops.filter(isDef);
  const ind = ops.filter((o) => !isDef(o));
  let steps = 0;
  const memo = new Memo(n, ind.length);
  const stats = (): CheckStats => ({ steps, cached: memo.size, elapsedMs: now() - started, definite: def.length, indeterminate: ind.length, dropped });
  const fail = (stuck: LotOp | null, longestPrefix: LotOp[], carsAfterPrefix: string[], candidates: LotOp[], why: string): CheckResult => {
    const list = (xs: LotOp[], max: number) =>
      xs.length === 0 ? "  (none)" : xs.slice(-max).map((x) => `  ${describeOp(x)}`).join("\n") + (xs.length > max ? `\n  (and ${xs.length - max} before)` : "");
    const reason = [
      `not linearizable: ${why}`,
      `  ${stuck ? describeOp(stuck) : "(none)"}`,
      `after the longest linearizable prefix found (${longestPrefix.length} ops), the lot holds [${carsAfterPrefix.join(", ")}] (${carsAfterPrefix.length} of ${spaces} spaces).`,
      "Operations that could still have gone first:",
      list(candidates, 12),
      "The prefix's last operations:",
      list(longestPrefix, 8),
    ].join("\n");
    return { ok: false, reason, longestPrefix, stuck, carsAfterPrefix, candidates, ...stats() };
  };

  // An answer no state of the lot gives (park -> not_parked, a read of more
  // cars than spaces...) can never be placed: say so without searching.
  const impossible = def.find((o) => o.expect === Expect.Impossible);
  if (impossible) return fail(impossible.op, [], [], [], "no state of the lot gives the answer of");

  // Positions in time order; equal times put calls first, so touching
  // intervals count as concurrent. An indeterminate op returns at +infinity:
  // it has a call and no return.
  const events: { time: number; call: boolean; op: number }[] = [];
  for (const o of ops) {
    events.push({ time: o.op.call, call: true, op: o.index });
    if (isDef(o)) events.push({ time: o.op.ret as number, call: false, op: o.index });
  }
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
  const callPos = new Int32Array(n);
  events.forEach((ev, i) => {
    if (ev.call) callPos[ev.op] = i;
  });

  // Definite ops' events in one linked list (node 0 the head, last the tail);
  // indeterminate ops in a second, by call. Lowe's search considers only ops
  // called before the first return still in the list.
  const defEvents = events.filter((ev) => isDef(ops[ev.op]));
  const E = defEvents.length;
  const next = new Int32Array(E + 2);
  const prev = new Int32Array(E + 2);
  const nodeOp = new Int32Array(E + 2).fill(-1);
  const nodePos = new Int32Array(E + 2);
  const isCall = new Uint8Array(E + 2);
  const callNode = new Int32Array(n).fill(-1);
  const retNode = new Int32Array(n).fill(-1);
  for (let i = 0; i <= E + 1; i++) [next[i], prev[i]] = [i + 1, i - 1];
  defEvents.forEach((ev, i) => {
    nodeOp[i + 1] = ev.op;
    isCall[i + 1] = ev.call ? 1 : 0;
    (ev.call ? callNode : retNode)[ev.op] = i + 1;
  });
  events.forEach((ev, i) => {
    if (!ev.call) nodePos[retNode[ev.op]] = i;
  });
  const TAIL = E + 1;
  const unlink = (nx: Int32Array, pv: Int32Array, x: number) => {
    nx[pv[x]] = nx[x];
    pv[nx[x]] = pv[x];
  };
  const relink = (nx: Int32Array, pv: Int32Array, x: number) => {
    nx[pv[x]] = x;
    pv[nx[x]] = x;
  };

  const K = ind.length;
  ind.sort((a, b) => callPos[a.index] - callPos[b.index]);
  const indSlot = new Int32Array(n).fill(-1); // op -> position 1..K in the second list
  ind.forEach((o, j) => (indSlot[o.index] = j + 1));
  const inext = new Int32Array(K + 2);
  const iprev = new Int32Array(K + 2);
  for (let i = 0; i <= K + 1; i++) [inext[i], iprev[i]] = [i + 1, i - 1];
  // Twins: indeterminate ops with the same kind and plate are interchangeable
  // (same effect, no answer to match, no return), so the earlier-called one
  // can stand in for the later wherever it goes: place them in call order.
  const twin = new Int32Array(K + 2).fill(-1);
  const lastOf = new Map<string, number>();
  ind.forEach((o, j) => {
    const key = `${o.kind}:${o.plate}`;
    twin[j + 1] = lastOf.get(key) ?? -1;
    lastOf.set(key, j + 1);
  });

  const stackOp: number[] = [];
  const stackState: LotState[] = [];
  const stackBound: number[] = []; // the first return's node (R) of the configuration an op was placed in
  let state = model.empty();
  let remaining = def.length;
  let bestDepth = -1;
  let bestPrefix: number[] = [];
  let bestState = state;
  let stuck = -1;
  let candidates: number[] = [];

  const place = (o: CompiledOp, after: LotState, bound: number) => {
    stackOp.push(o.index);
    stackState.push(state);
    stackBound.push(bound);
    state = after;
    if (isDef(o)) {
      unlink(next, prev, callNode[o.index]);
      unlink(next, prev, retNode[o.index]);
      remaining--;
    } else unlink(inext, iprev, indSlot[o.index]);
  };
  const unplace = (o: CompiledOp) => {
    memo.flip(o, isDef(o) ? -1 : indSlot[o.index] - 1);
    if (isDef(o)) {
      relink(next, prev, retNode[o.index]);
      relink(next, prev, callNode[o.index]);
      remaining++;
    } else relink(inext, iprev, indSlot[o.index]);
  };
  const tryStep = (o: CompiledOp): LotState | null => {
    const after = model.step(o, state);
    if (after === null) return null;
    memo.flip(o, isDef(o) ? -1 : indSlot[o.index] - 1);
    if (memo.add(after)) return after;
    memo.flip(o, isDef(o) ? -1 : indSlot[o.index] - 1);
    return null;
  };

  const firstReturn = () => {
    let x = next[0];
    while (isCall[x]) x = next[x];
    return x;
  };
  // At each configuration the candidates are the ops called before the first
  // return still listed (R): indeterminate ones first (measured: trying them
  // first, as Porcupine's single list does, explores far fewer
  // configurations than trying them last), then definite ones.
  let R = firstReturn();
  let defPhase = false;
  let node = next[0];
  let inode = inext[0];
  const enter = () => {
    R = firstReturn();
    defPhase = false;
    node = next[0];
    inode = inext[0];
  };
  while (remaining > 0) {
    if (++steps > maxSteps || ((steps & 1023) === 0 && now() - started > maxMs)) {
      const s = stats();
      return { ok: "unknown", reason: `gave up after ${s.steps} steps and ${Math.round(s.elapsedMs)} ms (at best ${bestDepth} of ${def.length} definite ops placed)`, ...s };
    }
    const placedDef = def.length - remaining;
    if (placedDef > bestDepth) {
      bestDepth = placedDef;
      bestPrefix = stackOp.slice();
      bestState = state;
      stuck = -1;
    }
    if (defPhase) {
      if (node !== R) {
        const o = ops[nodeOp[node]];
        const after = tryStep(o);
        if (after !== null) {
          place(o, after, R);
          enter();
        } else node = next[node];
        continue;
      }
    } else {
      if (inode !== K + 1 && callPos[ind[inode - 1].index] < nodePos[R]) {
        const o = ind[inode - 1];
        // An indeterminate op that changes nothing here is never needed here:
        // it can always be placed at the very end instead (model.step says null).
        const after = twin[inode] >= 0 && !memo.hasInd(twin[inode] - 1) ? null : tryStep(o);
        if (after !== null) {
          place(o, after, R);
          enter();
        } else inode = inext[inode];
        continue;
      }
      defPhase = true;
      node = next[0];
      continue;
    }
    // Nothing can go before the op returning at R: back up.
    if (placedDef === bestDepth && stuck < 0) {
      stuck = nodeOp[R];
      candidates = [];
      for (let x = next[0]; x !== R; x = next[x]) if (isCall[x]) candidates.push(nodeOp[x]);
      for (let j = inext[0]; j !== K + 1 && callPos[ind[j - 1].index] < nodePos[R]; j = inext[j]) candidates.push(ind[j - 1].index);
    }
    if (stackOp.length === 0) break;
    const back = ops[stackOp.pop() as number];
    state = stackState.pop() as LotState;
    R = stackBound.pop() as number;
    unplace(back);
    if (isDef(back)) {
      defPhase = true;
      node = next[callNode[back.index]];
    } else {
      defPhase = false;
      inode = inext[indSlot[back.index]];
    }
  }
  if (remaining === 0) return { ok: true, ...stats() };
  const opsOf = (xs: number[]) => xs.map((i) => ops[i].op);
  return fail(stuck >= 0 ? ops[stuck].op : null, opsOf(bestPrefix), model.cars(bestState), opsOf(candidates), "no order of the operations explains");
}
