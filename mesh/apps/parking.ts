/**
 * Parking, as in the Parking seed: gate processes `gate:1..N` spread over
 * the nodes, and one `lot` process, the single writer of `vehicle/*` and
 * `slot/*` keys and of the gates' counters `gate/<n>`. It admits a car into
 * a free slot, written in the same delta as the car, so no replica ever
 * counts more cars than spaces. Counters go in that delta too, so they
 * survive a crash of any node (the seed kept them in process state).
 */
import { HandlerRefusal, RoomyError } from "../../core/errors.ts";
import type { LotMachine } from "../../core/parking/lot-machine.ts";
import {
  countGate,
  type GateCounters,
  type LotInfo,
  LotIndex,
  readGateCounters,
  planPark,
  planUnpark,
  validateGate,
  validatePlate,
  type VehicleRecord,
} from "../../core/parking/parking.ts";
import { detach } from "../registry/mailbox.ts";
import type { ProcessHandlers, Registry } from "../registry/types.ts";
import { whenHeld } from "../replication/held.ts";
import type { AppContext } from "./context.ts";
import { gateMsgFromWire, gateMsgToWire, lotMsgFromWire, lotMsgToWire } from "./parking-messages.ts";

export const LOT_PROCESS = "lot";
export const GATE_PROCESS_PREFIX = "gate:";

export function gateProcess(gate: number): string {
  return GATE_PROCESS_PREFIX + gate;
}

export interface GateInfo {
  gate: number;
  /** the node its process runs on */
  owner: string;
  /** cars admitted through it (replicated: survives crashes) */
  entries: number;
  /** cars let out through it */
  exits: number;
  /** cars in the lot now that entered through it */
  parked: number;
}

/** Client-facing operations on the lot. */
export interface ParkingApi {
  /** A car enters through `gate`; already parked is a no-op; a full lot refuses (`lot_full`). */
  park(gate: number | string, plate: string, left?: AbortSignal): Promise<void>;
  /** A car leaves through `gate` (`not_parked` if it is not in the lot). */
  unpark(gate: number | string, plate: string, left?: AbortSignal): Promise<void>;
  /** Spaces, occupancy and the cars (Raft lot: linearizable; CRDT lot: this node's replica). */
  lot(): Promise<LotInfo>;
  /** The same from this node's replica at once, never waiting (dashboard, metrics): may lag. */
  lotLocal(): LotInfo;
  /** Every gate with its owner and counters, in gate order. */
  gates(): Promise<GateInfo[]>;
}

/** Where a gate hands a car: the lot process (CRDT lot) or the log (Raft lot). */
export interface GateTarget {
  /** `spaces`: the --spaces of the node the park was sent through, when it said. */
  enter(gate: number, plate: string, spaces?: number): Promise<unknown>;
  exit(gate: number, plate: string): Promise<unknown>;
}

/**
 * The gate processes `gate:1..N`, as in the Parking seed: each takes one car
 * at a time, checks it, and hands it on. `detached`: the answer does not hold
 * the gate (the next car need not wait for it); right for the Raft log, which
 * orders the cars and applies each once. The CRDT lot keeps its gates waiting
 * for each answer: detached, a client's retry overlapped its own earlier
 * attempt and the soak lost acknowledged parks (SOAK=1 seeds 6, 33).
 */
export function defineGates(registry: Registry, gates: number, target: GateTarget, detached: boolean): void {
  // A gate holds nothing and does nothing but pass the car on: a refusal of
  // its target before that ran (the lot's process unreachable, the Raft lot
  // with no leader and too few voters) is the gate's own (no_effect kept).
  const own = (e: unknown): never => {
    throw e instanceof RoomyError && e.noEffect && !(e instanceof HandlerRefusal) ? new HandlerRefusal(e.code, e.message) : e;
  };
  const hand = (p: Promise<unknown>): unknown => (detached ? detach(p.catch(own)) : p.catch(own));
  registry.define(GATE_PROCESS_PREFIX, (name): ProcessHandlers => {
    const gate = Number(name.slice(GATE_PROCESS_PREFIX.length));
    return {
      handle(wire: unknown): unknown {
        validateGate(gate, gates);
        const msg = gateMsgFromWire(wire);
        switch (msg.kind) {
          case "enter":
            return hand(target.enter(gate, msg.plate, msg.spaces));
          case "exit":
            return hand(target.exit(gate, msg.plate));
          case "ping":
            return Promise.resolve({ gate });
        }
      },
    };
  });
}

/** park and unpark of the API: through the car's gate process. */
export function throughGates(registry: Registry, gates: number, spaces?: number): Pick<ParkingApi, "park" | "unpark"> {
  return {
    // `left`: the client leaving is told to the gate's node (registry stalled-calls.ts), as for a walk-into.
    async park(gate: number | string, plate: string, left?: AbortSignal): Promise<void> {
      const g = validateGate(gate, gates);
      validatePlate(plate);
      await registry.call(gateProcess(g), gateMsgToWire(spaces === undefined ? { kind: "enter", plate } : { kind: "enter", plate, spaces }), { left });
    },
    async unpark(gate: number | string, plate: string, left?: AbortSignal): Promise<void> {
      const g = validateGate(gate, gates);
      validatePlate(plate);
      await registry.call(gateProcess(g), gateMsgToWire({ kind: "exit", plate }), { left });
    },
  };
}

export interface ParkingConfig {
  gates: number;
  spaces: number;
}

export interface ParkingApp extends ParkingApi {
  /** The CRDT lot's index (null for the Raft lot). */
  readonly index: LotIndex | null;
  /** The Raft lot's state machine (null for the CRDT lot). */
  readonly machine: LotMachine | null;
  readonly config: ParkingConfig;
  stop(): void;
}

export async function startParking(ctx: AppContext, config: ParkingConfig): Promise<ParkingApp> {
  const { map, registry, clock, node } = ctx;
  const { gates, spaces } = config;
  const index = LotIndex.from(map, spaces);
  const unsubscribe = ctx.replicator.onChange((changes) => index.apply(changes));

  registry.define(LOT_PROCESS, (): ProcessHandlers => ({
    // Not async, as the room process: a write held at once answers in the same turn.
    handle(wire: unknown): unknown {
      const msg = lotMsgFromWire(wire, gates);
      switch (msg.kind) {
        case "park": {
          const record: VehicleRecord = { gate: msg.gate, at: new Date(clock.now()).toISOString(), node };
          const writes = planPark(index, msg.plate, record);
          if (writes.length === 0) return { parked: false }; // already parked: a no-op
          return whenHeld(ctx.write([...writes, countGate(map, record.gate, "entry")]), () => ({ parked: true }));
        }
        case "unpark":
          return whenHeld(ctx.write([...planUnpark(index, msg.plate), countGate(map, msg.gate, "exit")]), () => ({ unparked: true }));
      }
    },
  }));

  // A gate admits and lets out through the lot; it holds no state of its own.
  defineGates(registry, gates, {
    enter: (gate, plate) => registry.call(LOT_PROCESS, lotMsgToWire({ kind: "park", gate, plate })),
    exit: (gate, plate) => registry.call(LOT_PROCESS, lotMsgToWire({ kind: "unpark", gate, plate })),
  }, false);

  const api: ParkingApp = {
    index,
    machine: null,
    config: { gates, spaces },
    ...throughGates(registry, gates),
    lot: () => Promise.resolve(index.info()),
    lotLocal: () => index.info(),
    gates(): Promise<GateInfo[]> {
      const out: GateInfo[] = [];
      for (let g = 1; g <= gates; g++) {
        const c: GateCounters = readGateCounters(map, g);
        out.push({ gate: g, owner: registry.ownerOf(gateProcess(g)), entries: c.entries, exits: c.exits, parked: index.parkedVia(g) });
      }
      return Promise.resolve(out);
    },
    stop: unsubscribe,
  };
  // The seed starts every gate with the application; so do we, without
  // holding the node's start for it (a node that is not yet a holder of the
  // configuration starts them once it serves, or on their first car).
  void Promise.allSettled(Array.from({ length: gates }, (_, i) => registry.call(gateProcess(i + 1), gateMsgToWire({ kind: "ping" }))));
  return api;
}
