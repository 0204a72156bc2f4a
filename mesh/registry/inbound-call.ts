/**
 * A call or cast arriving from another node (registry.ts onMessage): run
 * once however often the network delivers it, never after its caller gave
 * up, its clock reading observed (the write barrier's vouch), and, while
 * this node's event loop is behind, held a turn so that its caller's cancel
 * can still reach it (stalled-calls.ts).
 */
import type { Address } from "../types.ts";
import { type CallMsg, unavailable } from "./messages.ts";
import type { CallTable } from "./calls.ts";
import type { CallWire } from "./call-wire.ts";
import type { Inbound } from "./processes.ts";
import type { StalledCalls } from "./stalled-calls.ts";

/** Received-copy window: longer than any caller waits, so a late copy is still caught. */
const MAX_TTL_MS = 600_000;
/**
 * How much later than its caller's deadline (read on the origin's clock) a
 * call may still start here. Zero: once the caller answered `unavailable`
 * nothing of the call may start, or a retry could run first and the old
 * call land after it. The deadline is put on our clock by the origin's
 * measured offset (membership clock-offsets.ts), taking the earliest our
 * clock could read then; unmeasured (the first probe not back yet, an older
 * peer), the clocks are taken as equal: a node whose clock lags the
 * origin's by d could start a call up to d late, and one ahead by more than
 * the call timeout would drop every call as expired.
 */
export const CLOCK_SKEW_ALLOWANCE_MS = 0;

export interface InboundDeps {
  calls: CallTable;
  wire: CallWire;
  stalled: StalledCalls;
  /** The clock reading a call carried, observed: its sender's process id, if any. */
  vouchOf(k: unknown): string | undefined;
  route(inb: Inbound, now: number): void;
  now(): number;
  /** What to take off a time on `origin`'s clock to put it (at its earliest) on ours; 0 unmeasured. */
  clockCorrection(origin: Address): number;
  /** A call dropped: its caller gave up long ago. */
  expired(): void;
}

export function receiveCall(from: Address, m: CallMsg, d: InboundDeps): void {
  const now = d.now();
  const a = m.a;
  const id = a[0];
  const hops = a[3];
  const origin = a[6] ?? from;
  // The same copy twice (the network duplicated it) runs once; a later hop of it is new.
  if (!d.calls.firstSight(origin, id, hops, now)) return;
  const expires = a[5];
  const givenUp = expires - d.clockCorrection(origin) + CLOCK_SKEW_ALLOWANCE_MS;
  const deadline = Math.min(now + Math.min(Math.max(a[4], 0), MAX_TTL_MS), givenUp);
  if (deadline <= now) {
    // Its caller gave up long ago (it sat in a cut connection): running it now would be a zombie write.
    d.expired();
    return;
  }
  const vouch = d.vouchOf(m.k);
  const inb: Inbound = { id, origin, reply: m.t === "c", name: a[1], msg: a[2], hops, deadline, expires, fresh: false, ...(vouch === undefined ? {} : { vouch }) };
  // The first hop comes from the origin itself; a forward carries its id.
  const originId = hops === 0 ? vouch : typeof m.i === "string" ? m.i : undefined;
  if (originId !== undefined) inb.originId = originId;
  // A first hop only: a cancel comes from the origin, to the node it sent the call to.
  // Released later: routed at that time (its deadline and this node's lease read then, not on arrival).
  if (hops === 0 && d.stalled.hold(origin, id, () => d.route(inb, d.now()), (why) => d.wire.fail(inb, unavailable(`${inb.name}: ${why}; not run`), true))) return;
  d.route(inb, now);
}
