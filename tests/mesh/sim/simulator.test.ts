import { describe, expect, test } from "bun:test";
import { SimClock } from "../../../mesh/sim/clock.ts";
import { SimNetwork } from "../../../mesh/sim/network.ts";
import { SeededRandom } from "../../../mesh/sim/random.ts";
import type { Message } from "../../../mesh/types.ts";

describe("sim clock", () => {
  test("timers run in time order; equal times in the order they were set", () => {
    const c = new SimClock(0);
    const log: string[] = [];
    c.setTimer(20, () => log.push("b"));
    c.setTimer(10, () => log.push("a"));
    c.setTimer(20, () => log.push("c"));
    c.setTimer(0, () => c.setTimer(0, () => log.push("nested")));
    c.advance(15);
    expect(log).toEqual(["nested", "a"]);
    expect(c.now()).toBe(15);
    c.advance(5);
    expect(log).toEqual(["nested", "a", "b", "c"]);
  });

  test("time inside a callback is the timer's due time; cancelled timers never run", () => {
    const c = new SimClock(100);
    const at: number[] = [];
    c.setTimer(7, () => at.push(c.now()));
    const t = c.setTimer(8, () => at.push(-1));
    t.cancel();
    t.cancel();
    c.runFor(50);
    expect(at).toEqual([107]);
  });

  test("runUntil reports the virtual time it took, or -1", () => {
    const c = new SimClock(0);
    let flag = false;
    c.setTimer(123, () => {
      flag = true;
    });
    expect(c.runUntil(() => flag, 1000, 1)).toBe(123);
    expect(c.runUntil(() => false, 100)).toBe(-1);
  });

  test("a paused node's timers fire late, in due order, when it resumes", () => {
    const c = new SimClock(0);
    const n = c.view();
    const log: Array<[string, number]> = [];
    n.setTimer(10, () => log.push(["a", c.now()]));
    n.setTimer(20, () => log.push(["b", c.now()]));
    n.setTimer(200, () => log.push(["c", c.now()]));
    n.stall(100);
    c.advance(150);
    expect(log).toEqual([
      ["a", 100],
      ["b", 100],
    ]);
    c.advance(100);
    expect(log[2]).toEqual(["c", 200]);
  });

  test("a killed node's timers never fire; other nodes are unaffected", () => {
    const c = new SimClock(0);
    const a = c.view();
    const b = c.view();
    let fa = 0;
    let fb = 0;
    a.setTimer(10, () => fa++);
    b.setTimer(10, () => fb++);
    a.kill();
    a.setTimer(1, () => fa++);
    c.advance(100);
    expect([fa, fb]).toEqual([0, 1]);
  });
});

describe("seeded random", () => {
  test("same seed, same stream; different seeds differ", () => {
    const draw = (seed: number | string) => {
      const r = new SeededRandom(seed);
      return Array.from({ length: 5 }, () => r.float());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    for (const x of draw("x")) expect(x >= 0 && x < 1).toBe(true);
  });

  test("fork depends on the seed and label only, not on draws made before", () => {
    const a = new SeededRandom(1);
    const b = new SeededRandom(1);
    for (let i = 0; i < 10; i++) b.float();
    expect(a.fork("node-1").float()).toBe(b.fork("node-1").float());
    expect(a.fork("node-1").float()).not.toBe(a.fork("node-2").float());
  });

  test("floats are roughly uniform", () => {
    const r = new SeededRandom(9);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 20000; i++) buckets[r.int(10)]++;
    for (const b of buckets) expect(Math.abs(b - 2000)).toBeLessThan(200);
  });
});

function net(seed: number, opts = {}) {
  const clock = new SimClock(0);
  const network = new SimNetwork(clock, new SeededRandom(seed), opts);
  const got: Array<[string, string, Message, number]> = [];
  const a = network.transport("a:1");
  const b = network.transport("b:1");
  const c = network.transport("c:1");
  for (const t of [a, b, c]) t.onMessage((from, msg) => got.push([from, t.local, msg, clock.now()]));
  return { clock, network, a, b, c, got };
}

describe("sim network", () => {
  test("messages arrive after a delay within the bounds, through a CBOR round trip", () => {
    const { clock, a, got } = net(1, { delayMinMs: 2, delayMaxMs: 5 });
    const msg = { t: "x", n: 1, s: "é", arr: [1, "two"], bytes: new Uint8Array([1, 2]) };
    a.send("b:1", msg);
    clock.advance(1);
    expect(got).toHaveLength(0);
    clock.advance(10);
    expect(got).toHaveLength(1);
    const [from, to, m, at] = got[0]!;
    expect([from, to]).toEqual(["a:1", "b:1"]);
    expect(m).toEqual(msg);
    expect(m).not.toBe(msg);
    expect(at >= 2 && at <= 5).toBe(true);
  });

  test("a message CBOR cannot carry fails at send, as it would on the wire", () => {
    const { a } = net(1);
    expect(() => a.send("b:1", { t: "x", f: () => 1 })).toThrow();
  });

  test("per-pair FIFO order unless reordering is on", () => {
    const fifo = net(2, { delayMinMs: 0, delayMaxMs: 50 });
    for (let i = 0; i < 50; i++) fifo.a.send("b:1", { t: "x", i });
    fifo.clock.advance(100);
    expect(fifo.got.map(([, , m]) => m.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const re = net(2, { delayMinMs: 0, delayMaxMs: 50, reorder: true });
    for (let i = 0; i < 50; i++) re.a.send("b:1", { t: "x", i });
    re.clock.advance(100);
    expect(re.got).toHaveLength(50);
    expect(re.got.map(([, , m]) => m.i)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  test("loss and duplication rates are applied", () => {
    const { clock, a, got, network } = net(3, { loss: 0.3, duplicate: 0.2 });
    for (let i = 0; i < 2000; i++) a.send("b:1", { t: "x", i });
    clock.advance(100);
    const delivered = got.length;
    const unique = new Set(got.map(([, , m]) => m.i)).size;
    expect(Math.abs(unique - 1400)).toBeLessThan(100);
    expect(delivered - unique).toBeGreaterThan(200);
    expect(network.stats.dropped).toBe(2000 - unique);
  });

  test("partitions cut groups apart (unlisted addresses together); heal restores", () => {
    const { clock, a, b, c, got, network } = net(4);
    network.partition([["a:1"], ["b:1"]]);
    a.send("b:1", { t: "ab" });
    a.send("c:1", { t: "ac" });
    c.send("b:1", { t: "cb" });
    b.send("b:1", { t: "bb" });
    clock.advance(10);
    expect(got.map(([, , m]) => m.t)).toEqual(["bb"]);
    network.heal();
    a.send("b:1", { t: "ab2" });
    clock.advance(10);
    expect(got.map(([, , m]) => m.t)).toEqual(["bb", "ab2"]);
  });

  test("a crashed address drops everything; a restart gets a fresh endpoint", () => {
    const { clock, a, b, got, network } = net(5);
    a.send("b:1", { t: "in-flight" });
    network.crash("b:1");
    clock.advance(10);
    expect(got).toHaveLength(0);
    expect(b.send("a:1", { t: "x" })).toBe(false);
    const { transport } = network.restart("b:1");
    transport.onMessage((from, msg) => got.push([from, "b:1", msg, clock.now()]));
    a.send("b:1", { t: "after" });
    clock.advance(10);
    expect(got.map(([, , m]) => m.t)).toEqual(["after"]);
  });

  test("a stalled process receives its backlog late, in order", () => {
    const { clock, a, got, network } = net(6, { delayMinMs: 1, delayMaxMs: 1 });
    network.stall("b:1", 500);
    a.send("b:1", { t: "x", i: 1 });
    a.send("b:1", { t: "x", i: 2 });
    clock.advance(499);
    expect(got).toHaveLength(0);
    clock.advance(1);
    expect(got.map(([, , m, at]) => [m.i, at])).toEqual([
      [1, 500],
      [2, 500],
    ]);
  });

  test("the same seed gives the same run", () => {
    const run = () => {
      const { clock, a, b, got } = net(7, { loss: 0.2, delayMinMs: 0, delayMaxMs: 20, reorder: true, duplicate: 0.1 });
      for (let i = 0; i < 200; i++) (i % 2 ? a : b).send(i % 3 ? "c:1" : "a:1", { t: "x", i });
      clock.advance(100);
      return got.map(([f, t, m, at]) => `${f}>${t}:${m.i}@${at}`).join(",");
    };
    expect(run()).toBe(run());
  });
});
