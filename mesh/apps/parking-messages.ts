/**
 * What the parking processes are asked. In code a GateMsg or LotMsg, unions
 * with full field names; on the wire (and in calls on this node) the objects
 * every roomy node already sends and reads, `t` naming the kind: the
 * *ToWire/*FromWire functions are the only places that spell them.
 */
import { RoomyError } from "../../core/errors.ts";
import { spacesOf } from "../../core/parking/lot-machine.ts";
import { validateGate, validatePlate } from "../../core/parking/parking.ts";

/**
 * To a gate process: a car enters or leaves through it, or a ping that
 * starts it. An entry carries the --spaces of the node it was sent through
 * (absent from an older node's: the gate's node uses its own), so a rolling
 * change of the setting takes effect with the first park sent through a node
 * that has it, whichever node runs the gate.
 */
export type GateMsg = { kind: "enter"; plate: string; spaces?: number } | { kind: "exit"; plate: string } | { kind: "ping" };

/** To the lot process (the CRDT lot): admit a car through a gate, or let it out. */
export type LotMsg = { kind: "park"; gate: number; plate: string } | { kind: "unpark"; gate: number; plate: string };

type Wire = { t: string } & Record<string, unknown>;

export function gateMsgToWire(m: GateMsg): Wire {
  if (m.kind === "ping") return { t: "ping" };
  return m.kind === "enter" && m.spaces !== undefined ? { t: m.kind, plate: m.plate, spaces: m.spaces } : { t: m.kind, plate: m.plate };
}

/** A gate's message off the wire, its plate checked (`invalid_name`); any other kind is `bad_request`. */
export function gateMsgFromWire(wire: unknown): GateMsg {
  const o = fields(wire);
  switch (o["t"]) {
    case "enter": {
      const plate = validatePlate(o["plate"]);
      // A size that is not one (a peer's bug) is ignored, not applied: the gate's node uses its own.
      const spaces = spacesOf(o["spaces"]);
      return spaces === undefined ? { kind: "enter", plate } : { kind: "enter", plate, spaces };
    }
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
