/** The client-facing operations of a node: rooms and parking together. */
import type { LotIndex } from "../../core/parking/parking.ts";
import type { RoomIndex } from "../../core/rooms/rooms.ts";
import type { AppContext } from "./context.ts";
import type { LotMachine } from "../../core/parking/lot-machine.ts";
import type { Consensus } from "../consensus/driver.ts";
import { startRaftParking } from "./parking-raft.ts";
import { type ParkingApi, type ParkingConfig, startParking } from "./parking.ts";
import { type RoomsApi, startRooms } from "./rooms.ts";

export interface App extends RoomsApi, ParkingApi {}

export interface RunningApps {
  app: App;
  roomIndex: RoomIndex;
  lotIndex: LotIndex | null;
  stop(): void;
}

/** The Raft lot's parts; without them the CRDT lot runs. */
export interface RaftLot {
  consensus: Consensus;
  machine: LotMachine;
}

export async function startApps(ctx: AppContext, parking: ParkingConfig, raft: RaftLot | null): Promise<RunningApps> {
  const rooms = startRooms(ctx);
  const lot = raft === null ? await startParking(ctx, parking) : await startRaftParking(ctx, raft.consensus, raft.machine, parking);
  const app: App = {
    addRooms: rooms.addRooms,
    rooms: rooms.rooms,
    walkInto: rooms.walkInto,
    leave: rooms.leave,
    whoIsIn: rooms.whoIsIn,
    whereIs: rooms.whereIs,
    dump: rooms.dump,
    dumpText: rooms.dumpText,
    park: lot.park,
    unpark: lot.unpark,
    lot: lot.lot,
    lotLocal: lot.lotLocal,
    gates: lot.gates,
  };
  return {
    app,
    roomIndex: rooms.index,
    lotIndex: lot.index,
    stop() {
      rooms.stop();
      lot.stop();
    },
  };
}
