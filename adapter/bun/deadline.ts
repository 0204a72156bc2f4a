/**
 * The three clocks of a connection of the HTTP/1.1 server under Bun
 * (serve.ts): the idle timeout, and the deadlines of a request head and of
 * its body. All ride on the socket's one timer, re-armed by every read and
 * write, and a clock reading compared in the handlers: no timer of their own
 * per connection.
 */
import type { Socket } from "bun";
import { monotonicMs } from "../clock.ts";
import type { Conn } from "./conn.ts";

/**
 * Seconds a connection may sit silent (no bytes either way) with no handler
 * running: idle between requests, a head or body stalled half-way (then the
 * handler sees the body fail, as when the client leaves), or a client that
 * stopped reading its answers. Bun.serve's default too; ServeOptions.idleTimeout.
 * Bun's socket timer ticks every 4 s (10 runs out 8 to 12 s after it is armed) and
 * is one-shot, re-armed by nobody but us: every read and write re-arms it,
 * else it ran out every 10 s under load and closed busy connections between
 * two requests, the client's next one crossing the reset (ECONNRESET).
 */
export const IDLE_S = 10;

/**
 * Seconds from the first byte of a request head to its blank line, else 408
 * and a close; ServeOptions.headTimeout. Every byte re-arms the idle timer,
 * so without it a client dripping a byte every few seconds (slowloris) held
 * its connection and buffer for ever. A head is a few hundred bytes, one
 * packet from any real client, so 10 s is ample even over a lossy link; as
 * long as the idle timeout, a dripping client is held no longer than a
 * silent one. (Node's headersTimeout is 60 s, for the open Internet; this
 * API's clients are the CLI, scripts and load balancers.)
 */
export const HEAD_S = 10;

/**
 * Seconds from a head's end (or the 100 Continue its client waited for) to
 * its body's last byte, else 408 and a close, the handler never run;
 * ServeOptions.bodyTimeout. Every byte re-arms the idle timeout, so without
 * it a client dripping a body held its connection for ever, as a dripped
 * head did. A body here is at most 64 KiB of JSON: 30 s allows ~2 KiB/s,
 * slower than any link a client of this API sits behind.
 */
export const BODY_S = 30;

/**
 * Seconds an answer being written may go without the socket taking more of
 * it before the connection is dropped (a client that stopped reading). The
 * idle timeout cannot tell: the kernel says a socket is writable again only
 * once much of its buffer (up to ~4 MiB) drained, so a client reading a dump
 * at 100 KB/s heard nothing for 20 s at a time, and was reset half-way at
 * the idle timeout (a probe on 54aae04). A reader slower than ~50 KB/s may
 * still be cut off.
 */
export const WRITE_STALL_S = 60;

export interface Timers {
  /** Seconds, for the socket's timer. */
  idle: number;
  /** Milliseconds, compared with clock readings. */
  headMs: number;
  bodyMs: number;
  /** WRITE_STALL_S, in milliseconds (ServeOptions.writeStallTimeout). */
  writeStallMs: number;
}

/** A head is under way on `c`: its first bytes came, its end not yet. */
const heading = (c: Conn): boolean => c.headAt >= 0 && !c.done;

/** Starts the head clock at the first byte of a head (kept while the rest arrives). */
export function headBegun(c: Conn): void {
  if (c.headAt < 0) c.headAt = monotonicMs();
}

/** A body is under way on `c` and its clock runs (not while its client waits for a 100 Continue). */
const bodying = (c: Conn): boolean => c.reading !== null && c.bodyAt >= 0;

/** Starts the body clock of the request whose body reading begins now (serve.ts: at its head's end, or its 100 Continue). */
export function bodyBegun(c: Conn): void {
  c.bodyAt = monotonicMs();
}

/** Milliseconds until the deadline of the head or body under way on `c` (<= 0: past it); Infinity with neither. */
function leftMs(c: Conn, t: Timers): number {
  const h = heading(c);
  const b = bodying(c);
  if (!h && !b) return Infinity; // the usual case, on every read: no clock reading
  const now = monotonicMs();
  return Math.min(h ? c.headAt + t.headMs - now : Infinity, b ? c.bodyAt + t.bodyMs - now : Infinity);
}

/** Whether a head or body is under way on `c` and past its deadline. */
export function late(c: Conn, t: Timers): boolean {
  return leftMs(c, t) <= 0;
}

/** The socket's timer, run out, was armed for a deadline still ahead (Bun's 4 s tick came before it). */
const armedForDeadline = (c: Conn, t: Timers): boolean => c.deadlineArmed && leftMs(c, t) < Infinity;

function refuseLate(s: Socket<Conn>, c: Conn, t: Timers, refuse: () => void): void {
  refuse();
  // Re-armed while the 408 waits its turn or to be written (a client not reading even the 408 is cut off at
  // the idle timeout); written whole, the connection already lingers on its own timer (linger.ts).
  if (!c.closed && (c.pending !== null || c.queue.length > 0)) s.timeout(t.idle);
}

/** The socket's timer ran out: a late head or body is refused (`refuse`: the 408), else the idle timeout applies. */
export function ranOut(s: Socket<Conn>, c: Conn, t: Timers, refuse: () => void): void {
  if (late(c, t)) return refuseLate(s, c, t, refuse);
  // Armed for a deadline, and Bun's 4 s tick came before it: wait out the rest.
  if (armedForDeadline(c, t)) return arm(s, c, t);
  // Silent half-way through a body: the idle timeout, answered as a late body is (the client may still read).
  if (bodying(c)) return refuseLate(s, c, t, refuse);
  // Handlers still at work: the client is waiting for their answers, not idle (unless it stopped reading them).
  if (c.queue.length > 0 && c.reading === null && c.pending === null) arm(s, c, t);
  // An answer still going out, the socket last taking some of it within WRITE_STALL_S: a slow reader, not a gone one.
  else if (c.pending !== null && c.reading === null && monotonicMs() - c.wroteAt < t.writeStallMs) s.timeout(t.idle);
  else s.terminate();
}

/** Re-arms the socket's timer: the idle timeout, or what is left of the head's or body's deadline if that comes first. */
export function arm(s: Socket<Conn>, c: Conn, t: Timers): void {
  const left = Math.ceil(leftMs(c, t) / 1000);
  c.deadlineArmed = left <= t.idle; // at equal values too: a deadline's run-out answers 408, the idle one only closes
  s.timeout(c.deadlineArmed ? Math.max(1, left) : t.idle); // at least 1: 0 would disarm it
}
