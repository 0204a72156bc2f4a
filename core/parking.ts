/**
 * The rules of parking (CONTRACT.md) as pure functions over a view of the
 * map, and the lot index derived from it.
 *
 * Keys: `vehicle/<plate>` -> {gate, at (ISO time), node}. The number of
 * spaces is configuration, not state. Admissions are planned by the lot's
 * single writer (the lot process), so `occupied < spaces` checked against
 * its replica keeps the lot from ever overfilling.
 */
import { RoomyError } from "./errors.ts";
import type { Change } from "./lww-map.ts";
import type { MapView, Write } from "./map-view.ts";
import { validateName } from "./names.ts";

export const VEHICLE_PREFIX = "vehicle/";

/** Bounds for configuration. */
export const MAX_GATES = 1000;
export const MAX_SPACES = 1_000_000_000;

export interface VehicleRecord {
  /** the gate it entered through */
  gate: number;
  /** when it entered, ISO 8601 */
  at: string;
  /** the node whose lot process admitted it */
  node: string;
}

export interface LotInfo {
  spaces: number;
  occupied: number;
  available: number;
  /** plate -> record, in plate order */
  vehicles: Record<string, VehicleRecord>;
}

export function vehicleKey(plate: string): string {
  return VEHICLE_PREFIX + plate;
}

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

/**
 * The stored record of a car. Any present value counts as a parked car (so
 * the index and the admission rule agree), with defaults for what is malformed.
 */
export function parseVehicle(value: unknown): VehicleRecord | null {
  if (value === undefined) return null;
  const v = (typeof value === "object" && value !== null ? value : {}) as { gate?: unknown; at?: unknown; node?: unknown };
  return {
    gate: typeof v.gate === "number" ? v.gate : 0,
    at: typeof v.at === "string" ? v.at : "",
    node: typeof v.node === "string" ? v.node : "",
  };
}

/** A gate number 1..gates (a decimal string is accepted); else `unknown_gate`. */
export function validateGate(gate: unknown, gates: number): number {
  const n = typeof gate === "number" ? gate : typeof gate === "string" && /^[0-9]{1,9}$/.test(gate) ? Number(gate) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > gates) {
    const shown = typeof gate === "string" ? JSON.stringify(gate.slice(0, 40)) : String(gate);
    throw new RoomyError("unknown_gate", `gate ${shown} does not exist (gates are 1..${gates})`);
  }
  return n;
}

export function validatePlate(plate: unknown): string {
  return validateName("plate", plate);
}

/** What the admission check needs to know about the lot. */
export interface LotCounts {
  readonly occupied: number;
}

/**
 * A car enters. Already parked: nothing to write (a no-op, whichever gate).
 * No space left: `lot_full`.
 */
export function planPark(view: MapView, lot: LotCounts, spaces: number, plate: unknown, record: VehicleRecord): Write[] {
  const p = validatePlate(plate);
  if (view.get(vehicleKey(p)) !== undefined) return [];
  if (lot.occupied >= spaces) {
    throw new RoomyError("lot_full", `the lot is full: ${lot.occupied} of ${spaces} spaces taken`);
  }
  return [{ key: vehicleKey(p), value: record }];
}

/** A car leaves; `not_parked` if it is not in the lot. */
export function planUnpark(view: MapView, plate: unknown): Write[] {
  const p = validatePlate(plate);
  if (view.get(vehicleKey(p)) === undefined) {
    throw new RoomyError("not_parked", `no car with plate ${JSON.stringify(p)} is parked`);
  }
  return [{ key: vehicleKey(p) }];
}

/** The cars in the lot, kept current from the map's changes. */
export class LotIndex implements LotCounts {
  private readonly cars = new Map<string, VehicleRecord>();
  private plates: string[] | null = [];
  private readonly perGate = new Map<number, number>();

  static from(view: MapView): LotIndex {
    const idx = new LotIndex();
    for (const [k, v] of view.withPrefix(VEHICLE_PREFIX)) idx.applyOne({ key: k, old: undefined, value: v });
    return idx;
  }

  get occupied(): number {
    return this.cars.size;
  }

  apply(changes: readonly Change[]): void {
    for (const c of changes) if (c.key.startsWith(VEHICLE_PREFIX)) this.applyOne(c);
  }

  get(plate: string): VehicleRecord | undefined {
    return this.cars.get(plate);
  }

  /** Plates in the lot, sorted. */
  sortedPlates(): string[] {
    if (this.plates === null) this.plates = [...this.cars.keys()].sort();
    return this.plates.slice();
  }

  /** Cars in the lot that entered through `gate`. */
  parkedVia(gate: number): number {
    return this.perGate.get(gate) ?? 0;
  }

  info(spaces: number): LotInfo {
    const vehicles: Record<string, VehicleRecord> = {};
    for (const p of this.sortedPlates()) vehicles[p] = { ...this.cars.get(p)! };
    const occupied = this.cars.size;
    return { spaces, occupied, available: Math.max(0, spaces - occupied), vehicles };
  }

  private applyOne(c: Change): void {
    const plate = c.key.slice(VEHICLE_PREFIX.length);
    const prev = this.cars.get(plate);
    if (prev !== undefined) {
      this.cars.delete(plate);
      this.bump(prev.gate, -1);
    }
    const rec = c.value === undefined ? null : parseVehicle(c.value);
    if (rec !== null) {
      this.cars.set(plate, rec);
      this.bump(rec.gate, 1);
    }
    if ((prev === undefined) !== (rec === null)) this.plates = null;
  }

  private bump(gate: number, by: number): void {
    const n = (this.perGate.get(gate) ?? 0) + by;
    if (n === 0) this.perGate.delete(gate);
    else this.perGate.set(gate, n);
  }
}
