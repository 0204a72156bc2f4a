/**
 * The keys the lot keeps in the map, and how their values are read.
 *
 * `vehicle/<plate>` -> {gate, at, node, slot}: a car's record; `slot/<i>`
 * -> plate (i in 1..spaces): the space it occupies. A car is parked while
 * both exist and name each other (lot-index.ts). The number of spaces is
 * configuration, not state.
 */
import { placeNumber } from "../places.ts";

export const VEHICLE_PREFIX = "vehicle/";
export const SLOT_PREFIX = "slot/";

/** What `roomy lot` shows of a car (CONTRACT.md, "Client commands"). */
export interface VehicleRecord {
  /** the gate it entered through */
  gate: number;
  /** when it entered, ISO 8601 */
  at: string;
  /** the node whose lot process admitted it */
  node: string;
}

/** The record as stored: with the slot it took (null for a malformed one: then never parked). */
export interface StoredVehicle extends VehicleRecord {
  slot: number | null;
}

export function vehicleKey(plate: string): string {
  return VEHICLE_PREFIX + plate;
}

export function slotKey(slot: number): string {
  return SLOT_PREFIX + slot;
}

export function parseSlotKey(key: string): number | null {
  return key.startsWith(SLOT_PREFIX) ? placeNumber(key.slice(SLOT_PREFIX.length)) : null;
}

/** The stored record of a car, with defaults for what is malformed; null when absent. */
export function parseVehicle(value: unknown): StoredVehicle | null {
  if (value === undefined) return null;
  const v = (typeof value === "object" && value !== null ? value : {}) as { gate?: unknown; at?: unknown; node?: unknown; slot?: unknown };
  return {
    gate: typeof v.gate === "number" ? v.gate : 0,
    at: typeof v.at === "string" ? v.at : "",
    node: typeof v.node === "string" ? v.node : "",
    slot: typeof v.slot === "number" && Number.isInteger(v.slot) && v.slot >= 1 ? v.slot : null,
  };
}
