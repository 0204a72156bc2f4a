/**
 * Membership across 5 real `roomy node` processes on loopback (--profile
 * local): everyone sees everyone, a frozen or killed node is declared dead
 * by every survivor, a resumed node refutes and returns, a restarted node
 * rejoins under its name with a new identity, and a node holding the wrong
 * cookie is refused. One cluster for the whole file; tests run in order.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Cluster, sleep, stateSeenBy, waitFor, waitState, type RoomyProcess } from "../support/cluster.ts";
import { cli } from "../cli/helpers.ts";

const COOKIE = "membership-test-cookie";
const NAMES = ["n1", "n2", "n3", "n4", "n5"];
/** Generous: the machine is shared and has 2 cores. */
const DEADLINE = 30_000;
const TEST_TIMEOUT = 120_000;

let cluster: Cluster;
const others = (name: string): RoomyProcess[] => cluster.running().filter((p) => p.name !== name);

beforeAll(async () => {
  cluster = await Cluster.start({ names: NAMES, profile: "local", cookie: COOKIE, deadlineMs: 60_000 });
}, 90_000);

afterAll(async () => {
  await cluster?.close();
}, 30_000);

describe("five real nodes on loopback", () => {
  test("every node lists all five alive, with name, address, state and incarnation, over HTTP and `roomy members --json`", async () => {
    for (const p of cluster.nodes) {
      const viaHttp = await p.client.members();
      expect(viaHttp.map((m) => m.name)).toEqual(NAMES);
      for (const m of viaHttp) {
        expect(Object.keys(m).sort()).toEqual(["address", "incarnation", "name", "state"]);
        expect(m.state).toBe("alive");
        expect(m.address).toBe(cluster.node(m.name).meshAddress);
        expect(Number.isInteger(m.incarnation) && m.incarnation >= 0).toBe(true);
      }
      const viaCli = await cli(["members", "--json", "--node", p.url]);
      expect(viaCli.code).toBe(0);
      const listed = JSON.parse(viaCli.stdout) as { name: string; address: string; state: string; incarnation: number }[];
      expect(listed.map((m) => [m.name, m.address, m.state])).toEqual(NAMES.map((n) => [n, cluster.node(n).meshAddress, "alive"]));
      expect(listed.every((m) => typeof m.incarnation === "number")).toBe(true);
    }
    // The default table shows the same four columns.
    const table = await cli(["members", "--node", cluster.node("n1").url]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]!.split(/\s+/)).toEqual(["NAME", "ADDRESS", "STATE", "INCARNATION"]);
    for (const n of NAMES) expect(table.stdout).toContain(`${n} `);
  }, TEST_TIMEOUT);

  test("a frozen node (SIGSTOP) is declared dead by every survivor, and after SIGCONT it refutes and is alive everywhere", async () => {
    const victim = cluster.node("n5");
    const before = (await stateSeenBy(cluster.node("n1"), "n5"))!.incarnation;
    victim.pause();
    try {
      await waitState(others("n5"), "n5", ["dead"], { timeoutMs: DEADLINE });
    } finally {
      victim.resume();
    }
    await cluster.waitConverged({ timeoutMs: DEADLINE });
    // Dead beats alive at the same incarnation: coming back takes a refutation.
    for (const p of others("n5")) expect((await stateSeenBy(p, "n5"))!.incarnation).toBeGreaterThan(before);
  }, TEST_TIMEOUT);

  let killedId = "";
  test("a killed node (kill -9) is declared dead by every survivor", async () => {
    await cluster.waitConverged({ timeoutMs: DEADLINE });
    const victim = cluster.node("n4");
    killedId = (await victim.client.node()).id;
    await victim.kill();
    await waitState(others("n4"), "n4", ["dead"], { timeoutMs: DEADLINE });
  }, TEST_TIMEOUT);

  test("a node restarted with the same name and ports rejoins with a new identity, and every node sees it alive", async () => {
    expect(killedId).not.toBe("");
    const again = await cluster.restart("n4");
    await cluster.waitConverged({ timeoutMs: DEADLINE });
    const info = await again.client.node();
    expect(info.name).toBe("n4");
    expect(info.id).not.toBe(killedId);
    expect(info.ready).toBe(true);
    for (const p of cluster.nodes) {
      const m = (await p.client.members()).find((x) => x.name === "n4");
      expect(m).toMatchObject({ name: "n4", address: again.meshAddress, state: "alive" });
    }
  }, TEST_TIMEOUT);

  test("a node with the wrong cookie is refused: no member ever lists it, and it sees only itself", async () => {
    await cluster.waitConverged({ timeoutMs: DEADLINE });
    const intruder = await cluster.startStranger({
      name: "intruder",
      join: cluster.nodes.map((p) => p.meshAddress),
      profile: "local",
      cookie: "not-the-cookie",
    });
    // Evidence that it really tried: a member logs the failed proof.
    await waitFor(
      "a member to log that the intruder does not hold the cookie",
      () => cluster.nodes.some((p) => p.logs().split("\n").some((l) => l.includes("intruder") && l.includes("does not hold the cookie"))),
      { timeoutMs: DEADLINE },
    );
    // Then watch a few of its join retries (discovery retries from 500 ms, doubling).
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      for (const p of cluster.nodes) {
        const names = (await p.client.members()).map((m) => m.name);
        expect(names).toEqual(NAMES);
      }
      const own = await intruder.client.members();
      expect(own.map((m) => [m.name, m.state])).toEqual([["intruder", "alive"]]);
      expect(await intruder.probe.ready()).toBe(false);
      await sleep(250);
    }
    await intruder.kill();
  }, TEST_TIMEOUT);
});
