/**
 * What an operator sees when members come and go, on whole nodes in the
 * simulator (virtual time, seeded): member events in every node's log,
 * ownership moves as one line per change, a stopping cluster's last
 * processes as one line per node, and the health score and event-loop stall
 * of a node that was paused.
 */
import { describe, expect, test } from "bun:test";
import { createHttpStats } from "../../http/http-stats.ts";
import { renderMetrics } from "../../http/metrics.ts";
import { MEMBER_LOG } from "../../mesh/membership/log-events.ts";
import { AppSim } from "../../mesh/sim/app-harness.ts";
import type { Logger } from "../../mesh/types.ts";
import { parseProm, value } from "../ship/support/prom-parse.ts";

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** One captured log per node name (across restarts). */
function logs(): { logger: (node: string) => Logger; of: (node: string) => Line[] } {
  const by = new Map<string, Line[]>();
  const of = (node: string): Line[] => {
    let l = by.get(node);
    if (l === undefined) by.set(node, (l = []));
    return l;
  };
  const logger = (node: string): Logger => {
    const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => void of(node).push({ level, msg, fields });
    return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  };
  return { logger, of };
}

const about = (lines: Line[], msg: string, member: string): Line[] => lines.filter((l) => l.msg === msg && l.fields["member"] === member);

async function stopAll(sim: AppSim, names: string[]): Promise<void> {
  const stops = names.map((n) => sim.slot(n).node!.stop());
  const done = await sim.settle(Promise.all(stops), 60_000);
  expect(done.ok).toBe(true);
}

async function metricsOf(sim: AppSim, name: string) {
  const out = await sim.settle(renderMetrics({ node: sim.slot(name).node!, http: createHttpStats() }));
  if (out.ok !== true) throw new Error(`no metrics from ${name}: ${JSON.stringify(out)}`);
  return parseProm(out.value);
}

describe("member events in the logs", () => {
  test("a node paused for 9 s is logged suspect, dead, then rejoined (with its new incarnation) by the others; it logs its refutation", async () => {
    const log = logs();
    const sim = await AppSim.start({ seed: 11, nodes: 3, logger: log.logger });
    // Formation: every node logged the other two joining, at INFO, with address and incarnation.
    for (const [n, others] of [["n1", ["n2", "n3"]], ["n2", ["n1", "n3"]], ["n3", ["n1", "n2"]]] as const) {
      for (const o of others) {
        const joined = about(log.of(n), MEMBER_LOG.joined, o);
        expect({ n, o, joined: joined.length }).toEqual({ n, o, joined: 1 });
        expect(joined[0]).toMatchObject({ level: "info", fields: { address: sim.address(o), incarnation: 0 } });
      }
    }

    sim.slot("n3").clock!.stall(9_000);
    await sim.until(() => about(log.of("n1"), MEMBER_LOG.dead, "n3").length > 0, 8_000, "n1 logs n3 dead");
    await sim.until(() => about(log.of("n1"), MEMBER_LOG.rejoined, "n3").length > 0, 15_000, "n1 logs n3 back");

    for (const n of ["n1", "n2"]) {
      const lines = log.of(n).filter((l) => l.fields["member"] === "n3" && l.msg !== MEMBER_LOG.joined);
      // In order: stopped answering, declared dead, back; every line at INFO.
      expect(lines.map((l) => l.msg).slice(0, 3)).toEqual([MEMBER_LOG.suspect, MEMBER_LOG.dead, MEMBER_LOG.rejoined]);
      expect(lines.every((l) => l.level === "info")).toBe(true);
      // It came back as the same process with a higher incarnation (it refuted its death).
      expect(lines[2]!.fields["id"]).toBe(lines[0]!.fields["id"]);
      expect(lines[2]!.fields["incarnation"] as number).toBeGreaterThan(lines[0]!.fields["incarnation"] as number);
    }
    // The paused node's own log says why the others changed their minds.
    expect(log.of("n3").some((l) => l.msg === "membership: refuted news of this node" && ["suspect", "dead"].includes(l.fields["reported"] as string))).toBe(true);

    // Its event loop was stopped for 9 s: the longest stall says so.
    const f = await metricsOf(sim, "n3");
    expect(value(f, "roomy_event_loop_stall_max_seconds")!).toBeGreaterThanOrEqual(8.9);
    expect(value(f, "roomy_event_loop_stall_max_seconds")!).toBeLessThan(10);
    await stopAll(sim, sim.names());
  }, 60_000);

  test("a crashed node is logged dead, and a restart under its name as rejoined with a new id", async () => {
    const log = logs();
    const sim = await AppSim.start({ seed: 12, nodes: 3, logger: log.logger });
    const firstId = about(log.of("n1"), MEMBER_LOG.joined, "n2")[0]!.fields["id"];
    sim.crash("n2");
    await sim.until(() => about(log.of("n1"), MEMBER_LOG.dead, "n2").length > 0, 10_000, "n1 logs n2 dead");
    sim.restart("n2");
    await sim.until(() => about(log.of("n1"), MEMBER_LOG.rejoined, "n2").length > 0, 20_000, "n1 logs n2 rejoined");
    const back = about(log.of("n1"), MEMBER_LOG.rejoined, "n2")[0]!;
    expect(back.fields["id"]).not.toBe(firstId);
    expect(back.fields["address"]).toBe(sim.address("n2"));
    await stopAll(sim, ["n1", "n2", "n3"]);
  }, 60_000);
});

describe("ownership moves and the last processes, as summaries", () => {
  const ROOMS = Array.from({ length: 300 }, (_, i) => `room-${i}`);

  test("a node stopping logs one 'ownership moved' line: how many names, to whom; the others log it left", async () => {
    const log = logs();
    const sim = await AppSim.start({ seed: 21, nodes: 3, logger: log.logger });
    const rooms = await sim.settle(sim.slot("n1").node!.app.addRooms(ROOMS), 30_000);
    expect(rooms.ok).toBe(true);
    const running = sim.slot("n3").parts!.registry.localNames().length;
    expect(running).toBeGreaterThan(50);
    const before = log.of("n3").length;

    await stopAll(sim, ["n3"]);
    const moves = log.of("n3").slice(before).filter((l) => l.msg === "ownership moved");
    expect(moves).toHaveLength(1);
    const to = moves[0]!.fields["to"] as Record<string, number>;
    expect(moves[0]!.fields["names"]).toBe(running);
    expect(Object.keys(to).sort()).toEqual(["n1", "n2"]);
    expect(to["n1"]! + to["n2"]!).toBe(running);
    // Not a line per process anywhere.
    expect(log.of("n3").filter((l) => l.fields["process"] !== undefined)).toEqual([]);
    for (const n of ["n1", "n2"]) expect(about(log.of(n), MEMBER_LOG.left, "n3")).toHaveLength(1);
    await stopAll(sim, ["n1", "n2"]);
  }, 60_000);

  test("the whole cluster stopping at once: no ERROR, at most one 'ended here' line per node, every process counted once", async () => {
    const log = logs();
    const sim = await AppSim.start({ seed: 22, nodes: 3, logger: log.logger });
    expect((await sim.settle(sim.slot("n1").node!.app.addRooms(ROOMS), 30_000)).ok).toBe(true);
    const total = sim.names().reduce((n, s) => n + sim.slot(s).parts!.registry.localNames().length, 0);
    expect(total).toBeGreaterThan(ROOMS.length); // rooms, gates, the lot

    await stopAll(sim, sim.names());
    let ended = 0;
    for (const n of sim.names()) {
      const lines = log.of(n);
      expect({ n, errors: lines.filter((l) => l.level === "error").map((l) => l.msg) }).toEqual({ n, errors: [] });
      const summaries = lines.filter((l) => l.msg.startsWith("processes ended here"));
      expect(summaries.length).toBeLessThanOrEqual(1);
      for (const s of summaries) {
        // Rooms keep their data in the replicated map: nothing was dropped, so INFO.
        expect(s.level).toBe("info");
        ended += s.fields["processes"] as number;
      }
    }
    // Each process ends once, wherever its last handoff found no taker.
    expect(ended).toBe(total);
  }, 60_000);

  test("a node alone, drained with many rooms: exactly one line, with the count", async () => {
    const log = logs();
    const sim = await AppSim.start({ seed: 23, nodes: 1, logger: log.logger });
    expect((await sim.settle(sim.slot("n1").node!.app.addRooms(ROOMS), 30_000)).ok).toBe(true);
    const running = sim.slot("n1").parts!.registry.localNames().length;
    await stopAll(sim, ["n1"]);
    const summaries = log.of("n1").filter((l) => l.msg.startsWith("processes ended here") || l.msg.includes("nowhere to go"));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ level: "info", fields: { processes: running } });
  }, 60_000);

  test("a process that holds its own state and ends with no taker is a WARN, with how many states were dropped", async () => {
    const log = logs();
    const sim = await AppSim.start({ seed: 24, nodes: 1, logger: log.logger });
    const node = sim.slot("n1").node!;
    // A process type that hands state over (rooms do not: theirs is in the replicated map).
    node.registry.define("tally:", () => {
      let n = 0;
      return { handle: () => ++n, beginHandoff: () => ({ n }) };
    });
    expect(await sim.settle(node.registry.call("tally:one", {}))).toEqual({ ok: true, value: 1 });
    const running = sim.slot("n1").parts!.registry.localNames().length;
    await stopAll(sim, ["n1"]);
    const lines = log.of("n1").filter((l) => l.msg.startsWith("processes ended here") || l.msg.startsWith("handed-off state dropped"));
    expect(lines).toEqual([{ level: "warn", msg: "handed-off state dropped: no live node left to take it", fields: { processes: running, withState: 1 } }]);
  }, 60_000);
});

describe("the local health score", () => {
  test("rises on a node whose probes go unanswered with nobody to ask (its peer crashed), and /metrics shows it", async () => {
    const sim = await AppSim.start({ seed: 31, nodes: 2 });
    expect(value(await metricsOf(sim, "n1"), "roomy_membership_health_score")).toBe(0);
    sim.crash("n2");
    // With no other member to probe indirectly, each missed ack counts against n1 itself (Lifeguard).
    await sim.until(() => sim.slot("n1").parts!.membership.stats().awareness > 0, 10_000, "n1's score rises");
    const f = await metricsOf(sim, "n1");
    expect(value(f, "roomy_membership_health_score")).toBe(sim.slot("n1").parts!.membership.stats().awareness);
    expect(value(f, "roomy_membership_health_score")!).toBeGreaterThan(0);
    await stopAll(sim, ["n1"]);
  }, 60_000);
});
