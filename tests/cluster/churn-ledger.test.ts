/**
 * The checker of hostile-churn.test.ts (churn-ledger.ts) catches what it is
 * there to catch, and only that: a lost acknowledged move or leave, a person
 * in two rooms, a room over capacity or missing, a stale read of a settled
 * person; an unknown outcome allows either room until a later acknowledgement.
 */
import { expect, test } from "bun:test";
import { ChurnLedger, OUT } from "./churn-ledger.ts";
import { Ledger } from "../support/walk-load.ts";

const cap = (r: number): number => (r === 0 ? 2 : Infinity);
const created = new Uint8Array([1, 1, 1]);

function ledger(): ChurnLedger {
  const walked = new Ledger(4);
  walked.record([0, 1], 0, { ok: true });
  walked.record([2], 1, { ok: true });
  walked.record([3], 2, { ok: false, code: "unavailable", answered: true });
  return ChurnLedger.from(walked, cap);
}
const dump = (d: Record<string, string[]>): string => JSON.stringify(d);

test("a dump as acknowledged passes; an unanswered walk-in may or may not have happened", () => {
  const l = ledger();
  expect(l.checkDump(dump({ r0: ["p0", "p1"], r1: ["p2"], r2: [] }), created).ok).toBe(true);
  expect(l.checkDump(dump({ r0: ["p0", "p1"], r1: ["p2"], r2: ["p3"] }), created).ok).toBe(true);
});

test("a lost acknowledged move or leave, a person in two rooms, a room over capacity or missing, are each caught", () => {
  const l = ledger();
  l.begin(0);
  l.end(0, 1, "ok"); // moved to r1
  l.begin(2);
  l.end(2, OUT, "ok"); // left
  const good = { r0: ["p1"], r1: ["p0"], r2: [] };
  expect(l.checkDump(dump(good), created).ok).toBe(true);
  expect(l.checkDump(dump({ ...good, r0: ["p0", "p1"], r1: [] }), created).misplaced).toBe(1);
  expect(l.checkDump(dump({ ...good, r1: ["p0", "p2"] }), created).misplaced).toBe(1);
  expect(l.checkDump(dump({ ...good, r0: ["p0", "p1"] }), created).duplicated).toBe(1);
  expect(l.checkDump(dump({ r0: ["p1"], r1: ["p0"] }), created).roomsMissing).toBe(1);
  l.begin(3);
  l.end(3, 0, "maybe");
  l.begin(2);
  l.end(2, 0, "maybe");
  expect(l.checkDump(dump({ r0: ["p1", "p2", "p3"], r1: ["p0"], r2: [] }), created).overCapacity).toBe(1);
});

test("a refusal changes nothing; a later acknowledgement settles an unknown outcome", () => {
  const l = ledger();
  l.begin(1);
  l.end(1, 2, "maybe");
  l.begin(1);
  l.end(1, 1, "refused");
  expect(l.allowed(1).sort()).toEqual([0, 2]);
  l.begin(1);
  l.end(1, OUT, "ok");
  expect(l.allowed(1)).toEqual([OUT]);
  expect(l.checkDump(dump({ r0: ["p0"], r1: ["p2"], r2: ["p1"] }), created).misplaced).toBe(1);
});

test("reads are checked only for people settled before the read was sent", () => {
  const l = ledger();
  const before = performance.now() - 1;
  l.begin(0);
  l.end(0, 2, "ok");
  const after = performance.now() + 1;
  // answered after the move was acknowledged, but sent before: either room
  expect(l.checkWhereIs(0, before, "r0")).toBeNull();
  expect(l.checkWhereIs(0, after, "r0")).toContain("acknowledged r2");
  expect(l.checkWhereIs(0, after, "r2")).toBeNull();
  expect(l.checkWhoIsIn(2, after, [])).toEqual(["who-is-in r2 lacks p0, acknowledged there"]);
  expect(l.checkWhoIsIn(0, after, ["p0", "p1"])).toEqual(["who-is-in r0 lists p0, acknowledged in r2"]);
  l.begin(1);
  expect(l.checkWhereIs(1, after, null)).toBeNull(); // in flight
  l.end(1, OUT, "maybe");
  expect(l.checkWhereIs(1, performance.now() + 1, null)).toBeNull(); // unknown outcome
  expect(l.checkWhoIsIn(0, after, ["p1", "p2", "p3"])).toContain("who-is-in r0: 3 people, capacity 2");
});
