/**
 * add-rooms fans one request out into a call per room (mesh/apps/rooms.ts,
 * call-window.ts). Two rules found on real processes by a hostile probe:
 * the request says `no_effect` only when none of its calls ran (a 60-room
 * create answered `no_effect` with 45 of its rooms made, after kill -9 of
 * one of three nodes); and at most ADD_WINDOW creations are in flight on a
 * node at once (twelve concurrent 3,500-room creates put 42,000 calls on the
 * mesh at once, and the membership probes queued behind them came back so
 * late that healthy nodes declared each other dead, 3 runs of 3).
 */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { roomKey } from "../../../core/rooms/rooms.ts";
import { CallWindow, firstFailure } from "../../../mesh/apps/call-window.ts";
import { roomProcess } from "../../../mesh/apps/rooms.ts";
import { DumpWorld } from "./dump-world.ts";

const names = (n: number, tag: string): string[] => Array.from({ length: n }, (_, i) => `${tag}${i}`);
const failure = async (p: Promise<unknown>): Promise<unknown> => p.then(() => null, (err: unknown) => err);
/** Rooms of `rooms` whose record is on the replica of their owner (where the create ran). */
const made = (w: DumpWorld, rooms: string[]): string[] => rooms.filter((r) => w.node(w.ownerOf(roomProcess(r))).map.get(roomKey(r)) !== undefined);

describe("add-rooms: no_effect only when nothing was made", () => {
  test("one owner refusing its calls unrun: the request fails without no_effect, and the other owners' rooms exist", async () => {
    const w = new DumpWorld(["n1", "n2", "n3"]);
    w.refusing.add("n3");
    const rooms = names(60, "r");
    const err = await failure(w.node("n1").app.addRooms(rooms));
    expect(err).toBeInstanceOf(RoomyError);
    expect((err as RoomyError).code).toBe("unavailable");
    const ours = made(w, rooms);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.length).toBeLessThan(rooms.length);
    expect((err as RoomyError).noEffect).toBe(false);
  });

  test("every call refused unrun: the request keeps no_effect, and no room exists", async () => {
    const w = new DumpWorld(["n1", "n2", "n3"]);
    for (const n of w.names) w.refusing.add(n);
    const rooms = names(30, "q");
    const err = await failure(w.node("n1").app.addRooms(rooms));
    expect((err as RoomyError).noEffect).toBe(true);
    expect(made(w, rooms)).toEqual([]);
  });

  test("no failure: every room made, the request answers ok", async () => {
    const w = new DumpWorld(["n1", "n2", "n3"]);
    const rooms = names(50, "ok");
    expect(await failure(w.node("n2").app.addRooms(rooms))).toBe(null);
    expect(made(w, rooms)).toEqual(rooms);
  });
});

describe("add-rooms: a failed call ends the request", () => {
  test("every call refused: no more calls are started once one failed (a node with no configuration held each for 5 s: 3,500 rooms through the window took 35 s to answer)", async () => {
    const w = new DumpWorld(["n1", "n2", "n3"]);
    for (const n of w.names) w.refusing.add(n);
    const err = await failure(w.node("n1").app.addRooms(names(3_000, "z")));
    expect((err as RoomyError).noEffect).toBe(true);
    expect(w.calls.length).toBeLessThanOrEqual(512 + 200); // the window's worth, not 3,000
    expect(w.inFlight).toBe(0);
  });
});

describe("add-rooms: creations in flight on a node are bounded", () => {
  test("three concurrent 2,000-room creates through one node never have more than 512 calls in flight, and all are made", async () => {
    const w = new DumpWorld(["n1", "n2", "n3"]);
    const batches = [names(2_000, "a"), names(2_000, "b"), names(2_000, "c")];
    const outs = await Promise.all(batches.map((b) => failure(w.node("n1").app.addRooms(b))));
    expect(outs).toEqual([null, null, null]);
    expect(w.maxInFlight).toBeLessThanOrEqual(512);
    expect(w.maxInFlight).toBeGreaterThan(100); // the window is used, not one call at a time
    for (const b of batches) expect(made(w, b).length).toBe(b.length);
    expect(w.inFlight).toBe(0);
  });
});

describe("CallWindow", () => {
  test("takes places up to its size, then queues; a release hands the place to the longest waiter", async () => {
    const win = new CallWindow(2);
    expect(win.take()).toBeUndefined();
    expect(win.take()).toBeUndefined();
    const order: number[] = [];
    const a = win.take()!.then(() => order.push(1));
    const b = win.take()!.then(() => order.push(2));
    expect(win.queued).toBe(2);
    win.release();
    await a;
    expect(order).toEqual([1]);
    expect(win.busy).toBe(2);
    win.release();
    await b;
    expect(order).toEqual([1, 2]);
    win.release();
    win.release();
    expect(win.busy).toBe(0);
    expect(win.queued).toBe(0);
  });

  test("a newcomer does not pass a waiter even when a place is free at that instant", async () => {
    const win = new CallWindow(1);
    expect(win.take()).toBeUndefined();
    const waiter = win.take()!;
    win.release(); // handed to the waiter, not back to the window
    expect(win.take()).toBeInstanceOf(Promise);
    await waiter;
  });
});

describe("firstFailure", () => {
  const refused = new RoomyError("unavailable", "refused", true);
  const maybe = new RoomyError("unavailable", "timed out");
  const ok: PromiseSettledResult<unknown> = { status: "fulfilled", value: 1 };
  const no = (reason: unknown): PromiseSettledResult<unknown> => ({ status: "rejected", reason });

  test("all fulfilled: no failure", () => {
    expect(firstFailure([ok, ok])).toBeUndefined();
  });
  test("all refused unrun: the first refusal, no_effect kept", () => {
    expect(firstFailure([no(refused), no(refused)])).toBe(refused);
  });
  test("a refusal beside a success: no_effect dropped, code and message kept", () => {
    const f = firstFailure([no(refused), ok]) as RoomyError;
    expect([f.code, f.message, f.noEffect]).toEqual(["unavailable", "refused", false]);
  });
  test("a refusal beside a call that may have run: no_effect dropped", () => {
    expect((firstFailure([no(refused), no(maybe)]) as RoomyError).noEffect).toBe(false);
  });
});
