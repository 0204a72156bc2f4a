/**
 * README, "What roomy promises", under heavy churn at scale: people MOVE
 * between rooms and LEAVE, not only walk in (tests/bench/scale.bench.ts).
 *
 * 3 real nodes; HOSTILE_CHURN_ROOMS rooms (default 10,000; every tenth with
 * 20 seats) and HOSTILE_CHURN_PEOPLE people (default 200,000) walked in, 10 a
 * request. Then (churn-load.ts) 16 clients, each the only one driving its
 * people, one request at a time round robin over the nodes: ~60% moves,
 * ~30% leaves, ~10% walk-backs of people who left, 1 to HOSTILE_CHURN_BATCH
 * (3) people a request, HOSTILE_CHURN_HOT_SHARE (0.1) of them among
 * HOSTILE_CHURN_HOT (10) capacity rooms kept full; two samplers read where-is
 * and who-is-in meanwhile (random ones, and the latest acknowledged write's
 * person and room at once) and flag any answer the acknowledged writes rule
 * out (churn-ledger.ts: only people with nothing in flight, nothing unknown,
 * and their last answer in before the read was sent), and a full dump every
 * 4 s must be whole or refused. Phase 1: churn for
 * HOSTILE_CHURN_SECS (default 40); then every node's dump must be 200,
 * equal, and match the ledger (nobody in two rooms, no room over capacity,
 * no created room missing). Phase 2: churn for HOSTILE_CHURN_KILL_SECS
 * (default 30) with the Raft leader (HOSTILE_CHURN_KILL=leader, or a node
 * name) kill -9'd a quarter in and restarted under its name and ports at
 * half; no `unknown_room`, no lost acknowledged write, dumps converge.
 * Phase 3: the same with a drain (SIGTERM, exit 0 expected) of a node that
 * is neither the leader nor phase 2's victim, for HOSTILE_CHURN_TERM_SECS
 * (default 20; 0 skips it). At the end every replica must hold the same live
 * keys, values and stamps (/v1/crdt): anti-entropy caught the restarted
 * nodes up. Figures: ops/s and p50/p99 per kind, codes, the longest
 * event-loop stall, map keys and tombstones, RSS over time, time to converge.
 *
 * Passes at 0aaddd0 (this 2-core machine, shared): 200k people (seeds 1-4)
 * ~3,300 acknowledged writes/s (moves ~1,800/s, leaves ~900/s, walk-backs
 * ~300/s), p50 ~4 ms, p99 ~20-35 ms; where-is/who-is-in p50 ~2.5 ms, p99
 * ~15-27 ms; stall max <= 172 ms; RSS 150 -> 230-320 MiB, flat over a 170 s
 * churn (560k writes, throughput flat, tombstones collected as they come);
 * dumps equal and as acknowledged at once after every phase; a restarted
 * node ready in ~2 s, a drained one's restart in ~1.5-2 s. 1M people in
 * 100k rooms (seeds 5, 6): ~2,600 writes/s, no violation, but a restarted
 * node takes 9.6-21 s to catch up and meanwhile every call for the names it
 * gets back waited (fixed since: hostile-rejoin-write-stall.test.ts);
 * GET /v1/crdt stalled a node ~1 s per 100k keys (10 s at 1.17M: peers
 * suspect it, a leader loses its term; made in slices since, d22f800).
 *
 * `HOSTILE_CHURN=1 HOSTILE_BIN=path npx bun test --timeout 600000 tests/cluster/hostile-churn.test.ts`
 * (HOSTILE_CHURN_SEED, default 1; HOSTILE_CHURN_OUT=file also writes the report there;
 * the nodes' logs go to HOSTILE_CHURN_LOGS, default $TMPDIR/roomy-hostile-churn-logs).
 * Ports 26460-26465.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostileCluster, hostileBinary, sleep } from "./hostile-kit.ts";
import { type LoopbackNode, metricValue, rssBytes, until } from "../support/procs.ts";
import { createRooms, Ledger, RoomPicker, type RoomsSpec, seeded, type Walk, walkLoad } from "../support/walk-load.ts";
import { ChurnLedger } from "./churn-ledger.ts";
import { Churn } from "./churn-load.ts";
import { churnReport, converge } from "./churn-report.ts";
import type { CrdtDump } from "../../http/routes.ts";

const RUN = process.env["HOSTILE_CHURN"] === "1";
const num = (k: string, d: number): number => {
  const v = process.env[k];
  return v === undefined || v === "" ? d : Number(v);
};
const PEOPLE = num("HOSTILE_CHURN_PEOPLE", 200_000);
const ROOMS = num("HOSTILE_CHURN_ROOMS", 10_000);
const CHURN_S = num("HOSTILE_CHURN_SECS", 40);
const KILL_S = num("HOSTILE_CHURN_KILL_SECS", 30);
const TERM_S = num("HOSTILE_CHURN_TERM_SECS", 20);
/** a checked full dump every this many s during the churn (0: none); scaled with the people, as a dump's cost is */
const DUMP_S = num("HOSTILE_CHURN_DUMP_SECS", 4 * Math.max(1, PEOPLE / 200_000));
/** 0: skip the key-by-key comparison of the replicas (GET /v1/crdt stalls a node ~1 s per 100k keys) */
const REPLICAS = num("HOSTILE_CHURN_REPLICAS", 1);
const SEED = num("HOSTILE_CHURN_SEED", 1);
const KILL = process.env["HOSTILE_CHURN_KILL"] ?? "leader";
const BATCH = num("HOSTILE_CHURN_BATCH", 3);
const HOT = num("HOSTILE_CHURN_HOT", 10);
const HOT_SHARE = num("HOSTILE_CHURN_HOT_SHARE", 0.1);
const CLIENTS = 16;
const PER_REQUEST = 10;
const SPEC: RoomsSpec = { rooms: ROOMS, capEvery: 10, capacity: 20 };
const capacityOf = (r: number): number => (r >= 0 && r % SPEC.capEvery === 0 ? SPEC.capacity : Infinity);

let cluster: HostileCluster | undefined;
afterAll(async () => {
  await cluster?.close();
}, 30_000);

interface NodeFig {
  node: string;
  stallS: number;
  stallCpuS: number;
  keys: number;
  tombstones: number;
  collected: number;
  rssMiB: number;
}

async function nodeFigures(nodes: LoopbackNode[]): Promise<NodeFig[]> {
  const out: NodeFig[] = [];
  for (const n of nodes) {
    let text = "";
    try {
      const res = await fetch(`${n.url}/metrics`, { signal: AbortSignal.timeout(30_000) });
      text = await res.text();
    } catch {
      // a node that does not answer: NaNs in the report
    }
    out.push({
      node: n.name,
      stallS: metricValue(text, "roomy_event_loop_stall_max_seconds"),
      stallCpuS: metricValue(text, "roomy_event_loop_stall_max_cpu_seconds"),
      keys: metricValue(text, "roomy_map_keys"),
      tombstones: metricValue(text, "roomy_map_tombstones"),
      collected: metricValue(text, "roomy_replication_tombstones_collected_total"),
      rssMiB: Math.round(rssBytes(n.pid) / 2 ** 20),
    });
  }
  return out;
}

const figLine = (f: NodeFig): string =>
  `${f.node}: stall max ${(f.stallS * 1000).toFixed(0)} ms (cpu ${(f.stallCpuS * 1000).toFixed(0)} ms), keys ${f.keys}, tombstones ${f.tombstones}, collected ${f.collected}, RSS ${f.rssMiB} MiB`;

/** The live entries of a replica (/v1/crdt: key, value, stamp), one line each; tombstones left out (collected at different times). */
async function liveEntries(n: LoopbackNode, took: number[]): Promise<Map<string, string> | string> {
  try {
    const t = performance.now();
    const res = await fetch(`${n.url}/v1/crdt`, { signal: AbortSignal.timeout(60_000) });
    const text = await res.text();
    took.push(Math.round(performance.now() - t));
    if (!res.ok) return `HTTP ${res.status}`;
    const body = JSON.parse(text) as CrdtDump;
    const out = new Map<string, string>();
    for (const [k, e] of Object.entries(body.entries)) if (e.d !== true) out.set(k, `${JSON.stringify(e.v)} ${e.ts.w}.${e.ts.c}.${e.ts.n}`);
    return out;
  } catch (err) {
    return String(err);
  }
}

/** Until every replica holds the same live entries (anti-entropy done), or the deadline. */
async function replicasConverge(nodes: LoopbackNode[], deadlineMs: number): Promise<{ equal: boolean; ms: number; tries: number; detail: string }> {
  const t = performance.now();
  for (let tries = 1; ; tries++) {
    const maps = [];
    const took: number[] = [];
    for (const n of nodes) maps.push(await liveEntries(n, took)); // one at a time: each is tens of MB
    const errs = maps.map((m, i) => (typeof m === "string" ? `${nodes[i]!.name}: ${m}` : "")).filter((e) => e !== "");
    let detail = errs.join(", ");
    if (errs.length === 0) {
      const [first, ...rest] = maps as Map<string, string>[];
      const differ: string[] = [];
      for (const [i, m] of rest.entries()) {
        for (const [k, v] of first!) if (m.get(k) !== v) differ.push(`${k} ${nodes[0]!.name}=${v} ${nodes[i + 1]!.name}=${m.get(k) ?? "none"}`);
        for (const k of m.keys()) if (!first!.has(k)) differ.push(`${k} only on ${nodes[i + 1]!.name}`);
      }
      if (differ.length === 0) return { equal: true, ms: performance.now() - t, tries, detail: `equal (${first!.size} live keys; GET /v1/crdt took ${took.join("/")} ms)` };
      detail = `${differ.length} differences, e.g. ${differ.slice(0, 3).join("; ")}`;
    }
    if (performance.now() - t > deadlineMs) return { equal: false, ms: performance.now() - t, tries, detail };
    await sleep(1_000);
  }
}

/** Polls each node's serving state (/metrics) every 250 ms; the changes, in s since `t0`. */
function watchServing(nodes: LoopbackNode[], t0: number): { changes: string[]; stop(): Promise<void> } {
  const changes: string[] = [];
  const last = new Map<string, string>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(nodes.map(async (n) => {
        let state: string;
        try {
          const text = await (await fetch(`${n.url}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
          state = `ready=${metricValue(text, "roomy_node_ready")} serving=${metricValue(text, "roomy_registry_serving")} epoch=${metricValue(text, "roomy_registry_epoch")}`;
        } catch (err) {
          state = /timed? ?out|abort/i.test(String(err)) ? "no answer in 2 s" : "down";
        }
        if (last.get(n.name) !== state) {
          last.set(n.name, state);
          changes.push(`${((performance.now() - t0) / 1000).toFixed(2)}s ${n.name} ${state}`);
        }
      }));
      await sleep(250);
    }
  })();
  return {
    changes,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Unexpected process exits: a node crash. */
function crashes(c: HostileCluster, except: string | null): string[] {
  return c.nodes.filter((n) => n.name !== except && !n.alive).map((n) => `${n.name} exited (exit ${n.child?.proc.exitCode}, signal ${n.child?.proc.signalCode})`);
}

test.skipIf(!RUN)(
  "under heavy churn (moves, leaves, walk-backs) on 3 nodes, and across a kill -9 and restart: no acknowledged write lost, no impossible read, nobody in two rooms, no room over capacity, no unknown_room, dumps equal",
  async () => {
    const bin = await hostileBinary();
    const c = (cluster = new HostileCluster(bin, ["n1", "n2", "n3"], 26460, []));
    const report: string[] = [`hostile churn: seed ${SEED}, ${PEOPLE} people, ${ROOMS} rooms (every ${SPEC.capEvery}th ${SPEC.capacity} seats), ${CLIENTS} clients, 1-${BATCH} people a request, ${HOT_SHARE * 100}% of turns in ${HOT} full capacity rooms, binary ${bin}`];
    const log = (s: string): void => {
      report.push(s);
      console.log(`churn ${new Date().toISOString().slice(11, 19)} ${s}`);
    };
    const problems: string[] = [];
    const rss: string[] = [];
    const rssTimer = setInterval(() => rss.push(c.nodes.map((n) => (n.alive ? Math.round(rssBytes(n.pid) / 2 ** 20) : "-")).join("/")), 5_000);
    try {
      let t = performance.now();
      await c.start();
      const urls = c.nodes.map((n) => n.url);
      const rooms = await createRooms(urls, SPEC, { clients: 8, batch: 500, capMs: 120_000, retry: true });
      log(`3 nodes ready, ${rooms.createdCount} rooms created in ${Math.round(performance.now() - t)} ms (errors ${JSON.stringify(rooms.errors)})`);
      expect(rooms.createdCount).toBe(ROOMS);

      // The walk-ins, as the scale bench loads them.
      t = performance.now();
      const walkLedger = new Ledger(PEOPLE);
      const picker = new RoomPicker(SPEC, rooms.created, seeded(SEED));
      let next = 0;
      const load = await walkLoad({
        urls, clients: CLIENTS, capMs: 180_000,
        next(): Walk | undefined {
          if (next >= PEOPLE) return undefined;
          const n = Math.min(PER_REQUEST, PEOPLE - next);
          const people = Array.from({ length: n }, (_, i) => next + i);
          next += n;
          return { room: picker.pick(n), people };
        },
        done: () => next >= PEOPLE,
        answered(w, o) {
          walkLedger.record(w.people, w.room, o);
          return false;
        },
      });
      log(`walk-ins: ${walkLedger.ackedCount()} of ${PEOPLE} people in ${Math.round(load.ms)} ms (${Math.round((PEOPLE * 1000) / load.ms)} people/s), codes ${JSON.stringify(load.codes)}`);
      const ledger = ChurnLedger.from(walkLedger, capacityOf);
      const roomList: number[] = [];
      for (let r = 0; r < ROOMS; r++) if (rooms.created[r] === 1) roomList.push(r);
      for (const f of await nodeFigures(c.nodes)) log(`after the walk-ins ${figLine(f)}`);
      const hot = roomList.filter((r) => capacityOf(r) !== Infinity).slice(0, HOT);
      const shape = { nodes: () => c.live(), ledger, rooms: roomList, clients: CLIENTS, maxBatch: BATCH, hot, hotShare: HOT_SHARE, samplers: 2, dumpEveryMs: DUMP_S * 1000, created: rooms.created };

      // Phase 1: churn, every node up.
      log(`phase 1: churn for ${CHURN_S} s`);
      const ch1 = new Churn({ ...shape, seed: SEED, ms: CHURN_S * 1000 });
      await ch1.run();
      const secs1 = (performance.now() - ch1.t0) / 1000;
      for (const l of churnReport(ch1, secs1)) log(l);
      problems.push(...ch1.violations.map((v) => `phase 1 at ${v.at.toFixed(2)} s via ${v.node}: ${v.what}`));
      problems.push(...ch1.doubtfulFull.map((d) => `phase 1 doubtful room_full: ${d}`));
      problems.push(...crashes(c, null).map((s) => `phase 1: ${s}`));
      const w = ch1.windows.slice(0, -1); // the last window is partial
      if (w.length >= 4) {
        const first = (w[0]! + w[1]!) / 2;
        const last = (w.at(-1)! + w.at(-2)!) / 2;
        log(`throughput, last two windows / first two: ${(last / first).toFixed(2)}`);
        if (last < first / 4) problems.push(`phase 1: throughput collapsed: ${w.join(" ")} per 5 s`);
      }
      const conv1 = await converge(c.nodes, ledger, rooms.created, 30_000, problems, "phase 1");
      log(`phase 1 dumps: ${conv1.detail} after ${Math.round(conv1.ms)} ms, ${conv1.tries} tries, dump ms ${conv1.dumpMs.join("/")}`);
      for (const f of await nodeFigures(c.nodes)) log(`after phase 1 ${figLine(f)}`);

      const leader = (): Promise<string> => until("a Raft leader", async () => {
        const r = await fetch(`${c.nodes[0]!.url}/v1/consensus`, { signal: AbortSignal.timeout(5_000) });
        return ((await r.json()) as { leader: string | null }).leader ?? undefined;
      }, 20_000, 200);

      /** Churn for `secs`, the victim stopped (kill -9, or SIGTERM: a drain) a quarter in and restarted at half. */
      const faultPhase = async (phase: string, victim: string, how: "kill" | "term", secs: number, seed: number): Promise<void> => {
        log(`${phase}: churn for ${secs} s, ${victim} ${how === "kill" ? "kill -9'd" : "SIGTERMed (drain)"} at ${(secs / 4).toFixed(1)} s, restarted at ${(secs / 2).toFixed(1)} s`);
        const ch = new Churn({ ...shape, seed, ms: secs * 1000 });
        const running = ch.run();
        const watch = watchServing(c.nodes, ch.t0);
        await sleep((secs * 1000) / 4);
        const t = performance.now();
        const n = c.node(victim);
        if (how === "kill") await n.kill();
        else {
          await n.terminate(30_000);
          const code = n.child?.proc.exitCode;
          if (code !== 0) problems.push(`${phase}: ${victim} drained with exit ${code} (signal ${n.child?.proc.signalCode}), not 0`);
        }
        log(`${victim} ${how === "kill" ? "killed" : "drained"} at ${((t - ch.t0) / 1000).toFixed(2)} s, gone after ${Math.round(performance.now() - t)} ms`);
        await sleep(Math.max(0, ch.t0 + (secs * 1000) / 2 - performance.now()));
        const tRestart = performance.now();
        await c.restart(victim);
        await c.waitReady([n], 60_000);
        log(`${victim} restarted at ${((tRestart - ch.t0) / 1000).toFixed(2)} s, ready after ${Math.round(performance.now() - tRestart)} ms`);
        await running;
        await watch.stop();
        for (const l of churnReport(ch, (performance.now() - ch.t0) / 1000)) log(l);
        log(`${phase} serving states (s since the churn began): ${watch.changes.join("; ")}`);
        log(`${phase} per second sent, per node: writes answered ok or room_full / otherwise, reads ok / otherwise`);
        for (const l of ch.timeline(c.nodes.map((n) => n.name))) log(`  ${l}`);
        problems.push(...ch.violations.map((v) => `${phase} at ${v.at.toFixed(2)} s via ${v.node}: ${v.what}`));
        problems.push(...ch.doubtfulFull.map((d) => `${phase} doubtful room_full: ${d}`));
        problems.push(...crashes(c, null).map((s) => `${phase}: ${s}`));
        const conv = await converge(c.nodes, ledger, rooms.created, 60_000, problems, phase);
        log(`${phase} dumps: ${conv.detail} after ${Math.round(conv.ms)} ms, ${conv.tries} tries, dump ms ${conv.dumpMs.join("/")}`);
        for (const f of await nodeFigures(c.nodes)) log(`after ${phase} ${figLine(f)}`);
      };

      // Phase 2: churn across a kill -9 and a restart; phase 3: across a drain and a restart.
      const victim = KILL === "leader" ? await leader() : KILL;
      await faultPhase("phase 2", victim, "kill", KILL_S, SEED + 100);
      if (TERM_S > 0) {
        const lead = await leader();
        await faultPhase("phase 3", c.nodes.map((n) => n.name).find((n) => n !== lead && n !== victim) ?? "n2", "term", TERM_S, SEED + 200);
      }
      log(`unknown outcomes left in the ledger: ${ledger.maybe.size} people`);
      if (REPLICAS !== 0) {
        // Readers only (nothing changes: every read checkable) while each replica is fetched whole.
        const readers = new Churn({ ...shape, clients: 0, dumpEveryMs: 0, seed: SEED + 300, ms: 120_000 });
        const reading = readers.run();
        const rep = await replicasConverge(c.nodes, 30_000);
        readers.stop();
        await reading;
        log(`replicas (live keys, values and stamps of /v1/crdt): ${rep.detail} after ${Math.round(rep.ms)} ms, ${rep.tries} tries; reads meanwhile:`);
        for (const l of churnReport(readers, (performance.now() - readers.t0) / 1000)) log(l);
        problems.push(...readers.violations.map((v) => `reads during GET /v1/crdt at ${v.at.toFixed(2)} s via ${v.node}: ${v.what}`));
        if (!rep.equal) problems.push(`replicas differ: ${rep.detail}`);
        // GET /v1/crdt serializes the whole replica in one turn: its stall shows here (README: no figure for it).
        for (const f of await nodeFigures(c.nodes)) log(`after GET /v1/crdt ${figLine(f)}`);
      }
    } finally {
      clearInterval(rssTimer);
      report.push(`RSS MiB every 5 s (n1/n2/n3): ${rss.join(" ")}`);
      const dir = process.env["HOSTILE_CHURN_LOGS"] ?? join(tmpdir(), "roomy-hostile-churn-logs");
      mkdirSync(dir, { recursive: true });
      for (const n of c.nodes) writeFileSync(join(dir, `${n.name}.log`), n.logs());
      report.push(`logs: ${dir}`, ...problems.slice(0, 40).map((p) => `PROBLEM ${p}`));
      const out = process.env["HOSTILE_CHURN_OUT"];
      if (out !== undefined && out !== "") writeFileSync(out, report.join("\n") + "\n");
      console.log(report.slice(-3 - Math.min(40, problems.length)).join("\n"));
    }
    expect(problems).toEqual([]);
  },
  600_000,
);
