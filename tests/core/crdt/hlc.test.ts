import { describe, expect, test } from "bun:test";
import { compareTs, DEFAULT_MAX_DRIFT_MS, Hlc, maxTs, type Timestamp, ZERO } from "../../../core/crdt/hlc.ts";
import { RoomyError } from "../../../core/errors.ts";

const ts = (w: number, c: number, n: string): Timestamp => ({ w, c, n });

describe("compareTs", () => {
  test("orders by wall, then counter, then writer", () => {
    expect(compareTs(ts(1, 9, "z"), ts(2, 0, "a"))).toBe(-1);
    expect(compareTs(ts(2, 0, "z"), ts(2, 1, "a"))).toBe(-1);
    expect(compareTs(ts(2, 1, "a"), ts(2, 1, "b"))).toBe(-1);
    expect(compareTs(ts(2, 1, "b"), ts(2, 1, "a"))).toBe(1);
    expect(compareTs(ts(2, 1, "a"), ts(2, 1, "a"))).toBe(0);
  });

  test("maxTs picks the later timestamp", () => {
    expect(maxTs(ts(1, 0, "a"), ts(1, 1, "a"))).toEqual(ts(1, 1, "a"));
    expect(maxTs(ts(5, 0, "a"), ZERO)).toEqual(ts(5, 0, "a"));
  });
});

describe("Hlc.now", () => {
  test("follows the wall clock when it advances", () => {
    const h = new Hlc("n1");
    expect(h.now(100)).toEqual(ts(100, 0, "n1"));
    expect(h.now(200)).toEqual(ts(200, 0, "n1"));
  });

  test("counts within one millisecond", () => {
    const h = new Hlc("n1");
    h.now(100);
    expect(h.now(100)).toEqual(ts(100, 1, "n1"));
    expect(h.now(100)).toEqual(ts(100, 2, "n1"));
  });

  test("stays strictly monotonic when the wall clock steps back", () => {
    const h = new Hlc("n1");
    const a = h.now(1000);
    const b = h.now(400); // NTP stepped the clock back
    const c = h.now(401);
    const d = h.now(1001);
    expect(compareTs(a, b)).toBe(-1);
    expect(compareTs(b, c)).toBe(-1);
    expect(compareTs(c, d)).toBe(-1);
    expect(b.w).toBe(1000);
    expect(d).toEqual(ts(1001, 0, "n1"));
  });

  test("never issues the same timestamp twice over a random walk of the wall clock", () => {
    const h = new Hlc("n1");
    let prev = h.now(0);
    let wall = 0;
    let seed = 42;
    for (let i = 0; i < 5000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      wall += (seed % 7) - 3; // steps back as often as forward
      const next = h.now(wall);
      expect(compareTs(prev, next)).toBe(-1);
      prev = next;
    }
  });

  test("last() reports the latest issued time", () => {
    const h = new Hlc("n1");
    h.now(50);
    h.now(50);
    expect(h.last()).toEqual(ts(50, 1, "n1"));
  });
});

describe("Hlc.observe", () => {
  test("a local timestamp after observing a remote one orders after it", () => {
    const h = new Hlc("a");
    h.now(100);
    const remote = ts(500, 7, "b");
    h.observe(remote, 110);
    const next = h.now(120);
    expect(compareTs(remote, next)).toBe(-1);
    expect(next).toEqual(ts(500, 9, "a"));
  });

  test("an older remote timestamp still advances the counter", () => {
    const h = new Hlc("a");
    const before = h.now(1000);
    h.observe(ts(10, 0, "b"), 900);
    expect(compareTs(before, h.last())).toBe(-1);
  });

  test("same wall on both sides takes the larger counter plus one", () => {
    const h = new Hlc("a");
    h.now(100);
    h.now(100); // c = 1
    h.observe(ts(100, 5, "b"), 50);
    expect(h.last()).toEqual(ts(100, 6, "a"));
  });

  test("a wall clock ahead of both resets the counter", () => {
    const h = new Hlc("a");
    h.now(100);
    h.observe(ts(150, 3, "b"), 200);
    expect(h.last()).toEqual(ts(200, 0, "a"));
  });

  test("refuses a remote clock too far ahead, with a clear bad_request", () => {
    const h = new Hlc("a", 1000);
    h.now(5000);
    let err: unknown;
    try {
      h.observe(ts(5000 + 1001 + 10, 0, "b"), 5010);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RoomyError);
    expect((err as RoomyError).code).toBe("bad_request");
    expect((err as RoomyError).message).toMatch(/ahead of the local clock/);
    // and the refused timestamp did not move the clock
    expect(h.last()).toEqual(ts(5000, 0, "a"));
  });

  test("accepts a remote clock exactly at the drift limit", () => {
    const h = new Hlc("a", 1000);
    h.observe(ts(2000, 0, "b"), 1000);
    expect(h.last().w).toBe(2000);
  });

  test("defaults to a one-minute drift limit", () => {
    expect(new Hlc("a").maxDriftMs).toBe(DEFAULT_MAX_DRIFT_MS);
    expect(DEFAULT_MAX_DRIFT_MS).toBe(60_000);
  });
});

describe("Hlc with a fractional wall clock", () => {
  test("issues whole milliseconds, which the wire can carry", () => {
    const h = new Hlc("a");
    expect(h.now(1234.75)).toEqual(ts(1234, 0, "a"));
    expect(h.now(1234.9)).toEqual(ts(1234, 1, "a"));
    h.observe(ts(1300, 0, "b"), 1299.5);
    expect(Number.isInteger(h.last().w)).toBe(true);
  });
});
