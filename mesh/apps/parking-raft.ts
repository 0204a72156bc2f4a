/**
 * Parking on the Raft log (`--lot raft`, the default): gates are registered
 * processes spread over the nodes, as in the Parking seed, and each admission
 * or exit is one command of the log (core/parking/lot-machine.ts). An answer comes
 * only once a majority holds the command; `lot()` reads behind a ReadIndex
 * barrier, so every read sees every write acknowledged before it began.
 * Without a majority of voters, writes and reads answer `unavailable`.
 */
import { type LotMachine, lotCommandToLog } from "../../core/parking/lot-machine.ts";
import type { LotInfo } from "../../core/parking/parking.ts";
import type { Consensus } from "../consensus/driver.ts";
import type { AppContext } from "./context.ts";
import { gateMsgToWire } from "./parking-messages.ts";
import { defineGates, type GateInfo, gateProcess, type ParkingApp, type ParkingConfig, throughGates } from "./parking.ts";

export async function startRaftParking(ctx: AppContext, consensus: Consensus, machine: LotMachine, config: ParkingConfig): Promise<ParkingApp> {
  const { registry, clock, node } = ctx;
  const { gates } = config;

  defineGates(registry, gates, {
    // The size of the node the park was sent through (README, Consensus), else this node's.
    enter: (gate, plate, spaces) => consensus.submit(lotCommandToLog({ kind: "park", gate, plate, at: new Date(clock.now()).toISOString(), node, spaces: spaces ?? config.spaces })),
    exit: (gate, plate) => consensus.submit(lotCommandToLog({ kind: "unpark", gate, plate })),
  }, true);

  // Reads by name, so that a node cut off from the leader only has a peer
  // answer them (consensus relay.ts); linearizable either way.
  consensus.defineQuery("lot", () => machine.info());
  consensus.defineQuery("gates", (): GateInfo[] => {
    const out: GateInfo[] = [];
    for (let g = 1; g <= gates; g++) {
      const c = machine.counters(g);
      out.push({ gate: g, owner: registry.ownerOf(gateProcess(g)), entries: c.entries, exits: c.exits, parked: machine.parkedVia(g) });
    }
    return out;
  });

  const app: ParkingApp = {
    index: null,
    machine,
    config: { gates, spaces: machine.spaces },
    ...throughGates(registry, gates, config.spaces),
    async lot(): Promise<LotInfo> {
      const info = await consensus.query<LotInfo>("lot");
      // A relayed answer came as JSON: its cars back in an object with no prototype, as the machine makes it (a plate may be "constructor").
      return Object.getPrototypeOf(info.vehicles) === null ? info : { ...info, vehicles: Object.assign(Object.create(null) as LotInfo["vehicles"], info.vehicles) };
    },
    lotLocal: () => machine.info(),
    gates: () => consensus.query<GateInfo[]>("gates"),
    stop() {},
  };
  // The seed starts every gate with the application; so do we, without
  // holding the node's start for it (a node that is not yet a holder of the
  // configuration starts them once it serves, or on their first car).
  void Promise.allSettled(Array.from({ length: gates }, (_, i) => registry.call(gateProcess(i + 1), gateMsgToWire({ kind: "ping" }))));
  return app;
}
