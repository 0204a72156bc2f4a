/**
 * mesh/registry/inbound-call.ts: a call that arrives after its caller gave
 * up (its deadline, stamped on the caller's clock) is dropped unrun; the
 * deadline is put on our clock by the caller's measured clock offset, so a
 * clock ahead of the caller's does not drop live calls, and one behind it
 * does not run dead ones.
 */
import { expect, test } from "bun:test";
import type { CallMsg } from "../../../mesh/registry/messages.ts";
import { type InboundDeps, receiveCall } from "../../../mesh/registry/inbound-call.ts";
import type { Inbound } from "../../../mesh/registry/processes.ts";

/** Our clock reads `now`; the caller's clock is `ahead` of ours, measured with error `err` (correction = ahead + err); unmeasured when null. */
function arrive(o: { now: number; sentAtTheirs: number; ttl: number; measured: { ahead: number; err: number } | null }): { ran: Inbound[]; dropped: number } {
  const ran: Inbound[] = [];
  let dropped = 0;
  const deps = {
    calls: { firstSight: () => true },
    wire: { fail: () => {} },
    stalled: { hold: () => false },
    vouchOf: () => undefined,
    route: (inb: Inbound) => void ran.push(inb),
    now: () => o.now,
    clockCorrection: () => (o.measured === null ? 0 : o.measured.ahead + o.measured.err),
    expired: () => void dropped++,
  } as unknown as InboundDeps;
  const expires = o.sentAtTheirs + o.ttl;
  const m: CallMsg = { t: "c", a: [1, "room/a", { op: "x" }, 0, o.ttl, expires] };
  receiveCall("caller:1", m, deps);
  return { ran, dropped };
}

test("a caller whose clock is 10 s behind ours: its call, sent just now with 5 s to live, runs with its deadline on our clock", () => {
  const r = arrive({ now: 100_000, sentAtTheirs: 90_000, ttl: 5_000, measured: { ahead: -10_000, err: 1 } });
  expect(r.dropped).toBe(0);
  expect(r.ran).toHaveLength(1);
  expect(r.ran[0]!.deadline).toBe(104_999);
  // Unmeasured, the clocks are taken as equal: the call looks 5 s past its deadline and is dropped (as before offsets were measured).
  expect(arrive({ now: 100_000, sentAtTheirs: 90_000, ttl: 5_000, measured: null }).dropped).toBe(1);
});

test("a caller whose clock is 10 s ahead of ours: a call that sat 6 s in a cut connection is dropped although 10 s ahead looks early", () => {
  // Sent at their 110,000 (our 100,000), 5 s to live; it arrives 6 s later, at our 106,000.
  const late = arrive({ now: 106_000, sentAtTheirs: 110_000, ttl: 5_000, measured: { ahead: 10_000, err: 1 } });
  expect(late.ran).toHaveLength(0);
  expect(late.dropped).toBe(1);
  // Unmeasured, it would have run 4 s after its caller gave up.
  expect(arrive({ now: 106_000, sentAtTheirs: 110_000, ttl: 5_000, measured: null }).ran).toHaveLength(1);
  // On time (2 s in transit): runs, until its caller's deadline on our clock, less the error.
  const onTime = arrive({ now: 102_000, sentAtTheirs: 110_000, ttl: 5_000, measured: { ahead: 10_000, err: 1 } });
  expect(onTime.ran[0]?.deadline).toBe(104_999);
});
