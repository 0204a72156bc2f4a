/**
 * The checker of hostile-nemesis.test.ts (hostile-nemesis-check.ts) catches
 * what it is there to catch, and only that: small hand-made histories, one
 * clean, and for each rule a negative control with the fault planted (a
 * stale read, a missing room, an extra car or an overfilled lot, a person in
 * two rooms, a room over its capacity, a lost acknowledged write, nodes that
 * differ at the end). A write that may have applied unseen allows either
 * value, and is not a violation.
 */
import { expect, test } from "bun:test";
import { checkHistory, FINAL, type History, type Kind, type Op, type Requests, SETUP, type Spec } from "./hostile-nemesis-check.ts";

const spec: Spec = { nodes: ["n1", "n2"], rooms: ["a", "b", "c"], capacity: { c: 1 }, people: ["p1", "p2", "p3", "p4"], plates: ["X", "Y", "Z"], spaces: 2, origin: 0 };

let nextId = 0;
/** One call: [sent, answered] in ms; a load client's through n1 unless told. */
function op<K extends Kind>(kind: K, req: Requests[K], at: [number, number], code = "ok", body: unknown = null, more: Partial<Pick<Op, "client" | "node" | "noEffect">> = {}): Op {
  return { id: ++nextId, client: "c0", node: "n1", kind, req, start: at[0], end: at[1], code, status: code === "ok" ? 200 : null, noEffect: false, msg: "", body, ...more } as Op;
}

const lot = (plates: string[], spaces = 2) => ({ spaces, occupied: plates.length, available: spaces - plates.length, vehicles: Object.fromEntries(plates.map((p) => [p, { gate: 1 }])) });
const DUMP = { a: ["p1"], b: [], c: ["p3"] };
/** The reads of every node after the heal. */
const finals = (dump: Record<string, string[]> = DUMP, dump2 = dump, lot2 = ["X", "Y"]): Op[] =>
  spec.nodes.flatMap((node, i) => [
    op("dump", {}, [900, 910], "ok", i === 0 ? dump : dump2, { client: FINAL, node }),
    op("lot", {}, [900, 910], "ok", lot(i === 0 ? ["X", "Y"] : lot2), { client: FINAL, node }),
    op("where", { person: "p1" }, [920, 930], "ok", { room: "a" }, { client: FINAL, node }),
  ]);

/** p1, p2 walk into a, p3 into c (1 seat), p2 leaves, p4 stays out; X and Y park (2 spaces); refusals as the state says. */
function clean(): Op[] {
  return [
    op("create", { rooms: ["a", "b"], capacity: null }, [0, 5], "ok", null, { client: SETUP }),
    op("create", { rooms: ["c"], capacity: 1 }, [0, 5], "ok", null, { client: SETUP }),
    op("walk", { room: "a", people: ["p1", "p2"] }, [10, 20]),
    op("walk", { room: "c", people: ["p3"] }, [30, 40], "ok", null, { node: "n2" }),
    op("park", { plate: "X", gate: 1 }, [10, 20]),
    op("park", { plate: "Y", gate: 2 }, [15, 25], "ok", null, { node: "n2" }),
    op("leave", { people: ["p2"] }, [50, 60]),
    op("where", { person: "p1" }, [70, 80], "ok", { room: "a" }, { node: "n2" }),
    op("where", { person: "p2" }, [70, 80], "ok", { room: null }),
    op("who", { room: "a" }, [70, 80], "ok", ["p1"], { node: "n2" }),
    op("dump", {}, [70, 80], "ok", DUMP),
    op("rooms", {}, [70, 80], "ok", ["a", "b", "c"]),
    op("lot", {}, [70, 80], "ok", lot(["X", "Y"])),
    op("park", { plate: "Z", gate: 3 }, [90, 100], "lot_full"),
    op("unpark", { plate: "Z", gate: 3 }, [90, 100], "not_parked"),
    op("walk", { room: "c", people: ["p1"] }, [90, 100], "room_full"),
    op("walk", { room: "b", people: ["p2"] }, [110, 120], "unavailable", null, { node: "n2" }),
    ...finals(),
  ];
}
const history = (ops: Op[], healed = true): History => ({ spec, ops, healed });
/** The rules broken, each once, sorted. */
const rules = (ops: Op[], healed = true): string[] => [...new Set(checkHistory(history(ops, healed)).violations.map((v) => v.slice(0, v.indexOf(": "))))].sort();

test("a history as acknowledged passes, its refusals (lot_full, not_parked, room_full) included", () => {
  const v = checkHistory(history(clean()));
  expect(v.violations).toEqual([]);
  expect(v.notes).toEqual([]);
  expect(v.checkedReads).toBe(12);
  expect(v.strictFinal).toBe(2); // p1 and p3; p2's last write never answered
});

test("a write that may have applied unseen allows either value: the person in the new room or still out", () => {
  for (const room of ["b", null]) {
    expect(rules([...clean(), op("where", { person: "p2" }, [130, 140], "ok", { room })])).toEqual([]);
  }
  // One abandoned before a later acknowledged leave is still allowed, but noted.
  const abandoned = op("walk", { room: "b", people: ["p2"] }, [30, 35], "timeout");
  const v = checkHistory(history([...clean(), abandoned, op("where", { person: "p2" }, [70, 80], "ok", { room: "b" })]));
  expect([v.violations, v.notes.length]).toEqual([[], 1]);
  // A refused write (no_effect) allows nothing new.
  const refused = op("walk", { room: "b", people: ["p1"] }, [130, 140], "unavailable", null, { noEffect: true });
  expect(rules([...clean(), refused, op("where", { person: "p1" }, [150, 160], "ok", { room: "b" })])).toEqual(["stale or wrong read (where-is)"]);
});

test("a stale read is caught: where-is, a dump and who-is-in that miss an acknowledged walk or leave", () => {
  expect(rules([...clean(), op("where", { person: "p1" }, [70, 80], "ok", { room: null })])).toEqual(["stale or wrong read (where-is)"]);
  expect(rules([...clean(), op("dump", {}, [70, 80], "ok", { a: ["p1", "p2"], b: [], c: ["p3"] })])).toEqual(["stale or wrong read (dump)"]);
  expect(rules([...clean(), op("who", { room: "c" }, [70, 80], "ok", [])])).toEqual(["stale or wrong read (who-is-in, missing)"]);
  // A read overlapping the leave may see either side of it.
  expect(rules([...clean(), op("where", { person: "p2" }, [55, 65], "ok", { room: "a" })])).toEqual([]);
});

test("a missing or unknown room is caught: a dump or list without a created room, unknown_room, a room never created", () => {
  expect(rules([...clean(), op("dump", {}, [70, 80], "ok", { a: ["p1"], c: ["p3"] })])).toEqual(["dump missing a created room"]);
  expect(rules([...clean(), op("rooms", {}, [70, 80], "ok", ["a", "c"])])).toEqual(["room list missing a created room"]);
  expect(rules([...clean(), op("walk", { room: "b", people: ["p3"] }, [70, 80], "unknown_room")])).toEqual(["unknown_room for a created room"]);
  expect(rules([...clean(), op("dump", {}, [70, 80], "ok", { ...DUMP, zz: [] })])).toEqual(["dump has a room never created"]);
});

test("an extra car or an overfilled lot is caught: a car never parked in the lot, more cars than spaces, a park acknowledged into a full lot", () => {
  expect(rules([...clean(), op("lot", {}, [70, 80], "ok", lot(["X", "Y", "Z"], 3))])).toEqual(["lot over its spaces or inconsistent", "lot read not linearizable"]);
  expect(rules([...clean(), op("lot", {}, [70, 80], "ok", lot(["X"]))])).toEqual(["lot read not linearizable"]);
  // The final lot, without Z, then misses an acknowledged park as well.
  expect(rules([...clean(), op("park", { plate: "Z", gate: 3 }, [90, 100])])).toEqual(["lot read not linearizable", "park acknowledged while the lot was full"]);
  // The lot's refusals, where the history rules them out.
  expect(rules([...clean(), op("park", { plate: "X", gate: 1 }, [5, 8], "lot_full")])).toEqual(["lot_full while the lot cannot be full"]);
  expect(rules([...clean(), op("unpark", { plate: "X", gate: 1 }, [70, 80], "not_parked")])).toEqual(["not_parked for a plate surely parked"]);
});

test("a person in two rooms is caught, even when each room alone is possible", () => {
  const maybe = op("walk", { room: "b", people: ["p1"] }, [62, 64], "timeout");
  expect(rules([...clean(), maybe, op("dump", {}, [70, 80], "ok", { a: ["p1"], b: ["p1"], c: ["p3"] })])).toEqual(["person in two rooms"]);
});

test("a room over its capacity is caught, in a dump and in who-is-in, even when each person's own room is possible", () => {
  // p2's walk into c never answered: p2 may be there, but not with p3 in its one seat.
  const maybe = op("walk", { room: "c", people: ["p2"] }, [62, 64], "timeout");
  expect(rules([...clean(), maybe, op("dump", {}, [70, 80], "ok", { a: ["p1"], b: [], c: ["p3", "p2"] })])).toEqual(["room over capacity"]);
  expect(rules([...clean(), maybe, op("who", { room: "c" }, [70, 80], "ok", ["p3", "p2"])])).toEqual(["room over capacity"]);
  expect(rules([...clean(), op("walk", { room: "a", people: ["p3"] }, [70, 80], "room_full")])).toEqual(["room_full for a room without a capacity"]);
});

test("after the heal: a lost acknowledged write, nodes that differ, a failed or missing final read, a node not back, are caught", () => {
  const base = clean().filter((o) => o.client !== FINAL);
  expect(rules([...base, ...finals({ a: ["p1"], b: [], c: [] })])).toEqual(["acknowledged last write lost at the end", "stale or wrong read (dump)"]);
  expect(rules([...base, ...finals(DUMP, { a: ["p1"], b: ["p2"], c: ["p3"] })])).toEqual(["final dumps differ between nodes"]);
  expect(rules([...base, ...finals(DUMP, { a: ["p1"], b: ["p4"], c: ["p3"] })])).toEqual(["final dumps differ between nodes", "stale or wrong read (dump)"]);
  expect(rules([...base, ...finals({ a: ["p1", "p4"], b: [], c: ["p3"] })])).toEqual(["in a room at the end without ever walking in", "stale or wrong read (dump)"]);
  expect(rules([...base, ...finals(DUMP, DUMP, ["X"])])).toEqual(["final lots differ between nodes", "lot read not linearizable"]);
  expect(rules([...base, ...finals().filter((o) => o.node !== "n2")])).toEqual(["no final dump and lot (after the heal)"]);
  expect(rules([...base, ...finals(), op("where", { person: "p3" }, [920, 930], "unavailable", null, { client: FINAL, node: "n2" })])).toEqual(["final read failed (after the heal)"]);
  expect(rules(clean(), false)).toEqual(["not every node ready after the faults stopped"]);
  // Nodes listing the same people in another order are equal.
  expect(rules([...base, ...finals({ a: ["p1"], b: [], c: ["p3"] }, { c: ["p3"], b: [], a: ["p1"] })])).toEqual([]);
});

test("an internal error or an error code the load never causes is a violation", () => {
  expect(rules([...clean(), op("where", { person: "p1" }, [70, 80], "internal")])).toEqual(["internal error"]);
  expect(rules([...clean(), op("walk", { room: "a", people: ["p1"] }, [70, 80], "bad_request", null, { noEffect: true })])).toEqual(["unexpected error code"]);
});
