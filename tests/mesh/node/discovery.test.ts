import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseDiscover, parseJoin, startDiscovery } from "../../../mesh/node/discovery.ts";
import { runtimeResolve4 } from "../../../adapter/dns.ts";
import type { Clock, Timer } from "../../../mesh/types.ts";
import { startDnsServer, type TestDnsServer } from "../../support/dns-server.ts";

/** A clock whose timers fire only when the test says so. */
function manualClock(): Clock & { fire(): Promise<void>; pending(): number } {
  let timers: { fn: () => void; cancelled: boolean }[] = [];
  return {
    now: () => 0,
    setTimer(_ms: number, fn: () => void): Timer {
      const t = { fn, cancelled: false };
      timers.push(t);
      return { cancel: () => void (t.cancelled = true) };
    },
    async fire() {
      const due = timers.filter((t) => !t.cancelled);
      timers = [];
      for (const t of due) t.fn();
      for (let i = 0; i < 20; i++) await Promise.resolve();
    },
    pending: () => timers.filter((t) => !t.cancelled).length,
  };
}

async function until(pred: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("flag parsing", () => {
  test("--join accepts repeats and comma lists and drops duplicates", () => {
    expect(parseJoin(["a:1,b:2", "c:3", "a:1"])).toEqual(["a:1", "b:2", "c:3"]);
  });
  test("--join refuses an address without a port", () => {
    expect(() => parseJoin(["hostonly"])).toThrow(/HOST:PORT/);
  });
  test("--discover dns:SERVICE takes the mesh port unless one is given", () => {
    expect(parseDiscover("dns:roomy-headless", 4370)).toEqual({ host: "roomy-headless", port: 4370 });
    expect(parseDiscover("dns:roomy.ns.svc.cluster.local:7000", 4370)).toEqual({
      host: "roomy.ns.svc.cluster.local",
      port: 7000,
    });
  });
  test("--discover refuses other schemes and bad ports", () => {
    expect(() => parseDiscover("srv:x", 1)).toThrow(/dns:SERVICE/);
    expect(() => parseDiscover("dns:x:99999", 1)).toThrow(/out of range/);
  });
});

describe("DNS discovery against a loopback DNS server", () => {
  let dns: TestDnsServer;
  beforeAll(async () => {
    dns = await startDnsServer({ "roomy-headless.default.svc.cluster.local": ["127.0.0.2", "127.0.0.3"] });
  });
  afterAll(() => dns.close());

  test("the runtime resolver reads the headless service's A records", async () => {
    const ips = await runtimeResolve4(dns.address)("roomy-headless.default.svc.cluster.local");
    expect(ips.sort()).toEqual(["127.0.0.2", "127.0.0.3"]);
  });

  test("each round joins the pods that are not alive members, and sees the service scale", async () => {
    const clock = manualClock();
    const joined: string[][] = [];
    const alive = new Set<string>();
    const d = startDiscovery({
      seeds: [],
      dns: [parseDiscover("dns:roomy-headless.default.svc.cluster.local", 4370)],
      resolve4: runtimeResolve4(dns.address),
      self: "127.0.0.3:4370",
      alive: () => alive,
      join: async (addrs) => {
        joined.push(addrs);
        for (const a of addrs) alive.add(a);
        return addrs.length;
      },
      clock,
    });
    await until(() => joined.length === 1);
    expect(joined[0]).toEqual(["127.0.0.2:4370"]); // never itself
    dns.setA("roomy-headless.default.svc.cluster.local", ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    await until(() => clock.pending() === 1);
    await clock.fire();
    await until(() => joined.length === 2).catch((e) => { throw new Error(`${e}; joined=${JSON.stringify(joined)} found=${JSON.stringify(d.lastFound())} pending=${clock.pending()} q=${dns.queries()}`); });
    expect(joined[1]).toEqual(["127.0.0.4:4370"]);
    expect(d.lastFound()).toEqual(["127.0.0.2:4370", "127.0.0.4:4370"]);
    d.stop();
  });
});

describe("static seeds", () => {
  test("retries until a seed answers, then keeps re-joining seeds that are not alive (partition heal)", async () => {
    const clock = manualClock();
    let answering = false;
    const alive = new Set<string>();
    let calls = 0;
    const d = startDiscovery({
      seeds: ["127.0.0.1:1", "127.0.0.1:2"],
      dns: [],
      resolve4: async () => [],
      self: "127.0.0.1:2",
      alive: () => alive,
      join: async (addrs) => {
        calls++;
        expect(addrs).toEqual(["127.0.0.1:1"]);
        if (!answering) return 0;
        alive.add("127.0.0.1:1");
        return 1;
      },
      clock,
    });
    await until(() => calls === 1 && clock.pending() === 1);
    await clock.fire();
    await until(() => calls === 2 && clock.pending() === 1);
    answering = true;
    await clock.fire();
    await until(() => calls === 3 && clock.pending() === 1);
    // Joined and alive: a round does not bother the seed.
    await clock.fire();
    await until(() => clock.pending() === 1);
    expect(calls).toBe(3);
    // The seed is cut off and declared dead: the next round joins it again.
    alive.clear();
    await clock.fire();
    await until(() => calls === 4);
    d.stop();
  });
});
