/**
 * The history format the lot's linearizability checker reads: one record per
 * operation a client issued, with the times it was called and answered on
 * one clock (any monotonic number: simulated ms, performance.now(), a step
 * counter). Client ids only label the output; the checker needs no per-client
 * order beyond what the times say.
 */

export type LotOpKind = "park" | "unpark" | "read";

/** A park or unpark that succeeded; `already` (optional) says park found the car parked. */
export interface LotDone {
  ok: true;
  already?: boolean;
}

/** A read of the whole lot: the plates parked (any order) and, optionally, the count. */
export interface LotSeen {
  ok: true;
  cars: string[];
  occupied?: number;
}

/**
 * A refusal. `lot_full` (park) and `not_parked` (unpark) are outcomes of the
 * lot's sequential specification and must be justified by it. Codes listed
 * in `CheckOptions.noEffectCodes` are definite refusals before any effect
 * (e.g. `invalid_name`). Every other code (`unavailable`, a timeout,
 * `internal`...) is indeterminate: the operation may or may not take effect.
 */
export interface LotRefused {
  ok: false;
  code: string;
  message?: string;
}

export type LotResult = LotDone | LotSeen | LotRefused;

export interface LotOp {
  id: number | string;
  client: number | string;
  kind: LotOpKind;
  /** required for park and unpark */
  plate?: string;
  call: number;
  /** null: no answer ever came (the op is indeterminate) */
  ret: number | null;
  /** null only while pending (same as indeterminate) */
  result: LotResult | null;
}

export type LotHistory = readonly LotOp[];

export interface CheckOptions {
  /** Give up with `{ ok: "unknown" }` after this many search steps (default 20,000,000). */
  maxSteps?: number;
  /** ...or after this many milliseconds of wall time (default 20,000). */
  maxMs?: number;
  /** The clock the time budget is measured on (default performance.now). */
  now?: () => number;
  /**
   * Error codes that mean "refused before anything happened" for park and
   * unpark: such operations are dropped. Default: validation and auth errors
   * (`invalid_name`, `unknown_gate`, `bad_request`, `unauthorized`,
   * `payload_too_large`). Pass [] to treat every unknown code as indeterminate.
   */
  noEffectCodes?: readonly string[];
}

export interface CheckStats {
  /** search steps taken (one per operation tried or backtracked) */
  steps: number;
  /** distinct (linearized set, lot state) configurations memoized */
  cached: number;
  elapsedMs: number;
  /** operations the search had to place (definite ones) and could leave out (indeterminate) */
  definite: number;
  indeterminate: number;
  /** reads and no-effect refusals that constrain nothing and were dropped */
  dropped: number;
}

export type CheckResult =
  | ({ ok: true } & CheckStats)
  | ({
      ok: false;
      /** one paragraph for a test failure message */
      reason: string;
      /** the longest prefix of a linearization the search found, in order */
      longestPrefix: LotOp[];
      /** the operation whose answer no ordering after that prefix can give (null if none ever could be placed) */
      stuck: LotOp | null;
      /** the cars in the lot after `longestPrefix` */
      carsAfterPrefix: string[];
      /** operations called before `stuck` returned that were still unplaced after the prefix */
      candidates: LotOp[];
    } & CheckStats)
  | ({ ok: "unknown"; reason: string } & CheckStats);
