/** The registry and replicator of a node alone (the cluster of one). */
import { afterEach, describe, expect, test } from "bun:test";
import { codeOf, tick } from "../../support/outcomes.ts";
import { RoomyError } from "../../../core/errors.ts";
import { type Node, startNode } from "../../../mesh/node/node.ts";
import type { Registry } from "../../../mesh/registry/types.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";

/** A node alone (the cluster of one: the cluster registry and replicator) on virtual time, stopped after each test. */
const started: Node[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()));
});
async function alone(opts: { callTimeoutMs?: number } = {}): Promise<{ node: Node; reg: Registry; clock: SimClock }> {
  const clock = new SimClock();
  const node = await startNode({ name: "n1", clock, ...opts });
  started.push(node);
  return { node, reg: node.registry, clock };
}

describe("the registry of a node alone", () => {
  test("starts a process lazily on its first call and keeps its state", async () => {
    const { reg } = await alone();
    let made = 0;
    reg.define("counter:", () => {
      made++;
      let n = 0;
      return { handle: () => ++n };
    });
    const counters = (): string[] => reg.localNames().filter((n) => n.startsWith("counter:"));
    expect(counters()).toEqual([]);
    await reg.call("counter:a", {});
    expect(await reg.call("counter:a", {})).toBe(2);
    expect(await reg.call("counter:b", {})).toBe(1);
    expect(made).toBe(2);
    expect(counters()).toEqual(["counter:a", "counter:b"]);
    expect(reg.ownerOf("counter:zzz")).toBe("n1");
  });

  test("a name no factory covers is not_found", async () => {
    const { reg } = await alone();
    expect(await codeOf(reg.call("nobody:x", {}))).toBe("not_found");
  });

  test("a call not answered in time is unavailable, and a queued message whose caller gave up never runs", async () => {
    const { reg, clock } = await alone({ callTimeoutMs: 100 });
    const ran: string[] = [];
    let release!: () => void;
    reg.define("p:", () => ({
      handle: async (m) => {
        ran.push(String(m));
        if (m === "slow") await new Promise<void>((r) => (release = r));
        return m;
      },
    }));
    const slow = reg.call("p:x", "slow");
    const queued = reg.call("p:x", "queued");
    clock.advance(100);
    expect(await codeOf(slow)).toBe("unavailable");
    expect(await codeOf(queued)).toBe("unavailable");
    release();
    expect(await reg.call("p:x", "after")).toBe("after");
    expect(ran).toEqual(["slow", "after"]);
  });

  test("multiCall gathers every member's reply and leaves failures out", async () => {
    const { reg } = await alone();
    reg.define("r:", (name) => ({
      handle: () => {
        if (name === "r:bad") throw new RoomyError("internal", "boom");
        return name;
      },
    }));
    for (const n of ["r:c", "r:a", "r:bad", "r:b"]) await reg.join("g", n);
    await reg.leave("g", "r:c");
    expect(reg.members("g")).toEqual(["r:a", "r:b", "r:bad"]);
    expect(await reg.multiCall("g", {})).toEqual(["r:a", "r:b"]);
  });

  test("drain finishes running work, hands off and stops every process, then refuses calls", async () => {
    const { reg, clock } = await alone();
    const events: string[] = [];
    let release!: () => void;
    reg.define("p:", () => ({
      handle: async () => {
        await new Promise<void>((r) => (release = r));
        events.push("handled");
      },
      beginHandoff: () => {
        events.push("handoff");
        return 1;
      },
      stop: () => void events.push("stop"),
    }));
    const call = reg.call("p:x", {});
    await tick();
    let drained = false;
    const draining = reg.drain().then(() => void (drained = true));
    release();
    await call;
    // The drain rechecks on (virtual) timers until every process ended.
    for (let ms = 0; !drained && ms < 1000; ms += 25) {
      clock.advance(25);
      await tick();
    }
    await draining;
    expect(events).toEqual(["handled", "handoff", "stop"]);
    expect(reg.localNames()).toEqual([]);
    expect(await codeOf(reg.call("p:x", {}))).toBe("unavailable");
  });
});

describe("the replicator of a node alone", () => {
  test("a write is applied and its changes delivered before the write resolves", async () => {
    const { node } = await alone();
    const rep = node.replicator;
    const seen: string[] = [];
    const off = rep.onChange((cs) => seen.push(...cs.map((c) => c.key)));
    const p = rep.write({ e: [{ k: "a", ts: { w: 1, c: 0, n: "x" }, v: 1 }] });
    expect(seen).toEqual(["a"]);
    await p;
    off();
    await rep.write({ e: [{ k: "b", ts: { w: 1, c: 0, n: "x" }, v: 1 }] });
    expect(seen).toEqual(["a"]);
    expect(node.map.get("a")).toBe(1);
    expect(node.map.get("b")).toBe(1);
  });
});
