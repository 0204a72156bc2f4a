/**
 * Parking on the Raft log (`--lot raft`, the default): gates are registered
 * processes spread over the nodes, as in the Parking seed, and each admission
 * or exit is one command of the log (core/lot-machine.ts). An answer comes
 * only once a majority holds the command; `lot()` reads behind a ReadIndex
 * barrier, so every read sees every write acknowledged before it began.
 * Without a majority of voters, writes and reads answer `unavailable`.
 */
import { RoomyError } from "../../core/errors.ts";
import type { LotMachine } from "../../core/lot-machine.ts";
import type { LotInfo } from "../../core/parking.ts";
import { validateGate, validatePlate } from "../../core/parking.ts";
import type { Consensus } from "../consensus/driver.ts";
import { detach } from "../registry/mailbox.ts";
import type { ProcessHandlers } from "../registry/types.ts";
import { type AppContext, field } from "./context.ts";
import { GATE_PROCESS_PREFIX, type GateInfo, gateProcess, type ParkingApp, type ParkingConfig } from "./parking.ts";

export async function startRaftParking(ctx: AppContext, consensus: Consensus, machine: LotMachine, config: ParkingConfig): Promise<ParkingApp> {
  const { registry, clock, node } = ctx;
  const { gates } = config;

  registry.define(GATE_PROCESS_PREFIX, (name): ProcessHandlers => {
    const gate = Number(name.slice(GATE_PROCESS_PREFIX.length));
    return {
      // The gate hands each car to the log in turn; the log orders them, so the
      // answer (after commit) is detached: the next car need not wait for it.
      handle(msg: unknown): unknown {
        validateGate(gate, gates);
        switch (field(msg, "t")) {
          case "enter":
            return detach(consensus.submit({ t: "park", gate, plate: validatePlate(field(msg, "plate")), at: new Date(clock.now()).toISOString(), node }));
          case "exit":
            return detach(consensus.submit({ t: "unpark", gate, plate: validatePlate(field(msg, "plate")) }));
          case "ping":
            return Promise.resolve({ gate });
          default:
            throw new RoomyError("bad_request", `gate cannot handle ${JSON.stringify(field(msg, "t"))}`);
        }
      },
    };
  });

  const app: ParkingApp = {
    index: null,
    machine,
    config: { gates, spaces: machine.spaces },
    async park(gate, plate) {
      const g = validateGate(gate, gates);
      validatePlate(plate);
      await registry.call(gateProcess(g), { t: "enter", plate });
    },
    async unpark(gate, plate) {
      const g = validateGate(gate, gates);
      validatePlate(plate);
      await registry.call(gateProcess(g), { t: "exit", plate });
    },
    async lot(): Promise<LotInfo> {
      await consensus.read();
      return machine.info();
    },
    lotLocal: () => machine.info(),
    async gates(): Promise<GateInfo[]> {
      await consensus.read();
      const out: GateInfo[] = [];
      for (let g = 1; g <= gates; g++) {
        const c = machine.counters(g);
        out.push({ gate: g, owner: registry.ownerOf(gateProcess(g)), entries: c.entries, exits: c.exits, parked: machine.parkedVia(g) });
      }
      return out;
    },
    stop() {},
  };
  await Promise.allSettled(Array.from({ length: gates }, (_, i) => registry.call(gateProcess(i + 1), { t: "ping" })));
  return app;
}
