/**
 * What the parking processes are asked. In code a GateMsg or LotMsg, unions
 * with full field names; on the wire (and in calls on this node) the objects
 * every roomy node already sends and reads, `t` naming the kind: the
 * *ToWire/*FromWire functions are the only places that spell them.
 */
import { RoomyError } from "../../core/errors.ts";
import { validateGate, validatePlate } from "../../core/parking/parking.ts";

/** To a gate process: a car enters or leaves through it, or a ping that starts it. */
export type GateMsg = { kind: "enter"; plate: string } | { kind: "exit"; plate: string } | { kind: "ping" };

/** To the lot process (the CRDT lot): admit a car through a gate, or let it out. */
export type LotMsg = { kind: "park"; gate: number; plate: string } | { kind: "unpark"; gate: number; plate: string };

type Wire = { t: string } & Record<string, unknown>;

export function gateMsgToWire(m: GateMsg): Wire {
  return m.kind === "ping" ? { t: "ping" } : { t: m.kind, plate: m.plate };
}

/** A gate's message off the wire, its plate checked (`invalid_name`); any other kind is `bad_request`. */
export function gateMsgFromWire(wire: unknown): GateMsg {
  const o = fields(wire);
  switch (o["t"]) {
    case "enter":
    case "exit":
      return { kind: o["t"], plate: validatePlate(o["plate"]) };
    case "ping":
      return { kind: "ping" };
    default:
      throw new RoomyError("bad_request", `gate cannot handle ${JSON.stringify(o["t"])}`);
  }
}

export function lotMsgToWire(m: LotMsg): Wire {
  return { t: m.kind, gate: m.gate, plate: m.plate };
}

/** The lot's message off the wire: its gate one of 1..`gates` (`unknown_gate`), its plate a name; any other kind is `bad_request`. */
export function lotMsgFromWire(wire: unknown, gates: number): LotMsg {
  const o = fields(wire);
  switch (o["t"]) {
    case "park":
    case "unpark":
      return { kind: o["t"], gate: validateGate(o["gate"], gates), plate: validatePlate(o["plate"]) };
    default:
      throw new RoomyError("bad_request", `lot cannot handle ${JSON.stringify(o["t"])}`);
  }
}

function fields(wire: unknown): Record<string, unknown> {
  return typeof wire === "object" && wire !== null ? (wire as Record<string, unknown>) : {};
}
