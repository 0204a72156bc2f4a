/**
 * Bad input gets a stable code and status, changes nothing, and the node
 * keeps serving.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HARD_BODY_CAP_BYTES } from "../../http/body.ts";
import { call, servedNode, type Served_ } from "./harness.ts";

const j = (v: unknown) => JSON.stringify(v);

const cases: [string, string, string, string | Uint8Array<ArrayBuffer> | undefined, number, string][] = [
  ["empty room name", "POST", "/v1/rooms", j({ rooms: [""] }), 400, "invalid_name"],
  ["256-character room name", "POST", "/v1/rooms", j({ rooms: ["r".repeat(256)] }), 400, "invalid_name"],
  ["control character in a room name", "POST", "/v1/rooms", j({ rooms: ["a\u0001b"] }), 400, "invalid_name"],
  ["newline in a person name", "POST", "/v1/rooms/kitchen/walk-into", j({ people: ["a\nb"] }), 400, "invalid_name"],
  ["control character in a path name", "GET", "/v1/rooms/a%0Ab/people", undefined, 400, "invalid_name"],
  ["over-long plate", "POST", "/v1/gates/1/park", j({ plate: "p".repeat(256) }), 400, "invalid_name"],
  ["empty people list", "POST", "/v1/leave", j({ people: [] }), 400, "invalid_name"],
  ["number as a name", "POST", "/v1/rooms", j({ rooms: [1] }), 400, "invalid_name"],
  ["number as a plate", "POST", "/v1/gates/1/park", j({ plate: 5 }), 400, "invalid_name"],
  ["string where a list belongs", "POST", "/v1/rooms", j({ rooms: "kitchen" }), 400, "bad_request"],
  ["null where a list belongs", "POST", "/v1/leave", j({ people: null }), 400, "bad_request"],
  ["missing field", "POST", "/v1/rooms/kitchen/walk-into", j({}), 400, "bad_request"],
  ["capacity as a string", "POST", "/v1/rooms", j({ rooms: ["x"], capacity: "2" }), 400, "bad_request"],
  ["negative capacity", "POST", "/v1/rooms", j({ rooms: ["x"], capacity: -1 }), 400, "bad_request"],
  ["malformed JSON", "POST", "/v1/rooms", '{"rooms": [', 400, "bad_request"],
  ["empty body", "POST", "/v1/leave", "", 400, "bad_request"],
  ["JSON that is not an object", "POST", "/v1/leave", j(["alan"]), 400, "bad_request"],
  ["invalid UTF-8", "POST", "/v1/leave", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 400, "bad_request"],
  ["oversized body", "POST", "/v1/rooms", j({ rooms: ["x".repeat(70_000)] }), 413, "payload_too_large"],
  // 30,000 characters but 90,000 bytes: the limit is in bytes, however the body is read.
  ["body over the limit in UTF-8 bytes, not in characters", "POST", "/v1/rooms", j({ rooms: ["\u20ac".repeat(30_000)] }), 413, "payload_too_large"],
  // Read as text, bad UTF-8 shows as U+FFFD: a body holding one is refused either way.
  ["U+FFFD in a body", "POST", "/v1/leave", j({ people: ["a\ufffdb"] }), 400, "bad_request"],
  ["gate beyond the last", "POST", "/v1/gates/5/park", j({ plate: "X" }), 404, "unknown_gate"],
  ["gate zero", "POST", "/v1/gates/0/unpark", j({ plate: "X" }), 404, "unknown_gate"],
  ["gate that is not a number", "POST", "/v1/gates/abc/park", j({ plate: "X" }), 404, "unknown_gate"],
  ["unknown room", "POST", "/v1/rooms/attic/walk-into", j({ people: ["bea"] }), 404, "unknown_room"],
  ["full room", "POST", "/v1/rooms/kitchen/walk-into", j({ people: ["bea"] }), 409, "room_full"],
  ["car not parked", "POST", "/v1/gates/2/unpark", j({ plate: "NOPE" }), 404, "not_parked"],
  // A missing query parameter is a missing field; an empty one is the empty name.
  ["who-is-in without its room parameter", "GET", "/v1/who-is-in", undefined, 400, "bad_request"],
  ["where-is without its person parameter", "GET", "/v1/where-is?room=kitchen", undefined, 400, "bad_request"],
  ["who-is-in with an empty room parameter", "GET", "/v1/who-is-in?room=", undefined, 400, "invalid_name"],
  ["who-is-in with its room parameter given twice", "GET", "/v1/who-is-in?room=kitchen&room=den", undefined, 400, "bad_request"],
  ["where-is with its person parameter given twice", "GET", "/v1/where-is?person=alan&x=1&person=bea", undefined, 400, "bad_request"],
  // Unknown fields are refused, not dropped: a misspelt capacity must not make a room without one.
  ["misspelt capacity field", "POST", "/v1/rooms", j({ rooms: ["x"], capcity: 2 }), 400, "bad_request"],
  ["a room in the body of a path's walk-into", "POST", "/v1/rooms/kitchen/walk-into", j({ people: ["bea"], room: "den" }), 400, "bad_request"],
  ["unknown field on walk-into", "POST", "/v1/walk-into", j({ room: "kitchen", people: ["bea"], force: true }), 400, "bad_request"],
  ["unknown field on leave", "POST", "/v1/leave", j({ people: ["alan"], room: "kitchen" }), 400, "bad_request"],
  ["a gate in the body of park", "POST", "/v1/gates/1/park", j({ plate: "NEW 1", gate: 2 }), 400, "bad_request"],
  ["unknown field on unpark", "POST", "/v1/gates/1/unpark", j({ plate: "ABC 123", all: true }), 400, "bad_request"],
  ["__proto__ as a field", "POST", "/v1/rooms", '{"rooms":["x"],"__proto__":{"capacity":1}}', 400, "bad_request"],
  ["recover with force and an unknown field", "POST", "/v1/recover", j({ force: true, node: "h1" }), 400, "bad_request"],
  ["recover without force", "POST", "/v1/recover", j({}), 400, "bad_request"],
  // Recover reads its body within the same 64 KiB as every route (it had a 4 KiB limit of its own).
  ["recover with a 5,000-byte body", "POST", "/v1/recover", j({ force: false, note: "n".repeat(5_000) }), 400, "bad_request"],
  ["huge capacity", "POST", "/v1/rooms", j({ rooms: ["x"], capacity: 1e300 }), 400, "bad_request"],
  ["capacity past the bound", "POST", "/v1/rooms", j({ rooms: ["x"], capacity: 1_000_000_001 }), 400, "bad_request"],
  ["fractional capacity", "POST", "/v1/rooms", j({ rooms: ["x"], capacity: 2.5 }), 400, "bad_request"],
  ["gate past any integer", "POST", "/v1/gates/99999999999999999999/park", j({ plate: "X" }), 404, "unknown_gate"],
  ["unknown route", "GET", "/v1/nothing-here", undefined, 404, "not_found"],
  ["GET on a write route", "GET", "/v1/leave", undefined, 404, "not_found"],
  ["PUT on a route", "PUT", "/v1/rooms", j({ rooms: ["x"] }), 404, "not_found"],
  ["unknown method on a route", "DELETE", "/v1/rooms", undefined, 404, "not_found"],
];

// Both ways a body's size is policed: the app counting it (Deno, or an app
// served without a cap), and the server refusing past a hard cap while the
// app measures the whole body (Bun, as `roomy node` serves).
for (const [mode, cap] of [["the app counts the body", undefined], ["the server caps bodies", HARD_BODY_CAP_BYTES]] as const) {
  describe(`bad input (${mode})`, () => {
    let s: Served_;
    let before: string;

    beforeAll(async () => {
      s = await servedNode({ gates: 4, spaces: 2 }, {}, cap);
      await s.node.app.addRooms(["kitchen"], 1);
      await s.node.app.walkInto("kitchen", ["alan"]);
      await s.node.app.park(1, "ABC 123");
      before = (await call(s.url, "GET", "/v1/crdt")).text;
    });

    afterAll(async () => {
      await s?.stop();
    });

    for (const [what, method, path, body, status, code] of cases) {
      test(`${what}: ${status} ${code}`, async () => {
        const r = await call(s.url, method, path, body);
        expect(r.status).toBe(status);
        expect(r.type).toContain("application/json");
        const e = (r.json as { error: { code: string; message: string } }).error;
        expect(e.code).toBe(code);
        expect(typeof e.message).toBe("string");
        expect(e.message.length).toBeGreaterThan(0);
      });
    }

    test("an oversized streamed body without a length is cut off with 413", async () => {
      const chunk = new TextEncoder().encode(" ".repeat(16 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(ctrl) {
          if (sent++ < 8) ctrl.enqueue(chunk);
          else ctrl.close();
        },
      });
      const res = await fetch(s.url + "/v1/leave", {
        method: "POST",
        body: stream,
        headers: { "content-type": "application/json" },
        signal: AbortSignal.timeout(10_000),
        // @ts-expect-error: `duplex` is required for stream bodies but missing from the DOM types
        duplex: "half",
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
    });

    test("a body past the server's hard cap is refused with the contract's JSON 413, and nothing is read", async () => {
      const r = await call(s.url, "POST", "/v1/leave", j({ people: ["x".repeat(HARD_BODY_CAP_BYTES + 10)] }));
      // The server cuts it off before the app reads it (Bun, capped): still the app's error, never a bare 413.
      expect([r.status, r.type]).toEqual([413, "application/json; charset=utf-8"]);
      expect(r.json).toEqual({ error: { code: "payload_too_large", message: "request body is larger than 65536 bytes" } });
      expect((await call(s.url, "GET", "/healthz")).status).toBe(200);
    });

    test("a chunked body streaming past the server's hard cap gets the contract's JSON 413", async () => {
      const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(ctrl) {
          if (sent++ < 24) ctrl.enqueue(chunk);
          else ctrl.close();
        },
      });
      const res = await fetch(s.url + "/v1/leave", {
        method: "POST",
        body: stream,
        signal: AbortSignal.timeout(10_000),
        // @ts-expect-error: `duplex` is required for stream bodies but missing from the DOM types
        duplex: "half",
      });
      expect([res.status, res.headers.get("content-type")]).toEqual([413, "application/json; charset=utf-8"]);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
    });

    test("a 255-character name is accepted: the limit is exact", async () => {
      const r = await call(s.url, "GET", `/v1/people/${"p".repeat(255)}/room`);
      expect([r.status, r.json]).toEqual([200, { room: null }]);
    });

    test("after all of it the node still serves and its state is untouched", async () => {
      expect((await call(s.url, "GET", "/healthz")).status).toBe(200);
      expect((await call(s.url, "GET", "/v1/crdt")).text).toBe(before);
      expect((await call(s.url, "GET", "/v1/dump")).json).toEqual({ kitchen: ["alan"] });
      expect((await call(s.url, "POST", "/v1/rooms", j({ rooms: ["den"] }))).status).toBe(200);
    });
  });
}
