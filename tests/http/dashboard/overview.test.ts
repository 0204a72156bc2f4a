/**
 * The dashboard's data answers, in-process: rooms per node over every room,
 * rooms and people searched (any case, substring) a page at a time, strict
 * paging parameters, and names such as __proto__ that a plain object would
 * swallow.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApp } from "../../../http/app.ts";
import type { Overview, PeoplePage, RoomsPage } from "../../../http/overview.ts";
import { OwnerTally } from "../../../http/overview-data.ts";
import { NameCatalogue } from "../../../http/overview-search.ts";
import { type Node, startNode } from "../../../mesh/node/node.ts";
import { loadReplica, personName, roomName } from "../../dashboard/support.ts";

describe("OwnerTally", () => {
  const members = ["a", "b", "c"];
  const rooms = Array.from({ length: 1_200 }, (_, i) => `r${i}`);
  const byHash = (shift: number) => (room: string) => members[(Number(room.slice(1)) + shift) % members.length]!;
  const brute = (f: (r: string) => string, list: string[]) => {
    const m = new Map<string, number>();
    for (const r of list) m.set(f(r), (m.get(f(r)) ?? 0) + 1);
    return m;
  };

  test("counts every room's owner, asking each room once per placement", () => {
    let asked = 0;
    const tally = new OwnerTally((r) => (asked++, byHash(0)(r)), () => 0);
    expect(tally.counts(rooms, "abc")).toEqual(brute(byHash(0), rooms));
    expect(asked).toBe(1_200);
    tally.counts(rooms, "abc");
    const more = [...rooms, "r1200", "r1201"];
    expect(tally.counts(more, "abc")).toEqual(brute(byHash(0), more));
    expect(asked).toBe(1_202);
  });

  test("starts over when the placement changes, when an owner is seen to move, and after its time to live", () => {
    let shift = 0;
    let now = 0;
    const tally = new OwnerTally((r) => byHash(shift)(r), () => now, 10_000);
    tally.counts(rooms, "abc");
    shift = 1;
    expect(tally.counts(rooms, "abd")).toEqual(brute(byHash(1), rooms)); // a new key
    shift = 2;
    expect(tally.ownerNow("r0")).toBe(byHash(2)("r0")); // a page's fresh owner differs
    expect(tally.counts(rooms, "abd")).toEqual(brute(byHash(2), rooms));
    shift = 0;
    now = 10_000; // a draining node moves names without a membership change
    expect(tally.counts(rooms, "abd")).toEqual(brute(byHash(0), rooms));
  });
});

describe("NameCatalogue", () => {
  const cat = NameCatalogue.of(["Alpha", "beta", "İstanbul", "ALPHABET", "gamma", "ab", "c"]);
  const page = (q: string, offset = 0, limit = 10) => {
    const h = cat.search({ q, offset, limit });
    return { matches: h.matches, names: h.indices.map((i) => cat.names[i]) };
  };

  test("finds names holding the query in any case, counted in full, a page at a time", () => {
    expect(page("ALP")).toEqual({ matches: 2, names: ["Alpha", "ALPHABET"] });
    expect(page("a", 1, 2)).toEqual({ matches: 6, names: ["beta", "İstanbul"] });
    expect(page("")).toEqual({ matches: 7, names: [...cat.names] });
    expect(page("", 6, 10)).toEqual({ matches: 7, names: ["c"] });
  });

  test("a name whose lower case is longer does not shift the names after it, and no match spans two names", () => {
    expect(page("stanbul")).toEqual({ matches: 1, names: ["İstanbul"] });
    expect(page("alphabet")).toEqual({ matches: 1, names: ["ALPHABET"] });
    expect(page("bc")).toEqual({ matches: 0, names: [] });
    expect(page("b\nc")).toEqual({ matches: 0, names: [] });
  });

  test("a name equal to the query (any case) comes first, on every page count once (a person's room clicked among many holding its name)", () => {
    const rooms = NameCatalogue.of([...Array.from({ length: 50 }, (_, i) => `ax${String(i).padStart(2, "0")}`), "x", "xy"]);
    const h = rooms.search({ q: "x", offset: 0, limit: 48 });
    expect(h.matches).toBe(52);
    expect(rooms.names[h.indices[0]!]).toBe("x");
    const second = rooms.search({ q: "x", offset: 48, limit: 48 });
    const all = [...h.indices, ...second.indices].map((i) => rooms.names[i]);
    expect(all.length).toBe(52);
    expect(new Set(all).size).toBe(52);
    expect(all.filter((n) => n === "x")).toEqual(["x"]);
    expect(page("AB")).toEqual({ matches: 2, names: ["ab", "ALPHABET"] });
    expect(page("ab", 1, 1)).toEqual({ matches: 2, names: ["ALPHABET"] });
  });
});

describe("GET /v1/overview, /v1/overview/rooms, /v1/overview/people", () => {
  const TOKEN = "overview-token";
  const ROOMS = 1_200;
  const PEOPLE = 6_000;
  const ODD = ["__proto__", "constructor", "toString", "hasOwnProperty"];
  let node: Node;
  let app: Hono;
  let all: string[];
  const get = async <T>(path: string): Promise<T> => {
    const res = await app.request(path, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    node = await startNode({ name: "ov-1", gates: 3, spaces: 10 });
    await loadReplica(node, ROOMS, PEOPLE);
    await node.app.addRooms(ODD);
    await node.app.walkInto("constructor", ODD);
    all = node.roomIndex.rooms();
    app = createApp(node, { adminToken: TOKEN });
  });
  afterAll(() => node.stop());

  test("counts the rooms each node runs over every room, not the first page", async () => {
    const o = await get<Overview>("/v1/overview?limit=48");
    expect(o.roomCount).toBe(ROOMS + ODD.length);
    expect(o.rooms.length).toBe(48);
    expect(o.load).toEqual([{ node: "ov-1", rooms: ROOMS + ODD.length, gates: 3 }]);
    expect(o.peopleCount).toBe(PEOPLE + ODD.length);
  });

  test("pages through every room in name order", async () => {
    const seen: string[] = [];
    for (let offset = 0; ; offset += 500) {
      const p = await get<RoomsPage>(`/v1/overview/rooms?offset=${offset}`);
      expect(p.total).toBe(all.length);
      if (p.rooms.length === 0) break;
      seen.push(...p.rooms.map((r) => r.name));
    }
    expect(seen).toEqual(all);
    const o = await get<Overview>("/v1/overview?offset=48&limit=48");
    expect(o.rooms.map((r) => r.name)).toEqual(all.slice(48, 96));
    expect(o.rooms[0]).toEqual({ name: all[48]!, owner: "ov-1", capacity: null, count: PEOPLE / ROOMS, people: expect.any(Array) });
  });

  test("searches rooms and people by any part of the name, in any case", async () => {
    const rooms = await get<RoomsPage>("/v1/overview/rooms?q=ROOM-0011&limit=5");
    expect(rooms.matches).toBe(all.filter((r) => r.includes("room-0011")).length);
    expect(rooms.rooms.map((r) => r.name)).toEqual(all.filter((r) => r.includes("room-0011")).slice(0, 5));
    const people = await get<PeoplePage>("/v1/overview/people?q=Person-123&limit=3&offset=1");
    const expected = Array.from({ length: PEOPLE }, (_, i) => personName(i)).filter((p) => p.includes("person-123"));
    expect(people.matches).toBe(expected.length);
    expect(people.people.length).toBe(3);
    for (const p of people.people) {
      expect(p.name).toContain("person-123");
      expect(p.room).toBe(roomName(Number(p.name.slice("person-".length)) % ROOMS));
    }
  });

  test("a person found shows the room they are in now", async () => {
    await get<PeoplePage>("/v1/overview/people?q=person-77");
    await node.app.walkInto("room-000001", ["person-77"]);
    const p = await get<PeoplePage>("/v1/overview/people?q=person-77&limit=1");
    expect(p.people[0]).toEqual({ name: "person-77", room: "room-000001" });
  });

  test("rooms and people named __proto__, constructor, toString, hasOwnProperty come through every answer", async () => {
    const o = await get<Overview>("/v1/overview?limit=500");
    const ctor = o.rooms.find((r) => r.name === "constructor");
    expect(ctor?.people).toEqual([...ODD].sort());
    expect(o.rooms.slice(0, 3).map((r) => r.name)).toEqual(["__proto__", "constructor", "hasOwnProperty"]);
    expect((await get<Overview>(`/v1/overview?offset=${all.length - 1}`)).rooms.map((r) => r.name)).toEqual(["toString"]);
    for (const name of ODD) {
      const r = await get<RoomsPage>(`/v1/overview/rooms?q=${encodeURIComponent(name)}`);
      expect(r.rooms.map((x) => x.name)).toEqual([name]);
      const p = await get<PeoplePage>(`/v1/overview/people?q=${encodeURIComponent(name)}`);
      expect(p.people).toEqual([{ name, room: "constructor" }]);
      const q = await get<Overview>(`/v1/overview?q=${encodeURIComponent(name)}`);
      expect(q.q).toBe(name);
      expect(q.rooms.map((x) => x.name)).toEqual([name]);
    }
  });

  test("counts walk-ins seen since the dashboard first asked", async () => {
    const before = (await get<Overview>("/v1/overview?limit=1")).walkIns;
    await node.app.walkInto("room-000002", ["w1", "w2", "w3"]);
    await node.app.walkInto("room-000003", ["w1"]); // a move is a walk-in too
    expect((await get<Overview>("/v1/overview?limit=1")).walkIns - before).toBe(4);
  });

  test("refuses paging parameters that are not plain integers in range", async () => {
    for (const qs of ["offset=-1", "offset=1.5", "offset=%201", "limit=0", "limit=501", "limit=abc", `q=${"x".repeat(256)}`]) {
      for (const path of ["/v1/overview", "/v1/overview/rooms", "/v1/overview/people"]) {
        const res = await app.request(`${path}?${qs}`, { headers: { authorization: `Bearer ${TOKEN}` } });
        if (path.endsWith("people") && qs === "limit=501") continue; // people pages go up to 1,000
        expect([path, qs, res.status]).toEqual([path, qs, 400]);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("bad_request");
      }
    }
  });

  test("need the admin token", async () => {
    for (const path of ["/v1/overview", "/v1/overview/rooms", "/v1/overview/people"]) expect((await app.request(path)).status).toBe(401);
  });
});
