/**
 * The apps' process messages on the wire (room-messages.ts,
 * parking-messages.ts, the Raft lot's commands in core/parking/lot-machine.ts):
 * code names kinds and fields in full, while the wire keeps the objects every
 * roomy node already sends, so nodes of different versions still understand
 * each other. Each kind round-trips; the wire form is pinned; anything else
 * is refused with the error a dump reads as "a node from before that kind".
 */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { lotCommandFromLog, lotCommandToLog, type LotCommand } from "../../../core/parking/lot-machine.ts";
import { gateMsgFromWire, gateMsgToWire, type GateMsg, lotMsgFromWire, lotMsgToWire, type LotMsg } from "../../../mesh/apps/parking-messages.ts";
import { MAX_DUMP_CHUNK, manyAnswersFromWire, manyAnswersToWire, roomMsgFromWire, roomMsgToWire, type RoomMsg } from "../../../mesh/apps/room-messages.ts";

const codeOf = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    return e instanceof RoomyError ? e.code : "not a RoomyError";
  }
};

describe("room messages", () => {
  const cases: [RoomMsg, Record<string, unknown>][] = [
    [{ kind: "create", capacity: 3 }, { t: "create", capacity: 3 }],
    [{ kind: "create", capacity: null }, { t: "create", capacity: null }],
    [{ kind: "walk", people: ["ann", "bob"] }, { t: "walk", people: ["ann", "bob"] }],
    [{ kind: "who", withStamps: false }, { t: "who", bare: true }],
    [{ kind: "who", withStamps: true }, { t: "who" }],
    [{ kind: "whoMany", rooms: ["a", "b"] }, { t: "who-many", rooms: ["a", "b"] }],
    [{ kind: "stamps", people: ["ann"] }, { t: "stamps", people: ["ann"] }],
  ];

  test("every kind travels as the wire object older nodes read, and reads back as itself", () => {
    for (const [msg, wire] of cases) {
      expect<unknown>(roomMsgToWire(msg)).toEqual(wire);
      expect(roomMsgFromWire(wire)).toEqual(msg);
    }
    expect(manyAnswersToWire([["ann"], null])).toEqual({ a: [["ann"], null] });
    expect(manyAnswersFromWire({ a: [["ann"], null] })).toEqual([["ann"], null]);
    expect(manyAnswersFromWire({ rooms: [] })).toBeNull();
  });

  test("an unknown kind is bad_request naming it; malformed fields get the API's errors", () => {
    expect(() => roomMsgFromWire({ t: "fly" })).toThrow('room process cannot handle "fly"');
    expect(codeOf(() => roomMsgFromWire(null))).toBe("bad_request");
    expect(codeOf(() => roomMsgFromWire({ t: "walk", people: [] }))).toBe("invalid_name");
    expect(codeOf(() => roomMsgFromWire({ t: "walk", people: [7] }))).toBe("invalid_name");
    expect(codeOf(() => roomMsgFromWire({ t: "create", capacity: 0 }))).toBe("bad_request");
    expect(codeOf(() => roomMsgFromWire({ t: "who-many", rooms: "a" }))).toBe("bad_request");
    expect(codeOf(() => roomMsgFromWire({ t: "who-many", rooms: Array(MAX_DUMP_CHUNK + 1).fill("a") }))).toBe("bad_request");
    expect(codeOf(() => roomMsgFromWire({ t: "stamps", people: {} }))).toBe("bad_request");
  });
});

describe("parking messages", () => {
  test("gate and lot messages travel as before and read back as themselves", () => {
    const gates: [GateMsg, Record<string, unknown>][] = [
      [{ kind: "enter", plate: "AB 12" }, { t: "enter", plate: "AB 12" }],
      [{ kind: "enter", plate: "AB 12", spaces: 2 }, { t: "enter", plate: "AB 12", spaces: 2 }],
      [{ kind: "exit", plate: "AB 12" }, { t: "exit", plate: "AB 12" }],
      [{ kind: "ping" }, { t: "ping" }],
    ];
    for (const [msg, wire] of gates) {
      expect<unknown>(gateMsgToWire(msg)).toEqual(wire);
      expect(gateMsgFromWire(wire)).toEqual(msg);
    }
    const lots: [LotMsg, Record<string, unknown>][] = [
      [{ kind: "park", gate: 2, plate: "X" }, { t: "park", gate: 2, plate: "X" }],
      [{ kind: "unpark", gate: 1, plate: "X" }, { t: "unpark", gate: 1, plate: "X" }],
    ];
    for (const [msg, wire] of lots) {
      expect<unknown>(lotMsgToWire(msg)).toEqual(wire);
      expect(lotMsgFromWire(wire, 2)).toEqual(msg);
    }
  });

  test("an unknown kind is bad_request naming it; a gate outside 1..gates is unknown_gate; a bad plate invalid_name", () => {
    expect(() => gateMsgFromWire({ t: "fly" })).toThrow('gate cannot handle "fly"');
    expect(() => lotMsgFromWire({ t: "fly" }, 2)).toThrow('lot cannot handle "fly"');
    expect(codeOf(() => lotMsgFromWire({ t: "park", gate: 3, plate: "X" }, 2))).toBe("unknown_gate");
    expect(codeOf(() => gateMsgFromWire({ t: "enter", plate: "" }))).toBe("invalid_name");
  });

  test("an entry's size that is not a count of spaces is ignored (the gate's node uses its own), never applied", () => {
    for (const spaces of [-1, 1.5, "3", null, Number.MAX_SAFE_INTEGER + 2]) {
      expect(gateMsgFromWire({ t: "enter", plate: "X", spaces })).toEqual({ kind: "enter", plate: "X" });
    }
  });

  test("the Raft lot's commands keep the log's form (t first, spaces only when given)", () => {
    const park: LotCommand = { kind: "park", gate: 1, plate: "X", at: "2026-12-02T00:00:00.000Z", node: "a", spaces: 5 };
    expect(lotCommandToLog(park)).toEqual({ t: "park", gate: 1, plate: "X", at: "2026-12-02T00:00:00.000Z", node: "a", spaces: 5 });
    expect(Object.keys(lotCommandToLog(park))[0]).toBe("t");
    expect(lotCommandFromLog(lotCommandToLog(park))).toEqual(park);
    const unpark: LotCommand = { kind: "unpark", gate: 2, plate: "X" };
    expect(lotCommandToLog(unpark)).toEqual({ t: "unpark", gate: 2, plate: "X" });
    expect(lotCommandFromLog({ t: "unpark", gate: 2, plate: "X" })).toEqual(unpark);
    expect(codeOf(() => lotCommandFromLog({ t: "fly", gate: 1, plate: "X" }))).toBe("bad_request");
  });
});
