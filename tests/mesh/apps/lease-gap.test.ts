/**
 * A node's quorum lease lapses for a few ms at every new epoch (its pongs
 * from the old one stop counting until its peers answer at the new one).
 * An outside probe (2026-12-06) saw healthy nodes refuse a walk-into or a
 * who-is-in or two at every configuration change of another node (a join,
 * a restart, a drain): the walk-into waited its round trip for a peer's
 * clock, found the lease gone, and gave up at once. Now a walk-into waits
 * the gap out (to its call's deadline), and a read waits up to 250 ms; a
 * room that moved away is still refused at once.
 */
import { describe, expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { roomProcess } from "../../../mesh/apps/rooms.ts";
import { DumpWorld } from "./dump-world.ts";
import { LeaseWait } from "../../../mesh/apps/lease-wait.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";

const failure = async (p: Promise<unknown>): Promise<unknown> => p.then(() => null, (err: unknown) => err);

/** A world of three whose room "hall" is owned by n1; walk-ins carry a 2 s deadline. */
async function world(): Promise<DumpWorld> {
  const w = new DumpWorld(["n1", "n2", "n3"]);
  w.owner.set(roomProcess("hall"), "n1");
  w.deadlineMs = 2_000;
  await w.node("n2").app.addRooms(["hall"]);
  return w;
}

describe("a lease gap at a new epoch", () => {
  test("a walk-into that finds its owner's lease lapsed waits for it and is admitted (before: unavailable at once)", async () => {
    const w = await world();
    w.leaseGap.add("n1");
    setTimeout(() => w.leaseGap.delete("n1"), 30);
    const t0 = performance.now();
    expect(await failure(w.node("n2").app.walkInto("hall", ["ann"]))).toBe(null);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    expect(await w.node("n1").app.whereIs("ann")).toBe("hall");
  });

  test("a gap that outlasts the call's deadline answers unavailable with no_effect near the deadline, nobody admitted", async () => {
    const w = await world();
    w.deadlineMs = 200;
    w.leaseGap.add("n1");
    const t0 = performance.now();
    const err = await failure(w.node("n2").app.walkInto("hall", ["bob"]));
    const took = performance.now() - t0;
    expect(err).toBeInstanceOf(RoomyError);
    expect((err as RoomyError).code).toBe("unavailable");
    expect((err as RoomyError).noEffect).toBe(true);
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(1_000);
    w.leaseGap.delete("n1");
    expect(await w.node("n1").app.whereIs("bob")).toBe(null);
  });

  test("a room its owner no longer serves (moved by a new configuration) is refused at once, not waited for", async () => {
    const w = await world();
    w.movedAway.add(roomProcess("hall"));
    const t0 = performance.now();
    const err = await failure(w.node("n2").app.walkInto("hall", ["cy"]));
    expect((err as RoomyError).code).toBe("unavailable");
    expect(performance.now() - t0).toBeLessThan(100);
  });

  test("a read waits out a short gap and answers; one longer than 250 ms answers unavailable", async () => {
    const w = await world();
    await w.node("n2").app.walkInto("hall", ["dee"]);
    // n1, the owner, holds what it admitted (this world copies no writes).
    w.leaseGap.add("n1");
    setTimeout(() => w.leaseGap.delete("n1"), 30);
    expect(await w.node("n1").app.whoIsIn("hall")).toEqual(["dee"]);
    w.leaseGap.add("n1");
    const t0 = performance.now();
    const err = await failure(w.node("n1").app.whereIs("dee"));
    expect((err as RoomyError).code).toBe("unavailable");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(240);
  });
});

test("a walk-into waits for the lease at most 1.5 s (the registry's lease), then answers unavailable, even with a longer deadline", async () => {
  const w = await world();
  w.deadlineMs = 5_000;
  w.leaseGap.add("n1");
  const t0 = performance.now();
  const err = await failure(w.node("n2").app.walkInto("hall", ["eve"]));
  const took = performance.now() - t0;
  expect((err as RoomyError).code).toBe("unavailable");
  expect(took).toBeGreaterThanOrEqual(1_450);
  expect(took).toBeLessThan(2_500);
});

describe("LeaseWait", () => {
  test("one timer for any number of waiters; each let go when the lease is back or at its own time", () => {
    const clock = new SimClock(0);
    let held = false;
    const wait = new LeaseWait(clock, () => held);
    const done: number[] = [];
    for (let i = 0; i < 500; i++) void wait.until(i < 250 ? 20 : 1_000).then(() => done.push(i));
    expect(clock.pending).toBe(1);
    clock.advance(25);
    return Promise.resolve().then(async () => {
      await Promise.resolve();
      expect(done.length).toBe(250);
      expect(wait.waiting).toBe(250);
      held = true;
      clock.advance(5);
      await Promise.resolve();
      await Promise.resolve();
      expect(done.length).toBe(500);
      expect(wait.waiting).toBe(0);
      expect(clock.pending).toBe(0);
      // Held already, or past its time: at once, no timer.
      await wait.until(5);
      held = false;
      await wait.until(clock.now());
      expect(clock.pending).toBe(0);
    });
  });
});

test("a room that moved away while its old owner's lease also lapsed is refused at once (the registry sends the call on), not waited for", async () => {
  const w = await world();
  w.onDeliver = (c) => {
    if (c.to !== "n1") return;
    w.owner.set(roomProcess("hall"), "n2");
    w.leaseGap.add("n1");
  };
  const t0 = performance.now();
  const err = await failure(w.node("n3").app.walkInto("hall", ["fay"]));
  expect((err as RoomyError).code).toBe("unavailable");
  expect((err as RoomyError).noEffect).toBe(true);
  expect(performance.now() - t0).toBeLessThan(300);
});
