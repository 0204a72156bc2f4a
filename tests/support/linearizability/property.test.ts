/**
 * The checker against histories nobody wrote by hand: random concurrent runs
 * of a sequential lot (linearizable by construction, so every one must pass),
 * the same runs with one answer made impossible (every one must fail), and
 * small arbitrary histories where a brute-force enumeration of orders decides.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { generateLotHistory, mutateImpossible, mutatePlausible } from "./generate.ts";
import { checkLot, type LotOp, type LotResult } from "./index.ts";

const shape = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  ops: fc.integer({ min: 1, max: 120 }),
  clients: fc.integer({ min: 1, max: 10 }),
  plates: fc.integer({ min: 1, max: 12 }),
  spaces: fc.integer({ min: 0, max: 8 }),
  reads: fc.double({ min: 0, max: 0.5, noNaN: true }),
  lost: fc.constantFrom(0, 0, 0.05, 0.2),
});

function explain(r: ReturnType<typeof checkLot>): string {
  return r.ok === true ? "ok" : r.reason;
}

describe("random concurrent executions of the lot", () => {
  test("every history generated from a sequential lot is accepted (never rejected; undecided only past 30 indeterminate ops)", () => {
    // The search is exponential in indeterminate ops: with 30+ of them (an
    // 80-op history losing 20% of its answers) the step budget may run out.
    // "unknown" is not a rejection, so there it is allowed; below it is not.
    // The budget is in steps, never wall time, so a slow machine decides alike.
    fc.assert(
      fc.property(shape, (s) => {
        const { history } = generateLotHistory(s);
        const r = checkLot(history, s.spaces, { maxSteps: 20_000_000, maxMs: Number.POSITIVE_INFINITY });
        if (r.ok === false) throw new Error(`rejected a linearizable history (${JSON.stringify(s)}):\n${explain(r)}`);
        if (r.ok === "unknown" && r.indeterminate < 30) {
          throw new Error(`undecided with ${r.indeterminate} indeterminate ops (${JSON.stringify(s)}): ${r.reason}`);
        }
      }),
      { numRuns: 300, seed: 20261202 },
    );
  });

  test("one answer made impossible under every order is rejected", () => {
    fc.assert(
      fc.property(shape, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (s, m) => {
        const { history } = generateLotHistory(s);
        const changed = mutateImpossible(history, s.spaces, m);
        fc.pre(changed !== null);
        const r = checkLot(history, s.spaces);
        if (r.ok !== false) throw new Error(`accepted a history with op #${changed} impossible (${JSON.stringify(s)})`);
      }),
      { numRuns: 300, seed: 20261202 },
    );
  });

  test("with no overlap the order is forced: any other answer to any op is rejected", () => {
    fc.assert(
      fc.property(shape, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (s, m) => {
        const seq = { ...s, clients: 1, lost: 0 };
        const { history } = generateLotHistory(seq);
        expect(checkLot(history, s.spaces).ok).toBe(true);
        const changed = mutatePlausible(history, s.plates, m);
        fc.pre(changed !== null);
        const r = checkLot(history, s.spaces);
        if (r.ok !== false) throw new Error(`accepted a sequential history with op #${changed} changed (${JSON.stringify(seq)})`);
        // The report points at the changed op or an op after it (before it, everything still fits).
        const at = history.findIndex((o) => o.id === changed);
        expect(history.indexOf(r.stuck as LotOp)).toBeGreaterThanOrEqual(at);
      }),
      { numRuns: 300, seed: 20261202 },
    );
  });
});

/**
 * The definition, enumerated: is there an order of the definite ops (plus any
 * subset of the indeterminate ones) that respects real time (a before b when
 * a returned strictly before b was called) and in which a sequential lot
 * gives every definite answer?
 */
function bruteForce(history: LotOp[], spaces: number): boolean {
  const noEffect = new Set(["invalid_name", "unknown_gate", "bad_request", "unauthorized", "payload_too_large"]);
  const ops = history.filter((o) => {
    if (o.kind === "read") return o.ret !== null && o.result !== null && o.result.ok;
    return !(o.ret !== null && o.result !== null && !o.result.ok && noEffect.has(o.result.code));
  });
  const definite = (o: LotOp) => o.ret !== null && o.result !== null && (o.result.ok || o.result.code === "lot_full" || o.result.code === "not_parked");
  const placed = new Set<LotOp>();
  const answers = (o: LotOp, lot: Set<string>): Set<string> | null => {
    const r = o.result as LotResult;
    const p = o.plate as string;
    let outcome: LotResult;
    let after = lot;
    if (o.kind === "read") outcome = { ok: true, cars: [...lot].sort(), occupied: lot.size };
    else if (o.kind === "unpark") {
      outcome = lot.has(p) ? { ok: true } : { ok: false, code: "not_parked" };
      if (lot.has(p)) after = new Set([...lot].filter((x) => x !== p));
    } else if (lot.has(p)) outcome = { ok: true, already: true };
    else if (lot.size >= spaces) outcome = { ok: false, code: "lot_full" };
    else {
      outcome = { ok: true, already: false };
      after = new Set([...lot, p]);
    }
    if (!definite(o)) return after; // any answer will do
    if (r.ok !== outcome.ok) return null;
    if (!r.ok) return !outcome.ok && r.code === outcome.code ? after : null;
    if ("cars" in r) {
      const got = [...r.cars].sort();
      const want = (outcome as { cars: string[] }).cars;
      const sameCount = r.occupied === undefined || r.occupied === got.length;
      return sameCount && got.length === want.length && got.every((x, i) => x === want[i]) ? after : null;
    }
    if (o.kind === "unpark" || r.already === undefined) return after;
    return r.already === (outcome as { already: boolean }).already ? after : null;
  };
  const search = (lot: Set<string>): boolean => {
    if (ops.every((o) => placed.has(o) || !definite(o))) return true;
    for (const o of ops) {
      if (placed.has(o)) continue;
      // o can go next only if no unplaced definite op returned before o was called
      if (ops.some((u) => u !== o && !placed.has(u) && definite(u) && (u.ret as number) < o.call)) continue;
      const after = answers(o, lot);
      if (after === null) continue;
      placed.add(o);
      const found = search(after);
      placed.delete(o);
      if (found) return true;
    }
    return false;
  };
  return search(new Set());
}

const plate = fc.constantFrom("A", "B", "C");
const answer: fc.Arbitrary<LotResult | null> = fc.oneof(
  fc.constant<LotResult>({ ok: true }),
  fc.constant<LotResult>({ ok: true, already: true }),
  fc.constant<LotResult>({ ok: true, already: false }),
  fc.constant<LotResult>({ ok: false, code: "lot_full" }),
  fc.constant<LotResult>({ ok: false, code: "not_parked" }),
  fc.constant<LotResult>({ ok: false, code: "unavailable" }),
  fc.constant<LotResult>({ ok: false, code: "invalid_name" }),
  fc.constant(null),
);
const rawOp = fc.record({
  kind: fc.constantFrom<LotOp["kind"]>("park", "park", "unpark", "read"),
  plate,
  call: fc.integer({ min: 0, max: 12 }),
  length: fc.integer({ min: 0, max: 6 }),
  lostAnswer: fc.boolean(),
  answer,
  cars: fc.uniqueArray(plate, { maxLength: 3 }),
});
const smallHistory = fc.array(rawOp, { minLength: 1, maxLength: 6 }).map((raw) =>
  raw.map((r, i): LotOp => {
    const ret = r.lostAnswer && r.kind !== "read" ? null : r.call + r.length;
    if (r.kind === "read") return { id: i, client: i, kind: "read", call: r.call, ret, result: { ok: true, cars: r.cars } };
    return { id: i, client: i, kind: r.kind, plate: r.plate, call: r.call, ret, result: r.answer };
  }),
);

describe("small arbitrary histories", () => {
  test("the checker agrees with enumerating every order", () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(smallHistory, fc.integer({ min: 0, max: 3 }), (h, spaces) => {
        const want = bruteForce(h, spaces);
        const got = checkLot(h, spaces);
        if (got.ok !== want) throw new Error(`checker says ${got.ok}, enumeration says ${want}: ${explain(got)}`);
        if (want) accepted++;
        else rejected++;
      }),
      { numRuns: 3000, seed: 20261202 },
    );
    // Both verdicts were exercised, so agreement means something.
    expect(accepted).toBeGreaterThan(300);
    expect(rejected).toBeGreaterThan(300);
  });
});

describe("size", () => {
  // Not timed assertions: the times are printed. Lost answers are what cost:
  // each stays a candidate from its call to the end of the history (see README).
  for (const lost of [0, 0.01]) {
    test(`2,000 ops from 10 clients over 30 plates into 10 spaces (${lost * 100}% answers lost) is accepted`, () => {
      const s = { seed: 42, ops: 2000, clients: 10, plates: 30, spaces: 10, lost };
      const { history } = generateLotHistory(s);
      const r = checkLot(history, s.spaces, { maxMs: 50_000 });
      console.log(`[lin] ${history.length} ops, ${lost * 100}% lost: ${r.ok} in ${r.elapsedMs.toFixed(0)} ms, ${r.steps} steps, ${r.cached} cached, ${r.indeterminate} indeterminate`);
      expect(r.ok).toBe(true);
    }, 60_000);
  }

  test("the same 2,000 ops with a read in the middle showing a car parked only after it are rejected", () => {
    const { history } = generateLotHistory({ seed: 42, ops: 2000, clients: 10, plates: 30, spaces: 10 });
    const t = history[1000].call;
    const late: LotOp[] = [
      { id: "late-read", client: 99, kind: "read", call: t, ret: t + 1, result: { ok: true, cars: ["LATE"] } },
      { id: "late-park", client: 99, kind: "park", plate: "LATE", call: t + 2, ret: t + 3, result: { ok: true } },
    ];
    const r = checkLot([...history, ...late], 10, { maxMs: 50_000 });
    console.log(`[lin] with the late read: ${r.ok} in ${r.elapsedMs.toFixed(0)} ms, ${r.steps} steps`);
    if (r.ok !== false) throw new Error(`expected a rejection, got ${r.ok}`);
    expect(r.stuck?.id).toBe("late-read");
    expect(r.longestPrefix.length).toBeGreaterThan(900); // the search got as far as the read
  }, 60_000);
});
