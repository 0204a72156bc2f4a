/**
 * One partition scenario on real processes: a fresh 5-node cluster in the
 * namespaces of a Topology, rooms created and seen by every node, load
 * running, the partition applied and held, healed, the load stopped, then
 * every node's dump once they converge (or what they answer at the
 * deadline). Returns the record the checks (netns-checks.ts) read; it
 * never decides pass or fail itself.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CrdtEntry, Run } from "./netns-checks.ts";
import { Load, type RoomSpec } from "./netns-load.ts";
import { NsCluster, sleep, until } from "./netns-roomy.ts";
import type { Topology } from "./netns.ts";

export interface Arrangement {
  /** What is cut, for the report. */
  describe: string;
  apply(t: Topology): void;
  /** Nodes that must answer `unavailable` to writes while cut (empty: no minority). */
  minority: number[];
  /** Nodes the serve probes go through while cut: they must serve every room within the bound. */
  servers: number[];
}

export interface ScenarioOptions {
  topo: Topology;
  binary: string;
  /** Name prefix of this scenario's rooms and people (scenarios share nothing else). */
  prefix: string;
  /** Decides the cut once the rooms' owners (room -> node name) and the Raft voters (names) are known. */
  arrange(owners: ReadonlyMap<string, string>, voters: readonly string[]): Arrangement;
  holdMs: number;
  seed: number;
  workers?: number;
  nodeArgs?: string[];
}

export interface ScenarioResult {
  run: Run;
  arrangement: Arrangement;
  owners: ReadonlyMap<string, string>;
  /** Set when the nodes did not all become ready and see each other alive after the heal. */
  notSettled: string | null;
  load: Load;
  logDir: string;
}

const WARMUP_MS = 3_000;
const AFTER_HEAL_MS = 3_000;
const CONVERGE_MS = 60_000;

export function roomsOf(prefix: string): RoomSpec[] {
  return [
    { name: `${prefix}r1`, capacity: null },
    { name: `${prefix}r2`, capacity: null },
    { name: `${prefix}r3`, capacity: null },
    { name: `${prefix}cap2`, capacity: 2 },
    { name: `${prefix}cap3`, capacity: 3 },
  ];
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const { topo } = o;
  topo.healAll();
  const all = topo.namespaces.map((_, i) => i);
  const cluster = new NsCluster(topo, o.nodeArgs ?? ["--profile", "lan"]);
  const logDir = join("/tmp", `roomy-netns-${process.pid}`, o.prefix.replace(/-$/, ""));
  let load: Load | null = null;
  try {
    await cluster.start(o.binary, 120_000);
    const rooms = roomsOf(o.prefix);
    const n0 = cluster.nodes[0]!;
    for (const cap of [null, 2, 3]) {
      const names = rooms.filter((r) => r.capacity === cap).map((r) => r.name);
      await until(`rooms ${names.join(",")} created`, async () => {
        const a = await n0.call("POST", "/v1/rooms", cap === null ? { rooms: names } : { rooms: names, capacity: cap });
        if (a.code !== "ok") throw new Error(`${a.code} ${a.message}`);
        return true;
      }, 30_000, 200);
    }
    // Every node knows every room before the load: an unknown_room later is then a wrong answer, not lag.
    await until("every node to list every room", async () => {
      for (const n of cluster.nodes) {
        const a = await n.call<string[]>("GET", "/v1/rooms", undefined, 2_000);
        const missing = rooms.filter((r) => !(a.body ?? []).includes(r.name));
        if (missing.length > 0) throw new Error(`${n.name} lacks ${missing.map((r) => r.name).join(",")}`);
      }
      return true;
    }, 30_000, 200);
    const owners = new Map<string, string>();
    for (const r of rooms) owners.set(r.name, await cluster.ownerOf(r.name));
    const consensus = await n0.call<{ voters: string[] }>("GET", "/v1/consensus", undefined, 5_000);
    const arrangement = o.arrange(owners, consensus.body?.voters ?? []);

    load = new Load(cluster, rooms, o.prefix, o.workers ?? 15, o.seed, () => all);
    await load.startProbes(30_000);
    load.startWorkers();
    await sleep(WARMUP_MS); // a planned stretch of load before the cut, not a wait for a condition

    load.probeNodes = () => arrangement.servers;
    arrangement.apply(topo);
    const tCut = Date.now();
    await sleep(o.holdMs); // the partition's planned length
    const tHeal = Date.now();
    topo.healAll();
    load.probeNodes = () => all;
    await sleep(AFTER_HEAL_MS);
    await load.stop();

    let notSettled: string | null = null;
    try {
      await cluster.settled(CONVERGE_MS);
    } catch (err) {
      notSettled = err instanceof Error ? err.message : String(err);
    }
    const finalDumps = await convergedDumps(cluster);
    const raw = await cluster.nodes[0]!.call<{ entries: Record<string, CrdtEntry> }>("GET", "/v1/crdt", undefined, 10_000);
    const run: Run = {
      rooms,
      ops: load.ops,
      people: load.everyone(),
      nodeNames: cluster.nodes.map((n) => n.name),
      tCut,
      tHeal,
      finalDumps,
      crdt: raw.body?.entries ?? null,
      nodeIds: cluster.names,
    };
    return { run, arrangement, owners, notSettled, load, logDir };
  } finally {
    if (load !== null) await load.stop();
    await cluster.close();
    try {
      mkdirSync(logDir, { recursive: true });
      for (const n of cluster.nodes) writeFileSync(join(logDir, `${n.name}.log`), n.logs());
      // Every request and answer, one JSON line each, for the evidence behind a failed check.
      if (load !== null) writeFileSync(join(logDir, "ops.jsonl"), load.ops.map((op) => JSON.stringify({ ...op, at: new Date(op.start).toISOString() })).join("\n") + "\n");
    } catch {
      // the logs are a help, not part of the result
    }
  }
}

/** Every node's full dump, polled until all answer 200 with the same rooms and people; at the deadline, the last answers. */
async function convergedDumps(cluster: NsCluster): Promise<Map<string, Record<string, string[]> | null>> {
  let last = new Map<string, Record<string, string[]> | null>();
  try {
    await until("every node's dump answered and equal", async () => {
      const answers = await Promise.all(cluster.nodes.map((n) => n.call<Record<string, string[]>>("GET", "/v1/dump", undefined, 10_000)));
      last = new Map(cluster.nodes.map((n, i) => [n.name, answers[i]!.code === "ok" ? answers[i]!.body : null]));
      const texts = answers.map((a) => (a.code === "ok" ? JSON.stringify(a.body) : `${a.code}`));
      if (answers.some((a) => a.code !== "ok")) throw new Error(`answers ${texts.map((t) => t.slice(0, 40)).join(" | ")}`);
      if (new Set(texts).size !== 1) throw new Error("dumps differ");
      return true;
    }, CONVERGE_MS, 500);
  } catch {
    // the checks report what the nodes answered last
  }
  return last;
}
