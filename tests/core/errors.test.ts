import { describe, expect, test } from "bun:test";
import { ERROR_CODES, httpStatus, isErrorCode, RoomyError } from "../../core/errors.ts";

describe("error codes", () => {
  test("every code has an HTTP error status", () => {
    for (const code of ERROR_CODES) {
      const s = httpStatus(code);
      expect(Number.isInteger(s)).toBe(true);
      expect(s).toBeGreaterThanOrEqual(400);
      expect(s).toBeLessThan(600);
    }
  });

  test("statuses fit the meaning of each code", () => {
    expect(httpStatus("invalid_name")).toBe(400);
    expect(httpStatus("bad_request")).toBe(400);
    expect(httpStatus("unauthorized")).toBe(401);
    expect(httpStatus("unknown_room")).toBe(404);
    expect(httpStatus("room_full")).toBe(409);
    expect(httpStatus("lot_full")).toBe(409);
    expect(httpStatus("payload_too_large")).toBe(413);
    expect(httpStatus("request_timeout")).toBe(408);
    expect(httpStatus("internal")).toBe(500);
    expect(httpStatus("unavailable")).toBe(503);
  });

  test("the contract's codes are all present", () => {
    for (const c of [
      "invalid_name",
      "unknown_room",
      "room_full",
      "unknown_gate",
      "lot_full",
      "not_parked",
      "unauthorized",
      "unavailable",
      "bad_request",
    ]) {
      expect(isErrorCode(c)).toBe(true);
    }
  });

  test("isErrorCode rejects anything else", () => {
    for (const x of ["", "Room_Full", "nope", 3, null, undefined, {}]) expect(isErrorCode(x)).toBe(false);
  });

  test("RoomyError carries its code and serialises to {code, message}", () => {
    const e = new RoomyError("room_full", "kitchen is full");
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("RoomyError");
    expect(e.code).toBe("room_full");
    expect(JSON.parse(JSON.stringify(e))).toEqual({ code: "room_full", message: "kitchen is full" });
  });

  test("an error refused before it ran says so in its JSON; any other error says nothing of the kind", () => {
    expect(JSON.parse(JSON.stringify(new RoomyError("unavailable", "node n1 is unreachable; retry", true)))).toEqual({
      code: "unavailable",
      message: "node n1 is unreachable; retry",
      no_effect: true,
    });
    expect(JSON.parse(JSON.stringify(new RoomyError("unavailable", "gate:1 did not answer within 5000 ms; retry")))).toEqual({
      code: "unavailable",
      message: "gate:1 did not answer within 5000 ms; retry",
    });
  });
});
