/**
 * Records a history for checkLot as clients run: the call time when an
 * operation starts, the return time and answer when it ends, all on one
 * clock (the simulator's virtual time, or performance.now() across real
 * processes driven from one test process). An operation that never ends,
 * or ends in an exception, is indeterminate (ret null).
 */
import type { LotHistory, LotOp, LotOpKind, LotResult } from "./types.ts";

export interface HistoryRecorder {
  /** Start an operation now; call the returned function with its answer when it ends. */
  invoke(client: number | string, kind: LotOpKind, plate?: string): (result: LotResult) => void;
  /**
   * Run `fn` as one operation. A thrown error is recorded as an unanswered
   * `unavailable` (it may or may not have taken effect) and returned as that
   * result, not rethrown, so a client loop can carry on.
   */
  run(client: number | string, kind: LotOpKind, plate: string | undefined, fn: () => Promise<LotResult>): Promise<LotResult>;
  /** A copy of everything recorded so far; operations still running have ret null. */
  history(): LotHistory;
}

export function historyRecorder(clock: () => number): HistoryRecorder {
  const ops: LotOp[] = [];
  const start = (client: number | string, kind: LotOpKind, plate?: string): LotOp => {
    if (kind !== "read" && typeof plate !== "string") throw new TypeError(`${kind} needs a plate`);
    const op: LotOp = { id: ops.length, client, kind, plate, call: clock(), ret: null, result: null };
    ops.push(op);
    return op;
  };
  const finisher = (op: LotOp) => {
    return (result: LotResult) => {
      if (op.result !== null) throw new Error(`op #${op.id} completed twice`);
      op.ret = clock();
      op.result = result;
    };
  };
  return {
    invoke: (client, kind, plate) => finisher(start(client, kind, plate)),
    async run(client, kind, plate, fn) {
      const op = start(client, kind, plate);
      const done = finisher(op);
      let result: LotResult;
      try {
        result = await fn();
      } catch (e) {
        result = { ok: false, code: "unavailable", message: e instanceof Error ? e.message : String(e) };
        op.result = result; // ret stays null: no answer came
        return result;
      }
      done(result);
      return result;
    },
    history: () => ops.map((o) => ({ ...o })),
  };
}
