/**
 * Process identities. A node keeps its name across restarts but gets a new id
 * at every process start. Ids order by generation: 12 hex digits of the start
 * time (ms, from the injected clock) then 8 random hex digits, so comparing
 * two ids as strings compares start times, and two processes started in the
 * same millisecond still differ.
 *
 * The rule that uses it (state.ts): about one name, a message carrying a
 * newer id than the one we hold replaces it only when it says that identity
 * is alive (or suspect); a message about an older id is ignored. So a stale
 * suspect/dead message about a previous process can never touch its successor.
 *
 * Assumption: hosts' clocks agree to within the time a restart takes. If a
 * node restarts on a host whose clock is behind its predecessor's start time,
 * its id sorts older and peers keep the predecessor's record until that record
 * is dead and reaped (tombstoneMs), after which the new identity is accepted.
 */
import type { Clock, Random } from "../types.ts";
import { randomId } from "../types.ts";

/** A fresh identity for a process starting now. */
export function newMemberId(clock: Clock, random: Random): string {
  const ms = Math.max(0, Math.floor(clock.now()));
  return ms.toString(16).padStart(12, "0").slice(-12) + randomId(random, 4);
}

/** < 0 when `a` is an older generation than `b`, > 0 when newer. */
export function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The start time encoded in an id made by newMemberId, if it is one. */
export function idStartTime(id: string): number | undefined {
  if (!/^[0-9a-f]{20}$/.test(id)) return undefined;
  return parseInt(id.slice(0, 12), 16);
}
