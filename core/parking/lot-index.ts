/**
 * The cars in the lot on one replica, kept current from the map's changes.
 *
 * A car is parked, on any replica, while its record `vehicle/<plate>` exists
 * and the slot the record names, `slot/<i>` (i in 1..spaces), names the
 * plate back. The lot writes both in one delta; a slot names one plate, so
 * no replica ever counts more cars than spaces, whatever order parks and
 * unparks reach it in. Slots above this node's spaces do not count.
 */
import type { Change } from "../crdt/lww-map.ts";
import type { MapView } from "../crdt/map-view.ts";
import { PlaceTable } from "../places.ts";
import { parseSlotKey, parseVehicle, SLOT_PREFIX, type StoredVehicle, VEHICLE_PREFIX, type VehicleRecord } from "./keys.ts";

export interface LotInfo {
  spaces: number;
  occupied: number;
  available: number;
  /** plate -> record, in plate order (an object without prototype: every plate is an own key) */
  vehicles: Record<string, VehicleRecord>;
}

/** What planning a park or an unpark needs to know of the replica (LotIndex implements it). */
export interface LotSlots {
  readonly spaces: number;
  readonly occupied: number;
  isParked(plate: string): boolean;
  /** A free slot for `plate` (one it held before if free), or null when the lot is full. */
  freeSlot(plate: string): number | null;
}

export class LotIndex implements LotSlots {
  /** every vehicle record, parked or not (its slot may have been taken since) */
  private readonly records = new Map<string, StoredVehicle>();
  private readonly slots: PlaceTable;
  /** parked cars: plate -> the record they are counted with */
  private readonly parked = new Map<string, StoredVehicle>();
  private plates: string[] | null = [];
  private readonly perGate = new Map<number, number>();

  constructor(readonly spaces: number) {
    this.slots = new PlaceTable(spaces, (plate) => this.records.get(plate)?.slot ?? null);
  }

  static from(view: MapView, spaces: number): LotIndex {
    const idx = new LotIndex(spaces);
    for (const prefix of [VEHICLE_PREFIX, SLOT_PREFIX]) {
      for (const [k, v] of view.withPrefix(prefix)) idx.applyOne({ key: k, old: undefined, value: v });
    }
    return idx;
  }

  get occupied(): number {
    return this.parked.size;
  }

  apply(changes: readonly Change[]): void {
    for (const c of changes) this.applyOne(c);
  }

  isParked(plate: string): boolean {
    return this.parked.has(plate);
  }

  /** A parked car's record. */
  get(plate: string): VehicleRecord | undefined {
    const r = this.parked.get(plate);
    return r === undefined ? undefined : { gate: r.gate, at: r.at, node: r.node };
  }

  /** The slot a parked car is counted in, or null. */
  slotOf(plate: string): number | null {
    return this.slots.placeOf(plate);
  }

  freeSlot(plate: string): number | null {
    return this.slots.pick([plate])?.[0] ?? null;
  }

  /** Plates in the lot, sorted. */
  sortedPlates(): string[] {
    if (this.plates === null) this.plates = [...this.parked.keys()].sort();
    return this.plates.slice();
  }

  /** Cars in the lot that entered through `gate`. */
  parkedVia(gate: number): number {
    return this.perGate.get(gate) ?? 0;
  }

  info(): LotInfo {
    // No prototype: a plate named "__proto__" (or "constructor") is a key like any other.
    const vehicles: Record<string, VehicleRecord> = Object.create(null) as Record<string, VehicleRecord>;
    for (const p of this.sortedPlates()) vehicles[p] = this.get(p)!;
    const occupied = this.parked.size;
    return { spaces: this.spaces, occupied, available: Math.max(0, this.spaces - occupied), vehicles };
  }

  private applyOne(c: Change): void {
    if (c.key.startsWith(VEHICLE_PREFIX)) {
      const plate = c.key.slice(VEHICLE_PREFIX.length);
      const rec = parseVehicle(c.value);
      if (rec === null) this.records.delete(plate);
      else this.records.set(plate, rec);
      this.slots.refresh(plate);
      this.sync(plate);
    } else if (c.key.startsWith(SLOT_PREFIX)) {
      const slot = parseSlotKey(c.key);
      if (slot === null) return;
      for (const plate of this.slots.setPlace(slot, typeof c.value === "string" ? c.value : undefined)) this.sync(plate);
    }
  }

  /** Bring `plate`'s parked state and the per-gate counts in line with the slot table. */
  private sync(plate: string): void {
    const before = this.parked.get(plate);
    const rec = this.slots.placeOf(plate) === null ? undefined : this.records.get(plate);
    if (before === rec) return;
    if (before !== undefined) this.bump(before.gate, -1);
    if (rec === undefined) this.parked.delete(plate);
    else {
      this.parked.set(plate, rec);
      this.bump(rec.gate, 1);
    }
    if ((before === undefined) !== (rec === undefined)) this.plates = null;
  }

  private bump(gate: number, by: number): void {
    const n = (this.perGate.get(gate) ?? 0) + by;
    if (n === 0) this.perGate.delete(gate);
    else this.perGate.set(gate, n);
  }
}
