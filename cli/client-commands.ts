/**
 * The client commands (CONTRACT.md, "Client commands"): each calls one node's API through the
 * typed client and prints the contract's format.
 */
import { MAX_CAPACITY } from "../core/rooms/keys.ts";
import type { ConsensusInfo, RoomyClient } from "../http/client.ts";
import type { OptionSpec, RawArgs } from "./argv.ts";
import { flagOrEnv, isOn } from "./argv.ts";
import { UsageError } from "./exit.ts";
import { gatesText, jsonText, listText, lotText, membersText, okText, whereText } from "./format.ts";

export interface ClientCommand {
  /** cac's command syntax, e.g. "walk-into <room> <...people>". */
  usage: string;
  description: string;
  options?: OptionSpec[];
  example?: string;
  /** Runs the command; returns what to print on stdout. */
  run(client: RoomyClient, args: string[], raw: RawArgs, json: boolean): Promise<string>;
}

const FORCE: OptionSpec = { name: "force", value: false, description: "really end the generation: writes only other nodes hold, acknowledged ones too, are lost" };

/** `roomy consensus`: one field a line, names aligned; why writes are unavailable last, when they are. */
function consensusText(c: ConsensusInfo, json: boolean): string {
  if (json) return jsonText(c);
  const list = (xs: readonly string[]) => (xs.length === 0 ? "-" : xs.join(" "));
  const rows: [string, string][] = [
    ["leader", c.leader ?? "(none)"],
    ["term", String(c.term)],
    ["epoch", String(c.epoch)],
    ["generation", String(c.generation)],
    ["commit", String(c.commit)],
    ["applied", String(c.applied)],
    ["voters", list(c.voters)],
    ["learners", list(c.learners)],
    ["role", c.role],
    ["lot", c.lot],
  ];
  if (c.unavailable !== null) rows.push(["unavailable", c.unavailable]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}\n`).join("");
}

const CAPACITY: OptionSpec = { name: "capacity", value: true, placeholder: "N", description: "most people each new room holds (default: no limit)" };

export const CLIENT_COMMANDS: ClientCommand[] = [
  {
    usage: "add-rooms <...rooms>",
    description: "create rooms; existing ones are left as they are",
    options: [CAPACITY],
    example: "roomy add-rooms kitchen living_room --capacity 4",
    async run(c, args, raw, json) {
      const cap = flagOrEnv(raw, CAPACITY, {});
      // 0 would make a room nobody can enter; the node refuses it too (bad_request).
      if (cap !== undefined && (!/^[1-9][0-9]{0,9}$/.test(cap) || Number(cap) > MAX_CAPACITY)) {
        throw new UsageError(`--capacity must be a positive integer (1 to ${MAX_CAPACITY}, no sign or leading zeros), got ${JSON.stringify(cap)}`);
      }
      await c.addRooms(args, cap === undefined ? undefined : Number(cap));
      return okText(json);
    },
  },
  {
    usage: "rooms",
    description: "list all rooms",
    run: async (c, _a, _r, json) => listText(await c.rooms(), json),
  },
  {
    usage: "walk-into <room> <...people>",
    description: "each person leaves their room (if any) and enters ROOM",
    example: "roomy walk-into living_room alan james lucy",
    async run(c, [room, ...people], _r, json) {
      await c.walkInto(room!, people);
      return okText(json);
    },
  },
  {
    usage: "leave <...people>",
    description: "each person leaves whatever room they are in",
    async run(c, people, _r, json) {
      await c.leave(people);
      return okText(json);
    },
  },
  {
    usage: "who-is-in <room>",
    description: "the people in ROOM",
    run: async (c, [room], _r, json) => listText(await c.whoIsIn(room!), json),
  },
  {
    usage: "where-is <person>",
    description: "the room PERSON is in, or nothing",
    run: async (c, [person], _r, json) => whereText(await c.whereIs(person!), json),
  },
  {
    usage: "dump [...rooms]",
    description: "every room (or the named ones) with its people, as JSON",
    example: "roomy dump living_room bedroom_king",
    run: async (c, rooms) => jsonText(await c.dump(rooms)),
  },
  {
    usage: "members",
    description: "cluster members and their state",
    run: async (c, _a, _r, json) => membersText(await c.members(), json),
  },
  {
    usage: "park <gate> <plate>",
    description: "a car enters the lot through GATE",
    example: 'roomy park 1 "ABC 123"',
    async run(c, [gate, plate], _r, json) {
      await c.park(gate!, plate!);
      return okText(json);
    },
  },
  {
    usage: "unpark <gate> <plate>",
    description: "a car leaves the lot through GATE",
    async run(c, [gate, plate], _r, json) {
      await c.unpark(gate!, plate!);
      return okText(json);
    },
  },
  {
    usage: "lot",
    description: "spaces, occupancy and the cars in the lot",
    run: async (c, _a, _r, json) => lotText(await c.lot(), json),
  },
  {
    usage: "gates",
    description: "each gate with the node it runs on and its counters",
    run: async (c, _a, _r, json) => gatesText(await c.gates(), json),
  },
  {
    usage: "crdt",
    description: "the raw replicated map on that node, as JSON",
    run: async (c) => jsonText(await c.crdt()),
  },
  {
    usage: "consensus",
    description: "the Raft log as that node sees it: leader, term, epoch, generation, commit, applied, voters, learners",
    run: async (c, _a, _r, json) => consensusText(await c.consensus(), json),
  },
  {
    usage: "recover",
    description: "end the consensus generation knowingly and start a new one from that node's state (needs --force)",
    options: [FORCE],
    example: "roomy recover --force --node http://10.0.0.3:4380",
    async run(c, _a, raw, json) {
      if (!isOn(raw, "force")) {
        throw new UsageError(
          "recover ends the current consensus generation and starts a new one from this node's state: " +
            "whatever only other nodes hold (writes this node has not applied, even acknowledged ones) is lost, " +
            "and every other node restarts from this node's lot. Use it when a majority of voters is gone for good; " +
            "repeat with --force to do it",
        );
      }
      return consensusText(await c.recover(), json);
    },
  },
];
