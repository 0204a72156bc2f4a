/**
 * Who is in which room and which cars are parked, read straight from a
 * replica's raw entries, written apart from the product's indexes so the
 * checks do not trust the code they check.
 *
 * The definitions (core/rooms/keys.ts, core/parking/keys.ts): a person is in the
 * room their `person/<p>` key names if that room has no capacity, or if a
 * seat `seat/<room>/<i>` with i <= capacity names them; a car is parked if
 * its `vehicle/<plate>` record exists and `slot/<record.slot>` (a slot
 * within the spaces) names it. Capacities come from the run's definition of
 * its rooms, not from the replica, so a replica that lacks a room's record
 * is held to the room's real capacity.
 */
import type { LwwMap } from "../../core/crdt/lww-map.ts";

/** person -> room, for everyone in a room on this replica. */
export function roomsOf(map: LwwMap, capacities: Record<string, number | null>): Map<string, string> {
  const claims = new Map<string, string>();
  const seated = new Set<string>(); // "room\0person" with a seat within the capacity
  for (const [k, v] of map.entries()) {
    if (k.startsWith("person/") && typeof v === "string") claims.set(k.slice("person/".length), v);
    const m = /^seat\/(.+)\/([1-9][0-9]*)$/.exec(k);
    if (m !== null && typeof v === "string") {
      const cap = capacities[m[1]!];
      if (typeof cap === "number" && Number(m[2]) <= cap) seated.add(`${m[1]}\0${v}`);
    }
  }
  const out = new Map<string, string>();
  for (const [p, room] of claims) {
    const cap = capacities[room];
    if (cap === null || cap === undefined || seated.has(`${room}\0${p}`)) out.set(p, room);
  }
  return out;
}

/** room -> people in it (sorted), rooms with nobody left out. */
export function occupantsByRoom(map: LwwMap, capacities: Record<string, number | null>): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const [p, room] of roomsOf(map, capacities)) by.set(room, [...(by.get(room) ?? []), p]);
  for (const l of by.values()) l.sort();
  return by;
}

/** The plates parked on this replica, sorted. */
export function parkedPlates(map: LwwMap, spaces: number): string[] {
  const out: string[] = [];
  for (const [k, v] of map.entries()) {
    if (!k.startsWith("vehicle/")) continue;
    const plate = k.slice("vehicle/".length);
    const slot = typeof v === "object" && v !== null ? (v as { slot?: unknown }).slot : undefined;
    if (typeof slot === "number" && Number.isInteger(slot) && slot >= 1 && slot <= spaces && map.get(`slot/${slot}`) === plate) out.push(plate);
  }
  return out.sort();
}
