/**
 * Parking, as in the Parking seed: gate processes `gate:1..N` spread over
 * the nodes, each counting its entries and exits (state that moves with the
 * gate through handoff), and one `lot` process, the single writer of
 * `vehicle/*` keys, which admits a car only while occupied < spaces.
 */
import { RoomyError } from "../../core/errors.ts";
import {
  type LotInfo,
  LotIndex,
  planPark,
  planUnpark,
  validateGate,
  validatePlate,
  type VehicleRecord,
} from "../../core/parking.ts";
import type { ProcessHandlers } from "../registry/types.ts";
import { type AppContext, field } from "./context.ts";

export const LOT_PROCESS = "lot";
export const GATE_PROCESS_PREFIX = "gate:";

export function gateProcess(gate: number): string {
  return GATE_PROCESS_PREFIX + gate;
}

export interface GateInfo {
  gate: number;
  /** the node its process runs on */
  owner: string;
  /** cars admitted through it since its process first started */
  entries: number;
  /** cars let out through it */
  exits: number;
  /** cars in the lot now that entered through it */
  parked: number;
}

/** Client-facing operations on the lot. */
export interface ParkingApi {
  /** A car enters through `gate`; already parked is a no-op; a full lot refuses (`lot_full`). */
  park(gate: number | string, plate: string): Promise<void>;
  /** A car leaves through `gate` (`not_parked` if it is not in the lot). */
  unpark(gate: number | string, plate: string): Promise<void>;
  /** Spaces, occupancy and the cars, from this node's replica. */
  lot(): LotInfo;
  /** Every gate with its owner and counters, in gate order. */
  gates(): Promise<GateInfo[]>;
}

export interface ParkingConfig {
  gates: number;
  spaces: number;
}

export interface ParkingApp extends ParkingApi {
  readonly index: LotIndex;
  readonly config: ParkingConfig;
  stop(): void;
}

/** A gate's counters: its process state, handed off when the gate moves. */
interface GateCounters {
  entries: number;
  exits: number;
}

function isCounters(s: unknown): s is GateCounters {
  return typeof field(s, "entries") === "number" && typeof field(s, "exits") === "number";
}

export async function startParking(ctx: AppContext, config: ParkingConfig): Promise<ParkingApp> {
  const { map, registry, clock, node } = ctx;
  const { gates, spaces } = config;
  const index = LotIndex.from(map);
  const unsubscribe = ctx.replicator.onChange((changes) => index.apply(changes));

  registry.define(LOT_PROCESS, (): ProcessHandlers => ({
    async handle(msg: unknown): Promise<unknown> {
      switch (field(msg, "t")) {
        case "park": {
          const record: VehicleRecord = {
            gate: validateGate(field(msg, "gate"), gates),
            at: new Date(clock.now()).toISOString(),
            node,
          };
          const writes = planPark(map, index, spaces, field(msg, "plate"), record);
          await ctx.write(writes);
          return { parked: writes.length > 0 };
        }
        case "unpark":
          await ctx.write(planUnpark(map, field(msg, "plate")));
          return { unparked: true };
        default:
          throw new RoomyError("bad_request", `lot cannot handle ${JSON.stringify(field(msg, "t"))}`);
      }
    },
  }));

  registry.define(GATE_PROCESS_PREFIX, (name): ProcessHandlers => {
    const gate = Number(name.slice(GATE_PROCESS_PREFIX.length));
    const counters: GateCounters = { entries: 0, exits: 0 };
    return {
      async handle(msg: unknown): Promise<unknown> {
        validateGate(gate, gates);
        switch (field(msg, "t")) {
          case "enter": {
            const r = await registry.call<{ parked: boolean }>(LOT_PROCESS, { t: "park", gate, plate: field(msg, "plate") });
            if (r.parked) counters.entries++;
            return r;
          }
          case "exit": {
            const r = await registry.call(LOT_PROCESS, { t: "unpark", plate: field(msg, "plate") });
            counters.exits++;
            return r;
          }
          case "stats":
            return { ...counters };
          default:
            throw new RoomyError("bad_request", `gate cannot handle ${JSON.stringify(field(msg, "t"))}`);
        }
      },
      beginHandoff: () => ({ ...counters }),
      endHandoff(state: unknown): void {
        if (isCounters(state)) Object.assign(counters, { entries: state.entries, exits: state.exits });
      },
      // Both copies counted from the same history before they split: the
      // larger count loses the least without double counting the shared part.
      resolveConflict(other: unknown): void {
        if (!isCounters(other)) return;
        counters.entries = Math.max(counters.entries, other.entries);
        counters.exits = Math.max(counters.exits, other.exits);
      },
    };
  });

  const api: ParkingApp = {
    index,
    config: { gates, spaces },
    async park(gate: number | string, plate: string): Promise<void> {
      const g = validateGate(gate, gates);
      validatePlate(plate);
      await registry.call(gateProcess(g), { t: "enter", plate });
    },
    async unpark(gate: number | string, plate: string): Promise<void> {
      const g = validateGate(gate, gates);
      validatePlate(plate);
      await registry.call(gateProcess(g), { t: "exit", plate });
    },
    lot: () => index.info(spaces),
    async gates(): Promise<GateInfo[]> {
      const out: GateInfo[] = [];
      const all = Array.from({ length: gates }, (_, i) => i + 1);
      const stats = await Promise.allSettled(all.map((g) => registry.call<GateCounters>(gateProcess(g), { t: "stats" })));
      for (const g of all) {
        const s = stats[g - 1]!;
        const c = s.status === "fulfilled" ? s.value : { entries: 0, exits: 0 };
        out.push({ gate: g, owner: registry.ownerOf(gateProcess(g)), entries: c.entries, exits: c.exits, parked: index.parkedVia(g) });
      }
      return out;
    },
    stop: unsubscribe,
  };
  // The seed starts every gate with the application; so do we.
  await api.gates();
  return api;
}
