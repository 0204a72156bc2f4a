/**
 * The rules of parking (CONTRACT.md, "The rules") as pure functions over the lot's
 * index. Keys and the index live in keys.ts and lot-index.ts
 * (re-exported here). Admissions are planned by the lot's single writer (the
 * lot process): a car takes a free slot, written in the same delta as its
 * record, so no replica ever counts more cars than spaces.
 */
import { RoomyError } from "../errors.ts";
import type { LotSlots } from "./lot-index.ts";
import { slotKey, type StoredVehicle, vehicleKey, type VehicleRecord } from "./keys.ts";
import type { MapView, Write } from "../crdt/map-view.ts";
import { validateName } from "../names.ts";

export {
  parseSlotKey,
  parseVehicle,
  SLOT_PREFIX,
  slotKey,
  type StoredVehicle,
  VEHICLE_PREFIX,
  vehicleKey,
  type VehicleRecord,
} from "./keys.ts";
export { type LotInfo, LotIndex, type LotSlots } from "./lot-index.ts";

/** Bounds for configuration. */
export const MAX_GATES = 1000;
export const MAX_SPACES = 1_000_000_000;

/** Per-gate counters (the Parking seed's entries and exits) live in the map too. */
export const GATE_PREFIX = "gate/";

export interface GateCounters {
  /** cars admitted through the gate */
  entries: number;
  /** cars let out through it */
  exits: number;
}

export function gateKey(gate: number): string {
  return GATE_PREFIX + gate;
}

/** A gate's counters as the replica holds them (zero if never used). */
export function readGateCounters(view: MapView, gate: number): GateCounters {
  const v = view.get(gateKey(gate)) as Partial<GateCounters> | undefined;
  return {
    entries: typeof v?.entries === "number" ? v.entries : 0,
    exits: typeof v?.exits === "number" ? v.exits : 0,
  };
}

/**
 * The counter write that goes with an admission or an exit. The lot process
 * is the single writer of both the car and the counters, and writes them in
 * one delta, so the counters survive any crash the car survives.
 */
export function countGate(view: MapView, gate: number, what: "entry" | "exit"): Write {
  const c = readGateCounters(view, gate);
  const value: GateCounters = what === "entry" ? { entries: c.entries + 1, exits: c.exits } : { entries: c.entries, exits: c.exits + 1 };
  return { key: gateKey(gate), value };
}

/** A gate number 1..gates (a decimal string is accepted); else `unknown_gate`. */
export function validateGate(gate: unknown, gates: number): number {
  // One rule for a gate typed as text: a decimal integer without sign, spaces or leading zeros ("01", " 2", "+3", "1.0" are no gate).
  const n = typeof gate === "number" ? gate : typeof gate === "string" && /^[1-9][0-9]{0,8}$/.test(gate) ? Number(gate) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > gates) {
    const shown = typeof gate === "string" ? JSON.stringify(gate.slice(0, 40)) : String(gate);
    throw new RoomyError("unknown_gate", `gate ${shown} does not exist (gates are 1..${gates})`);
  }
  return n;
}

export function validatePlate(plate: unknown): string {
  return validateName("plate", plate);
}

/**
 * A car enters: its record and a free slot naming it, one delta. Already
 * parked: nothing to write (a no-op, whichever gate). No slot free: `lot_full`.
 */
export function planPark(lot: LotSlots, plate: unknown, record: VehicleRecord): Write[] {
  const p = validatePlate(plate);
  if (lot.isParked(p)) return [];
  const slot = lot.occupied >= lot.spaces ? null : lot.freeSlot(p);
  if (slot === null) {
    throw new RoomyError("lot_full", `the lot is full: ${lot.occupied} of ${lot.spaces} spaces taken`);
  }
  const stored: StoredVehicle = { gate: record.gate, at: record.at, node: record.node, slot };
  return [
    { key: vehicleKey(p), value: stored },
    { key: slotKey(slot), value: p },
  ];
}

/**
 * A car leaves; `not_parked` if it is not in the lot. Deleting the record is
 * enough: a slot whose plate has no record (or a record naming another
 * slot) is free, and the next admission overwrites it.
 */
export function planUnpark(lot: LotSlots, plate: unknown): Write[] {
  const p = validatePlate(plate);
  if (!lot.isParked(p)) {
    throw new RoomyError("not_parked", `no car with plate ${JSON.stringify(p)} is parked`);
  }
  return [{ key: vehicleKey(p) }];
}
