/**
 * The chaos workload's faults (workload.ts): one failure at a time, each only
 * once the last is repaired (config-whole.ts), and with twoAtOnce (5 voters:
 * any two of five) a second crash, stall or cut while the first is not yet
 * repaired, where every configuration in force keeps a majority of its voters
 * and holders. It draws from the workload's own random source, in the same
 * order as when it lived there, so a seed replays the same run.
 */
import { compareTs } from "../../core/crdt/hlc.ts";
import type { AppSim } from "../../mesh/sim/app-harness.ts";
import type { SeededRandom } from "../../mesh/sim/random.ts";
import type { Clients } from "./clients.ts";
import { configWhole as configWholeOf, survivesSecondLoss } from "./config-whole.ts";

export interface FaultOptions {
  sim: AppSim;
  /** The workload's random source (shared: the draws interleave with its ops). */
  rnd: SeededRandom;
  clients: Clients;
  /** Virtual ms since the workload's start. */
  now(): number;
  /** Every fault with its virtual time, for replaying a failure by eye. */
  log: string[];
  /** Counts by kind (crash, second, restart, partition, stall, crashDeferred, drain). */
  counts: Record<string, number>;
  maxVoters?: number;
  twoAtOnce?: boolean;
}

export interface Faults {
  /** One step's chance of a fault (and the restarts and heals now due). */
  step(): void;
  /** The faults stop: heal, and restart every node still down (a drain still running is cut short). */
  end(): void;
}

export function faultInjector(f: FaultOptions): Faults {
  const { sim, rnd, clients, log } = f;
  const faults = f.counts;
  const now = f.now;
  const at = (): string => `t=${now().toFixed(1)}`;
  const pick = <T>(xs: readonly T[]): T => xs[rnd.int(xs.length)]!;

  /** The nodes down (crashed, or draining: then its generation, until its process exits); two only with twoAtOnce. */
  type Down = { name: string; restartAt: number; draining?: number };
  let downs: Down[] = [];
  let healAt: number | null = null;
  /** The one node a partition in force cut off from the rest (twoAtOnce: a second failure may follow). */
  let cutOff: string | null = null;
  /** Until when (workload time) some node is stalled. */
  let stalledUntil = -Infinity;
  /** Each node stalled, until when (a stall of one node is a first failure a second may follow, with twoAtOnce). */
  const stalls = new Map<string, number>();
  /** A node stalls until `until` (a stall replaces the one it was in: the simulated clock resumes at the later call's end). */
  const stall = (name: string, until: number): void => {
    stalledUntil = Math.max(stalledUntil, until);
    stalls.set(name, until);
  };
  const liveConfigs = () =>
    sim.up().flatMap((x) =>
      x.node === null ? [] : [{ id: x.node.id, committed: x.node.consensus.committedConfig(), inForce: x.node.consensus.core?.config }],
    );
  /** Whether `name` holds an entry older than a second that no other live node holds (or superseded). */
  const soleHolder = (name: string): boolean => {
    const mine = sim.slot(name).node;
    if (mine === null) return false;
    const old = sim.clock.now() - 1000;
    for (const e of mine.map.state().e) {
      if (e.ts.w > old) continue;
      const held = sim.up().some((s) => {
        if (s.name === name || s.node === null) return false;
        const theirs = s.node.map.entry(e.k);
        if (theirs !== undefined) return compareTs(theirs.ts, e.ts) >= 0;
        const h = s.node.map.horizon;
        return h !== null && compareTs(h, e.ts) >= 0;
      });
      if (!held) return true;
    }
    return false;
  };
  /** The configuration is whole: every live node holds data in it and every voter is a live incarnation (config-whole.ts). */
  const configWhole = (): boolean =>
    // A node restarted this step is not started yet (no process): it is in no configuration, so the crash is not repaired.
    sim.up().every((x) => x.node !== null) && configWholeOf(liveConfigs(), f.maxVoters ?? 5);
  const crash = (victim: string, t: number, what: string): void => {
    const gen = sim.slot(victim).generation;
    sim.crash(victim);
    clients.reset(victim, gen);
    faults.crash!++;
    log.push(`${at()} ${what} ${victim}#${gen}`);
    // Some restart before the others notice the death, most after.
    downs.push({ name: victim, restartAt: t + (rnd.float() < 0.3 ? 20 + rnd.int(300) : 1000 + rnd.int(4000)) });
  };
  /**
   * A second crash while one node is down, stalled or the only one cut off
   * (twoAtOnce; with 5 voters the README's "any two of five"): only where
   * every configuration in force keeps a majority of its voters and holders,
   * and no old entry lives on the victim alone.
   */
  const secondCrash = (t: number): void => {
    // The first failure: one node down, or one cut off by a partition, or one stalled.
    const stalledNow = [...stalls].filter(([, until]) => until > t).map(([n]) => n);
    let first: string | null = null;
    if (stalledNow.length === 0 && downs.length === 1 && downs[0]!.draining === undefined && healAt === null) first = downs[0]!.name;
    else if (stalledNow.length === 0 && downs.length === 0) first = cutOff;
    else if (stalledNow.length === 1 && downs.length === 0 && healAt === null) first = stalledNow[0]!;
    if (first === null) return;
    if (sim.up().some((x) => x.node === null)) return;
    const victim = pick(sim.names().filter((n) => n !== first));
    const id = sim.slot(victim).node?.id;
    const away = downs.length === 0 ? sim.slot(first).node?.id : undefined;
    if (id === undefined || soleHolder(victim) || !survivesSecondLoss(liveConfigs(), id, away)) {
      faults.crashDeferred!++;
      return;
    }
    faults.second!++;
    crash(victim, t, "crash (second)");
  };
  /** A second failure while one node is down: another stalls past detection, where every configuration in force survives it. */
  const secondStall = (t: number): void => {
    if (downs.length !== 1 || downs[0]!.draining !== undefined || healAt !== null || t < stalledUntil) return;
    if (sim.up().some((x) => x.node === null)) return;
    const victim = pick(sim.up().filter((x) => x.name !== downs[0]!.name));
    const id = victim.node?.id;
    if (id === undefined || !survivesSecondLoss(liveConfigs(), id)) return;
    const ms = 1000 + rnd.int(2500);
    stall(victim.name, t + ms);
    victim.clock?.stall(ms);
    faults.stall!++;
    faults.second!++;
    log.push(`${at()} stall (second) ${victim.name} ${ms} ms`);
  };
  /** A second failure while one node is down: another cut off from the rest, where every configuration in force survives it. */
  const secondCut = (t: number): void => {
    if (downs.length !== 1 || downs[0]!.draining !== undefined || t < stalledUntil) return;
    if (sim.up().some((x) => x.node === null)) return;
    const victim = pick(sim.names().filter((n) => n !== downs[0]!.name));
    const id = sim.slot(victim).node?.id;
    if (id === undefined || !survivesSecondLoss(liveConfigs(), id)) return;
    sim.partition([[victim], sim.names().filter((n) => n !== victim)]);
    healAt = t + 500 + rnd.int(5000);
    cutOff = victim;
    faults.partition!++;
    faults.second!++;
    log.push(`${at()} partition (second) ${victim} | the rest`);
  };
  const fault = (): void => {
    const t = now();
    for (const d of downs.filter((d) => t >= d.restartAt)) {
      sim.restart(d.name);
      faults.restart!++;
      log.push(`${at()} restart ${d.name}`);
    }
    downs = downs.filter((d) => t < d.restartAt);
    const down = downs.length > 0 ? downs[0]! : null;
    if (healAt !== null && t >= healAt) {
      sim.heal();
      log.push(`${at()} heal`);
      healAt = null;
      cutOff = null;
    }
    const x = rnd.float();
    if (x < 0.012 && (down !== null || (f.twoAtOnce && (cutOff !== null || t < stalledUntil)))) {
      // Drawn only where it may happen, so other shapes replay as before.
      if (f.twoAtOnce && rnd.float() < 0.5) secondCrash(t);
    } else if (x < 0.012 && down === null) {
      const victim = pick(sim.names());
      // A node stalled past detection is a failure too: no crash while one is.
      // A partition cuts a side off (its nodes are down to the other side): no crash during one either.
      if (soleHolder(victim) || !configWhole() || t < stalledUntil || healAt !== null) {
        faults.crashDeferred!++;
        return;
      }
      crash(victim, t, "crash");
      // Sometimes a second node dies in the same instant.
      if (f.twoAtOnce && rnd.float() < 0.3) secondCrash(t);
    } else if (x < 0.02 && healAt === null && down !== null && f.twoAtOnce) {
      // A second failure: one node cut off while another is down.
      if (rnd.float() < 0.5) secondCut(t);
    } else if (x < 0.02 && healAt === null && down === null && t >= stalledUntil && configWhole()) {
      const order = sim.names().map((n) => ({ n, r: rnd.float() })).sort((a, b) => a.r - b.r).map((e) => e.n);
      const cut = 1 + rnd.int(Math.floor(order.length / 2));
      sim.partition([order.slice(0, cut), order.slice(cut)]);
      healAt = t + 500 + rnd.int(5000);
      if (cut === 1) cutOff = order[0]!;
      faults.partition!++;
      log.push(`${at()} partition ${order.slice(0, cut).join(",")} | ${order.slice(cut).join(",")}`);
    } else if (x >= 0.025 && x < 0.028 && down === null && healAt === null && t >= stalledUntil && configWhole()) {
      // SIGTERM: the node drains (hands off, flushes, waits to be dropped,
      // leaves), the process exits, and the same name comes back later.
      const victim = pick(sim.up());
      const gen = victim.generation;
      const restartIn = 200 + rnd.int(3000);
      const d: Down = { name: victim.name, restartAt: Infinity, draining: gen };
      downs.push(d);
      faults.drain!++;
      log.push(`${at()} drain ${victim.name}#${gen}`);
      void victim.node!.stop().then(() => {
        if (victim.generation !== gen || !victim.up) return;
        sim.crash(victim.name);
        clients.reset(victim.name, gen);
        log.push(`${at()} drained ${victim.name}#${gen}`);
        delete d.draining;
        d.restartAt = now() + restartIn;
      });
    } else if (x < 0.025 && down !== null && f.twoAtOnce) {
      if (rnd.float() < 0.5) secondStall(t);
    } else if (x < 0.025 && down === null && healAt === null && configWhole()) {
      // One failure at a time: a long stall while another node is down (or not yet back in the configuration) is a second one.
      const s = pick(sim.up());
      const ms = 100 + rnd.int(2500);
      stall(s.name, t + ms);
      s.clock?.stall(ms);
      faults.stall!++;
      log.push(`${at()} stall ${s.name} ${ms} ms`);
    }
  };
  return {
    step: fault,
    end(): void {
      sim.heal();
      for (const d of downs) {
        // A drain still running is cut short: killed, as a second signal would.
        sim.restart(d.name);
        if (d.draining !== undefined) clients.reset(d.name, d.draining);
        faults.restart!++;
      }
    },
  };
}
