/**
 * What the dashboard's answers need beyond one look at the replica, kept
 * cheap for 100,000 rooms and 1,000,000 people:
 * - how many rooms each node runs, over every room (OwnerTally: each
 *   room's owner asked of the registry once, then remembered until
 *   placement changes);
 * - how many people are in rooms (summed again only after a change);
 * - people to search (a snapshot rebuilt in the background, in slices, at
 *   most every PEOPLE_REFRESH_MS while searches come and the replica changed);
 * - walk-ins seen by this replica (person keys set), so the page can chart
 *   a rate.
 * It subscribes to the replica's changes only to count and to mark things
 * out of date: the rooms app's index (Node.roomIndex) stays the one index.
 */
import { PERSON_PREFIX } from "../core/rooms/keys.ts";
import type { Node } from "../mesh/node/node.ts";
import { roomProcess } from "../mesh/apps/rooms.ts";
import { CatalogueBuilder, NameCatalogue } from "./overview-search.ts";
import { sleep } from "../adapter/clock.ts";

/** A people snapshot younger than this is searched as it is, even when the replica changed. */
export const PEOPLE_REFRESH_MS = 2_000;
/** Owners remembered for at most this long (placement can move without a membership change: a draining node). */
export const OWNER_TTL_MS = 10_000;
/** Rooms read per slice of a people snapshot, between which the event loop serves requests. */
const ROOMS_PER_SLICE = 2_000;

/**
 * Rooms per owner over a list of rooms that only grows (rooms are never
 * removed). `ownerOf` is asked once per room per placement; `key` names the
 * placement (the live members), and any owner seen to differ from the one
 * remembered starts over.
 */
export class OwnerTally {
  private owners = new Map<string, string>();
  private key = "";
  private since = 0;
  private tally: Map<string, number> | null = null;
  private tallied = -1;

  constructor(
    private readonly ownerOf: (room: string) => string,
    private readonly now: () => number,
    private readonly ttlMs = OWNER_TTL_MS,
  ) {}

  /** The owner of `room` asked now; a different answer from the remembered one drops what is remembered. */
  ownerNow(room: string): string {
    const o = this.ownerOf(room);
    const known = this.owners.get(room);
    if (known !== undefined && known !== o) this.reset();
    return o;
  }

  /** Rooms per owner (a Map, so any node name is a key). */
  counts(rooms: readonly string[], key: string): ReadonlyMap<string, number> {
    const now = this.now();
    if (key !== this.key || now - this.since >= this.ttlMs) {
      this.reset();
      this.key = key;
      this.since = now;
    }
    if (this.tally !== null && this.tallied === rooms.length) return this.tally;
    const t = new Map<string, number>();
    for (const r of rooms) {
      let o = this.owners.get(r);
      if (o === undefined) this.owners.set(r, (o = this.ownerOf(r)));
      t.set(o, (t.get(o) ?? 0) + 1);
    }
    this.tally = t;
    this.tallied = rooms.length;
    return t;
  }

  private reset(): void {
    this.owners = new Map();
    this.tally = null;
    this.tallied = -1;
  }
}

/** Everyone in a room at the time of the snapshot, listed room by room (rooms sorted, then names). */
export interface PeopleSnapshot {
  catalogue: NameCatalogue;
  /** the room of each name in the catalogue, when the snapshot was taken */
  rooms: readonly string[];
}

export class DashboardData {
  readonly tally: OwnerTally;
  private started = false;
  /** change batches seen: what "out of date" is measured against */
  private version = 0;
  private walkInCount = 0;
  private roomCat: NameCatalogue | null = null;
  private people: { snap: PeopleSnapshot; version: number; builtAt: number } | null = null;
  private building: Promise<PeopleSnapshot> | null = null;
  private peopleSum = { version: -1, at: 0, total: 0 };
  private unsubscribe: () => void = () => {};

  constructor(private readonly node: Node) {
    this.tally = new OwnerTally((room) => node.registry.ownerOf(roomProcess(room)), () => node.clock.now());
  }

  /** Subscribes on first use, so a node nobody looks at pays nothing. */
  private start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.node.replicator.onChange((changes) => {
      this.version++;
      for (const c of changes) {
        if (typeof c.value === "string" && c.value !== c.old && c.key.startsWith(PERSON_PREFIX)) this.walkInCount++;
      }
    });
  }

  /** Person keys set (walk-ins and moves) this replica has seen since the dashboard first asked. */
  walkIns(): number {
    this.start();
    return this.walkInCount;
  }

  /** Rooms per node, over every room. */
  roomsPerOwner(rooms: readonly string[]): ReadonlyMap<string, number> {
    this.start();
    const key = this.node.membership.live().map((m) => `${m.name}\u0000${m.id}`).join("\u0001");
    return this.tally.counts(rooms, key);
  }

  /** People in rooms, summed again at most once a second while the replica changes. */
  peopleCount(rooms: readonly string[]): number {
    this.start();
    const s = this.peopleSum;
    const now = this.node.clock.now();
    if (s.version !== this.version && (s.version < 0 || now - s.at >= 1_000)) {
      const idx = this.node.roomIndex;
      let total = 0;
      for (const r of rooms) total += idx.count(r);
      this.peopleSum = { version: this.version, at: now, total };
    }
    return this.peopleSum.total;
  }

  /** The rooms to search (rebuilt when rooms were added: rooms are never removed). */
  roomCatalogue(rooms: readonly string[]): NameCatalogue {
    this.start();
    if (this.roomCat === null || this.roomCat.size !== rooms.length) this.roomCat = NameCatalogue.of(rooms);
    return this.roomCat;
  }

  /**
   * The people to search: the current snapshot, with a rebuild started in
   * the background when it is out of date; waits only for the first one.
   */
  async peopleSnapshot(): Promise<PeopleSnapshot> {
    this.start();
    const p = this.people;
    if (p === null) return this.rebuildPeople();
    if (p.version !== this.version && this.node.clock.now() - p.builtAt >= PEOPLE_REFRESH_MS) void this.rebuildPeople();
    return p.snap;
  }

  /** Starts the first people snapshot early (the first search then finds it ready). */
  warmUp(): void {
    if (this.people === null) void this.rebuildPeople();
  }

  private rebuildPeople(): Promise<PeopleSnapshot> {
    this.building ??= (async () => {
      const version = this.version;
      const builtAt = this.node.clock.now();
      const idx = this.node.roomIndex;
      const rooms = idx.rooms();
      const names = new CatalogueBuilder();
      const roomOf: string[] = [];
      for (let i = 0; i < rooms.length; i++) {
        const room = rooms[i]!;
        for (const p of idx.occupants(room)) {
          names.add(p);
          roomOf.push(room);
        }
        // Slices: a million people take a second or so, which must not stall the node.
        if (i % ROOMS_PER_SLICE === ROOMS_PER_SLICE - 1) {
          names.cut();
          await sleep(0);
        }
      }
      const snap: PeopleSnapshot = { catalogue: names.build(), rooms: roomOf };
      this.people = { snap, version, builtAt };
      return snap;
    })().finally(() => {
      this.building = null;
    });
    return this.building;
  }

  close(): void {
    this.unsubscribe();
  }
}
