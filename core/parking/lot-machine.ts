/**
 * The lot as a state machine of the Raft log (mesh/consensus/): every node
 * applies the same park and unpark commands in the same order, so every
 * replica holds the same cars, and an answer is given only once a majority
 * holds the command. Deterministic: time and node come in the command.
 * The rules are those of the CRDT lot (parking.ts): a parked car parks again
 * as a no-op, a full lot refuses (`lot_full`), unparking a car not in the lot
 * is `not_parked`.
 */
import { RoomyError } from "../errors.ts";
import type { GateCounters } from "./parking.ts";
import type { LotInfo } from "./lot-index.ts";
import type { VehicleRecord } from "./keys.ts";
import { validateName } from "../names.ts";

/** A command of the lot, as code reads it; the log holds lotCommandToLog's form. */
export type LotCommand =
  /** `spaces`: the proposer's configured size; the lot's size is part of the replicated state (see apply). */
  | { kind: "park"; gate: number; plate: string; at: string; node: string; spaces?: number }
  | { kind: "unpark"; gate: number; plate: string };

/** A command as the log carries it (every node of every version reads `t`). */
export function lotCommandToLog(c: LotCommand): Record<string, unknown> {
  const { kind, ...rest } = c;
  return { t: kind, ...rest };
}

/** A command off the log, checked; anything else is `bad_request` (and changes nothing). */
export function lotCommandFromLog(data: unknown): LotCommand {
  const c = data as Partial<Record<string, unknown>> | null;
  if (typeof c !== "object" || c === null || !isGate(c["gate"])) throw new RoomyError("bad_request", "malformed lot command");
  const plate = validateName("plate", c["plate"]);
  const gate = c["gate"];
  if (c["t"] === "park") {
    const at = c["at"];
    const node = c["node"];
    if (typeof at !== "string" || typeof node !== "string") throw new RoomyError("bad_request", "malformed lot command");
    const spaces = spacesOf(c["spaces"]);
    return spaces === undefined ? { kind: "park", gate, plate, at, node } : { kind: "park", gate, plate, at, node, spaces };
  }
  if (c["t"] === "unpark") return { kind: "unpark", gate, plate };
  throw new RoomyError("bad_request", "malformed lot command");
}

/** A lot size carried by a message (a count of spaces), or undefined for anything else: then the receiver uses its own. */
export function spacesOf(v: unknown): number | undefined {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

export type LotResult = { parked: boolean } | { unparked: true };

function isGate(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 1;
}

export class LotMachine {
  /**
   * The lot's size: this node's --spaces until a park carries one, then the
   * size of the last park applied. Every node applies the same parks, so
   * every replica decides `lot_full` alike even when nodes were started with
   * different --spaces (a rolling change of the setting takes effect with
   * the first park proposed by a node that has the new value).
   */
  spaces: number;
  readonly #configured: number;
  #cars = new Map<string, VehicleRecord>();
  #gates = new Map<number, GateCounters>();

  constructor(spaces: number) {
    this.spaces = spaces;
    this.#configured = spaces;
  }

  get occupied(): number {
    return this.#cars.size;
  }

  isParked(plate: string): boolean {
    return this.#cars.has(plate);
  }

  /** Apply one command of the log (its data, as lotCommandToLog made it). Refusals throw RoomyError and change nothing. */
  apply(data: unknown): LotResult {
    const c = lotCommandFromLog(data);
    switch (c.kind) {
      case "park": {
        if (c.spaces !== undefined) this.spaces = c.spaces;
        if (this.#cars.has(c.plate)) return { parked: false };
        if (this.#cars.size >= this.spaces) {
          throw new RoomyError("lot_full", `the lot is full: ${this.#cars.size} of ${this.spaces} spaces taken`);
        }
        this.#cars.set(c.plate, { gate: c.gate, at: c.at, node: c.node });
        this.#count(c.gate, "entries");
        return { parked: true };
      }
      case "unpark":
        if (!this.#cars.delete(c.plate)) throw new RoomyError("not_parked", `no car with plate ${JSON.stringify(c.plate)} is parked`);
        this.#count(c.gate, "exits");
        return { unparked: true };
    }
  }

  #count(gate: number, what: keyof GateCounters): void {
    const c = this.#gates.get(gate) ?? { entries: 0, exits: 0 };
    this.#gates.set(gate, { ...c, [what]: c[what] + 1 });
  }

  counters(gate: number): GateCounters {
    return this.#gates.get(gate) ?? { entries: 0, exits: 0 };
  }

  parkedVia(gate: number): number {
    let n = 0;
    for (const v of this.#cars.values()) if (v.gate === gate) n++;
    return n;
  }

  info(): LotInfo {
    const vehicles = Object.create(null) as Record<string, VehicleRecord>;
    for (const plate of [...this.#cars.keys()].sort()) vehicles[plate] = { ...this.#cars.get(plate)! };
    return { spaces: this.spaces, occupied: this.#cars.size, available: Math.max(0, this.spaces - this.#cars.size), vehicles };
  }

  /** The whole state as bytes (arrays of pairs: any plate, `__proto__` included, round-trips). */
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ spaces: this.spaces, cars: [...this.#cars], gates: [...this.#gates] }));
  }

  restore(data: Uint8Array): void {
    const s = JSON.parse(new TextDecoder().decode(data)) as { spaces?: number; cars: [string, VehicleRecord][]; gates: [number, GateCounters][] };
    this.spaces = typeof s.spaces === "number" ? s.spaces : this.#configured;
    this.#cars = new Map(s.cars);
    this.#gates = new Map(s.gates);
  }

  reset(): void {
    this.spaces = this.#configured;
    this.#cars = new Map();
    this.#gates = new Map();
  }
}
