/**
 * Connection: a read's frames are handled for at most TURN_BUDGET_MS of a
 * turn, the rest on later turns, in order, with the socket paused while
 * behind; the end of the stream still handles everything that came before it.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { type CloseCause, Connection, TURN_BUDGET_MS } from "../../../mesh/tcp/connection.ts";
import type { ByteStream, ByteStreamEvents } from "../../../mesh/tcp/types.ts";
import type { Clock } from "../../../mesh/types.ts";
import { decode, encode } from "../../../mesh/wire/codec.ts";
import { encodeFrames } from "../../../mesh/wire/frame.ts";
import { closeAll, received, startNode } from "./helpers.ts";
import { waitFor } from "./wait.ts";

afterEach(closeAll);

/** A socket driven by the test: it records pause/resume and lets the test fire events. */
class FakeSocket implements ByteStream {
  readonly remote = "fake:1";
  destroyed = false;
  paused = false;
  pauses = 0;
  ev!: ByteStreamEvents;
  write(): boolean {
    return true;
  }
  end(): void {}
  destroy(): void {
    this.destroyed = true;
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
  }
  listen(e: ByteStreamEvents): void {
    this.ev = e;
  }
}

/** A clock the frames advance (each handled frame costs `costMs`), and a defer the test runs turn by turn. */
function rig(costMs: number, maxFrameBytes = 1 << 20) {
  let t = 0;
  const clock: Clock = { now: () => t, setTimer: () => ({ cancel() {} }) };
  const turns: (() => void)[] = [];
  const socket = new FakeSocket();
  const conn = new Connection(socket, "fake:1", maxFrameBytes, clock, { socketsOpen: 0 }, (fn) => turns.push(fn));
  const got: number[] = [];
  const closed: { reason: string; cause: CloseCause }[] = [];
  let onEach = (_i: number) => {};
  conn.attach({
    onFrame(bytes, start, end) {
      const i = (decode(bytes.subarray(start, end)) as { i: number }).i;
      got.push(i);
      t += costMs;
      onEach(i);
    },
    onDrain() {},
    onClose: (reason, cause) => void closed.push({ reason, cause }),
  });
  /** Runs the deferred turns until none is left; how many ran. */
  const runTurns = (max = 10_000): number => {
    let n = 0;
    while (turns.length > 0 && n < max) {
      turns.shift()!();
      n++;
    }
    return n;
  };
  return { conn, socket, got, closed, turns, runTurns, setOnEach: (f: (i: number) => void) => void (onEach = f), tick: (ms: number) => void (t += ms) };
}

const frames = (from: number, to: number, pad = 0) =>
  encodeFrames(Array.from({ length: to - from }, (_, k) => encode({ t: "m", i: from + k, p: "x".repeat(pad) })));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

describe("Connection: frames of one read over several turns", () => {
  test("a long read is handled a budget per turn, in order, with the socket paused until the backlog is gone", () => {
    const r = rig(1);
    r.socket.ev.data(frames(0, 100));
    // The first turn stops at the budget; the rest waits for a later turn.
    expect(r.got).toEqual(range(0, TURN_BUDGET_MS));
    expect(r.socket.paused).toBe(true);
    expect(r.conn.backlogBytes).toBeGreaterThan(0);
    const perTurn: number[] = [];
    while (r.turns.length > 0) {
      const before = r.got.length;
      r.turns.shift()!();
      perTurn.push(r.got.length - before);
    }
    expect(r.got).toEqual(range(0, 100));
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(TURN_BUDGET_MS);
    expect(perTurn.length).toBeGreaterThanOrEqual(Math.ceil((100 - TURN_BUDGET_MS) / TURN_BUDGET_MS));
    expect(r.socket.paused).toBe(false);
    expect(r.conn.backlogBytes).toBe(0);
  });

  test("cheap frames are all handled in the read's own turn, without pausing", () => {
    const r = rig(0);
    r.socket.ev.data(frames(0, 500));
    expect(r.got).toEqual(range(0, 500));
    expect(r.turns.length).toBe(0);
    expect(r.socket.pauses).toBe(0);
  });

  test("reads that arrive while behind are handled after the backlog, in order; a frame split across them too", () => {
    const r = rig(1);
    const second = frames(50, 80);
    r.socket.ev.data(frames(0, 50));
    // A paused socket may still hand over what it had read, cut anywhere.
    r.socket.ev.data(second.subarray(0, 7));
    r.socket.ev.data(second.subarray(7));
    r.socket.ev.data(frames(80, 90));
    expect(r.got.length).toBe(TURN_BUDGET_MS);
    r.runTurns();
    expect(r.got).toEqual(range(0, 90));
    expect(r.socket.paused).toBe(false);
    // Caught up: the next read is handled in its own turn again.
    r.socket.ev.data(frames(90, 92));
    expect(r.got).toEqual(range(0, 92));
  });

  test("the end of the stream handles what is still waiting before the connection closes", () => {
    const r = rig(1);
    r.socket.ev.data(frames(0, 40));
    expect(r.got.length).toBeLessThan(40);
    r.socket.ev.end();
    expect(r.got).toEqual(range(0, 40));
    expect(r.closed).toEqual([{ reason: "peer closed the connection", cause: "socket" }]);
    r.runTurns();
    expect(r.got.length).toBe(40);
  });

  test("a socket error or close handles what had arrived before it", () => {
    for (const how of ["error", "close"] as const) {
      const r = rig(1);
      r.socket.ev.data(frames(0, 30));
      if (how === "error") r.socket.ev.error("ECONNRESET");
      else r.socket.ev.close();
      expect(r.got).toEqual(range(0, 30));
      expect(r.closed.length).toBe(1);
      expect(r.closed[0]!.cause).toBe("socket");
    }
  });

  test("a local close drops what waits: no frame is handled after it", () => {
    const r = rig(1);
    r.socket.ev.data(frames(0, 40));
    const handled = r.got.length;
    r.conn.close("superseded");
    r.runTurns();
    expect(r.got.length).toBe(handled);
    expect(r.conn.backlogBytes).toBe(0);
    expect(r.closed).toEqual([{ reason: "superseded", cause: "local" }]);
  });

  test("a handler closing the connection mid-backlog stops the handling there", () => {
    const r = rig(1);
    r.setOnEach((i) => i === 20 && r.conn.close("enough"));
    r.socket.ev.data(frames(0, 40));
    r.runTurns();
    expect(r.got).toEqual(range(0, 21));
  });

  test("a frame limit raised by a handler applies to the frames after it, even those read with it", () => {
    const small = 64;
    const r = rig(1, small);
    r.setOnEach((i) => i === 12 && r.conn.setMaxFrameBytes(1 << 20));
    // Frames 13.. are bigger than the first limit; they came in the same read as frame 12.
    const bytes = new Uint8Array([...frames(0, 13), ...frames(13, 30, 200)]);
    r.socket.ev.data(bytes);
    r.runTurns();
    expect(r.got).toEqual(range(0, 30));
    expect(r.closed).toEqual([]);
  });

  test("a bad frame in the backlog closes the connection as a frame error, after the good ones", () => {
    const r = rig(1);
    r.socket.ev.data(new Uint8Array([...frames(0, 20), 0, 0, 0, 0]));
    r.runTurns();
    expect(r.got).toEqual(range(0, 20));
    expect(r.closed.length).toBe(1);
    expect(r.closed[0]!.cause).toBe("frame");
  });
});

describe("Connection on a real socket", () => {
  test("a burst of slow messages is handled over many turns, all of it, in order", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    a.t.send(b.t.local, { t: "warm" });
    await waitFor("connected", () => received(b, "warm").length === 1);
    // Messages handled since the last turn boundary (a setImmediate armed by the first of them ran).
    let sinceTurn = 0;
    let most = 0;
    let armed = false;
    b.t.onMessage((from, msg) => {
      b.got.push({ from, msg });
      const until = performance.now() + 0.05;
      while (performance.now() < until);
      most = Math.max(most, ++sinceTurn);
      if (armed) return;
      armed = true;
      setImmediate(() => {
        armed = false;
        sinceTurn = 0;
      });
    });
    const n = 8_000;
    for (let i = 0; i < n; i++) a.t.send(b.t.local, { t: "m", i });
    await waitFor(`${n} delivered`, () => received(b, "m").length === n, 30_000);
    expect(received(b, "m").every((m, i) => m["i"] === i)).toBe(true);
    // 8 ms of 0.05 ms messages is at most ~200 a turn (~180 with the clock's whole milliseconds); one read holds thousands.
    expect(most).toBeLessThan(400);
  });
});
