/**
 * What the dashboard reads, made for 100,000 rooms and 1,000,000 people:
 * - GET /v1/overview: one snapshot (the node, members, rooms per node over
 *   every room, one page of rooms, gates and the lot), so the page makes one
 *   request a second instead of six;
 * - GET /v1/overview/rooms and /v1/overview/people: rooms and people whose
 *   name holds `q` (any case), a page at a time (`offset`, `limit`).
 * Rooms and people come from the rooms app's index of this node's replica
 * (Node.roomIndex), not from calling every room process each time. Lists
 * are arrays of records, never objects keyed by name, so any name
 * (`__proto__`, `constructor`) comes through as it is.
 */
import type { Node } from "../mesh/node/node.ts";
import type { RouteRequest, Routes } from "./instrument.ts";
import { JSON_CONTENT_TYPE, orderedJson } from "./json.ts";
import { DashboardData } from "./overview-data.ts";
import { type PageParams, pageParams } from "./overview-search.ts";

/** Rooms in one page, at most (and by default, as before paging). */
export const OVERVIEW_MAX_ROOMS = 500;
export const OVERVIEW_MAX_PEOPLE = 200;
/** People in one page of a people search: default and most. */
export const PEOPLE_PAGE = 50;
export const PEOPLE_PAGE_MAX = 1_000;
export const OVERVIEW_RECENT_CARS = 12;

export interface RoomView {
  name: string;
  owner: string;
  capacity: number | null;
  count: number;
  /** at most OVERVIEW_MAX_PEOPLE of `count`, sorted */
  people: string[];
}

/** One page of the rooms whose name holds `q`. */
export interface RoomsPage {
  q: string;
  offset: number;
  limit: number;
  /** rooms whose name holds q (all of them when q is empty) */
  matches: number;
  /** every room */
  total: number;
  rooms: RoomView[];
}

/** One page of the people (in a room) whose name holds `q`, listed by room, then name. */
export interface PeoplePage {
  q: string;
  offset: number;
  limit: number;
  matches: number;
  /** people in rooms, as searched (the snapshot may be up to a few seconds old) */
  total: number;
  /** `room` is where they are now (null: they left since) */
  people: { name: string; room: string | null }[];
}

export interface Overview {
  node: { name: string; id: string; ready: boolean; mesh: string | null; gates: number; spaces: number };
  members: { name: string; address: string; state: string; incarnation: number }[];
  /** Rooms and gates each node runs, over every room; every member, then any other owner. */
  load: { node: string; rooms: number; gates: number }[];
  /** One page of rooms sorted by name (see RoomsPage: `roomMatches` is its `matches`). */
  rooms: RoomView[];
  /** Total rooms. */
  roomCount: number;
  roomMatches: number;
  q: string;
  offset: number;
  limit: number;
  /** People in rooms, all rooms counted. */
  peopleCount: number;
  /** Walk-ins (person keys set) this node's replica has seen since the dashboard first asked: a counter, for a rate. */
  walkIns: number;
  gates: { gate: number; owner: string; entries: number; exits: number; parked: number }[];
  lot: { spaces: number; occupied: number; available: number };
  /** The most recent arrivals, newest first. */
  recentCars: { plate: string; gate: number; at: string; node: string }[];
  /** The Raft log as this node sees it (GET /v1/consensus has the rest). */
  consensus: { leader: string | null; term: number; generation: number; lot: string; unavailable: string | null };
}

export interface OverviewSource {
  overview(p: PageParams): Promise<Overview>;
  rooms(p: PageParams): RoomsPage;
  people(p: PageParams): Promise<PeoplePage>;
  readonly data: DashboardData;
}

export function overviewSource(node: Node): OverviewSource {
  const data = new DashboardData(node);
  const idx = node.roomIndex;
  const tally = data.tally;
  const view = (name: string): RoomView => {
    const people = idx.occupants(name);
    return {
      name,
      owner: tally.ownerNow(name),
      capacity: idx.room(name)?.capacity ?? null,
      count: people.length,
      people: people.slice(0, OVERVIEW_MAX_PEOPLE),
    };
  };
  const rooms = (p: PageParams, all = idx.rooms()): RoomsPage => {
    const hits = data.roomCatalogue(all).search(p);
    return { q: p.q, offset: p.offset, limit: p.limit, matches: hits.matches, total: all.length, rooms: hits.indices.map((i) => view(all[i]!)) };
  };

  return {
    data,
    rooms,
    async people(p: PageParams): Promise<PeoplePage> {
      const snap = await data.peopleSnapshot();
      const hits = snap.catalogue.search(p);
      return {
        q: p.q,
        offset: p.offset,
        limit: p.limit,
        matches: hits.matches,
        total: snap.catalogue.size,
        people: hits.indices.map((i) => {
          const name = snap.catalogue.names[i]!;
          return { name, room: idx.roomOf(name) };
        }),
      };
    },
    async overview(p: PageParams): Promise<Overview> {
      const all = idx.rooms();
      const page = rooms(p, all); // first: its fresh owners check the remembered ones
      // The Raft lot's gates need a majority: without one the dashboard still draws (and says why below).
      const gates = await node.app.gates().catch(() => []);
      const lot = node.app.lotLocal();
      const cs = node.consensus.status();
      const cars = Object.entries(lot.vehicles)
        .map(([plate, v]) => ({ plate, gate: v.gate, at: v.at, node: v.node }))
        .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : a.plate < b.plate ? -1 : 1))
        .slice(0, OVERVIEW_RECENT_CARS);
      const members = memberList(node);
      data.warmUp();
      return {
        node: nodeInfo(node),
        members,
        load: loadPerNode(members.map((m) => m.name), data.roomsPerOwner(all), gates),
        rooms: page.rooms,
        roomCount: all.length,
        roomMatches: page.matches,
        q: p.q,
        offset: p.offset,
        limit: p.limit,
        peopleCount: data.peopleCount(all),
        walkIns: data.walkIns(),
        gates,
        lot: { spaces: lot.spaces, occupied: lot.occupied, available: lot.available },
        recentCars: cars,
        consensus: { leader: cs.leader, term: cs.term, generation: cs.generation, lot: node.config.lot, unavailable: cs.unavailable },
      };
    },
  };
}

function loadPerNode(members: string[], rooms: ReadonlyMap<string, number>, gates: readonly { owner: string }[]): Overview["load"] {
  const gatesOf = new Map<string, number>();
  for (const g of gates) gatesOf.set(g.owner, (gatesOf.get(g.owner) ?? 0) + 1);
  const names = [...members];
  for (const n of [...rooms.keys(), ...gatesOf.keys()]) if (!names.includes(n)) names.push(n);
  return names.map((n) => ({ node: n, rooms: rooms.get(n) ?? 0, gates: gatesOf.get(n) ?? 0 }));
}

const json = (value: unknown): Response => new Response(orderedJson(value), { status: 200, headers: { "content-type": JSON_CONTENT_TYPE } });
const params = (r: RouteRequest, dflt: number, max: number): PageParams => pageParams((n) => r.query(n), dflt, max);

/** The dashboard's data routes (behind the token, as every /v1 route). */
export function registerOverview(routes: Routes, node: Node): OverviewSource {
  const src = overviewSource(node);
  routes.get("/v1/overview", async (r) => json(await src.overview(params(r, OVERVIEW_MAX_ROOMS, OVERVIEW_MAX_ROOMS))));
  routes.get("/v1/overview/rooms", (r) => json(src.rooms(params(r, OVERVIEW_MAX_ROOMS, OVERVIEW_MAX_ROOMS))));
  routes.get("/v1/overview/people", async (r) => json(await src.people(params(r, PEOPLE_PAGE, PEOPLE_PAGE_MAX))));
  return src;
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
