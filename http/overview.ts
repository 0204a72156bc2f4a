/**
 * GET /v1/overview: one snapshot of what the dashboard shows (the node,
 * members, rooms with their people and owners, gates and the lot), so the
 * page makes one request a second instead of six. Rooms and people come from
 * this node's replica through an index kept current by the map's change
 * events (built on first use), not by calling every room process each time.
 * Lists are capped so a big cluster does not send megabytes every second.
 */
import { roomProcess } from "../mesh/apps/rooms.ts";
import type { Node } from "../mesh/node.ts";

export const OVERVIEW_MAX_ROOMS = 500;
export const OVERVIEW_MAX_PEOPLE = 200;
export const OVERVIEW_RECENT_CARS = 12;

export interface Overview {
  node: { name: string; id: string; ready: boolean; mesh: string | null; gates: number; spaces: number };
  members: { name: string; address: string; state: string; incarnation: number }[];
  /** Rooms sorted by name; `people` holds at most OVERVIEW_MAX_PEOPLE of `count`. */
  rooms: { name: string; owner: string; capacity: number | null; count: number; people: string[] }[];
  /** Total rooms (the list holds at most OVERVIEW_MAX_ROOMS). */
  roomCount: number;
  gates: { gate: number; owner: string; entries: number; exits: number; parked: number }[];
  lot: { spaces: number; occupied: number; available: number };
  /** The most recent arrivals, newest first. */
  recentCars: { plate: string; gate: number; at: string; node: string }[];
}

export function overviewSource(node: Node): () => Promise<Overview> {
  return async () => {
    // The rooms app's own index: current with the replica, no second copy to keep.
    const idx = node.roomIndex;
    const names = idx.rooms();
    const gates = await node.app.gates();
    const lot = node.app.lot();
    const cars = Object.entries(lot.vehicles)
      .map(([plate, v]) => ({ plate, gate: v.gate, at: v.at, node: v.node }))
      .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : a.plate < b.plate ? -1 : 1))
      .slice(0, OVERVIEW_RECENT_CARS);
    return {
      node: nodeInfo(node),
      members: memberList(node),
      rooms: names.slice(0, OVERVIEW_MAX_ROOMS).map((name) => {
        const people = idx.occupants(name);
        return {
          name,
          owner: node.registry.ownerOf(roomProcess(name)),
          capacity: idx.room(name)?.capacity ?? null,
          count: people.length,
          people: people.slice(0, OVERVIEW_MAX_PEOPLE),
        };
      }),
      roomCount: names.length,
      gates,
      lot: { spaces: lot.spaces, occupied: lot.occupied, available: lot.available },
      recentCars: cars,
    };
  };
}

/** What GET /v1/node answers (and the overview's `node`). */
export function nodeInfo(node: Node) {
  return {
    name: node.name,
    id: node.id,
    ready: node.isReady(),
    mesh: node.meshAddress(),
    gates: node.config.gates,
    spaces: node.config.spaces,
  };
}

/** What GET /v1/cluster/members answers (and the overview's `members`). */
export function memberList(node: Node) {
  return node.membership.members().map((m) => ({ name: m.name, address: m.address, state: m.state, incarnation: m.incarnation }));
}
