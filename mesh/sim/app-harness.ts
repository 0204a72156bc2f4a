/**
 * Whole roomy nodes on the simulator: N nodes started with startNode() over
 * simClusterFactory (real membership, replication, registry and apps), a
 * virtual clock, a seeded random source and a lossy in-memory network. The
 * harness crashes (kill -9), restarts (same name and address, new identity),
 * partitions and heals; runs virtual time, draining promise reactions after
 * every timer so async code sees the event-loop order it would in a process;
 * and reads every node's replica to tell when the cluster is quiet.
 *
 * One seed gives one run: every random draw comes from the seed, and nothing
 * here reads real time.
 */
import { setImmediate } from "node:timers";
import type { Entry } from "../../core/crdt/lww-map.ts";
import type { MembershipConfig } from "../membership/config.ts";
import type { Node } from "../node/node.ts";
import type { ClusterFactory } from "../node/parts.ts";
import { startNode } from "../node/node.ts";
import type { LotMode, Profile } from "../node/config.ts";
import type { WriteConcern } from "../replication/types.ts";
import type { Address, Logger } from "../types.ts";
import { type NodeClock, SimClock } from "./clock.ts";
import { SimTimeout } from "./harness.ts";
import { type NetworkOptions, SimNetwork } from "./network.ts";
import { type SimFactoryOptions, type SimClusterParts, simClusterFactory } from "./nodes.ts";
import { SeededRandom } from "./random.ts";

export interface AppSimOptions {
  seed: number | string;
  /** Nodes in the cluster (names n1..nN). */
  nodes: number;
  gates?: number;
  spaces?: number;
  /** Membership profile (default local). */
  profile?: Extract<Profile, "local" | "lan">;
  network?: Partial<NetworkOptions>;
  /** Replication, registry and membership overrides for every node. */
  cluster?: Omit<SimFactoryOptions, "net" | "onStart">;
  membership?: Partial<MembershipConfig>;
  writeConcern?: WriteConcern;
  callTimeoutMs?: number;
  /** A logger per node (default silent). */
  logger?: (node: string) => Logger;
  /** Virtual ms the first formation may take (default 30 s). */
  formMs?: number;
  /**
   * Which lot the nodes run. Default crdt: the invariants of the older
   * whole-system tests (tests/sim-apps/invariants.ts) are the CRDT lot's;
   * the Raft lot is checked for linearizability (tests/sim-apps/raft-lot.test.ts).
   */
  lot?: LotMode;
  /**
   * Each node's clock reads ahead of (or behind) the world's by an amount
   * drawn from the seed in [-clockSkewMs, clockSkewMs], the same for every
   * process under its name (one machine's clock; a restart drawing anew
   * could sort its new process id before its predecessor's).
   */
  clockSkewMs?: number;
  /** A fixed skew for the named nodes' processes (every generation), in place of the drawn one. */
  fixedSkewMs?: Readonly<Record<string, number>>;
  /** At most this many Raft voters (the node's default: 5). */
  maxVoters?: number;
}

/** One node name across its process generations. */
export interface AppSimNode {
  readonly name: string;
  readonly address: Address;
  /** Process generation: 0 for the first start, +1 per restart. */
  generation: number;
  /** A process runs under this name (not crashed). */
  up: boolean;
  /** The running process, once startNode resolved. */
  node: Node | null;
  /** Its cluster layer, typed. */
  parts: SimClusterParts | null;
  clock: NodeClock | null;
}

/** A settled promise's outcome. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown } | { ok: "pending" };

const macrotask = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export function appNodeName(i: number): string {
  return `n${i + 1}`;
}

export function appNodeAddress(i: number): Address {
  return `10.9.0.${i + 1}:4370`;
}

export class AppSim {
  readonly seed: string;
  readonly clock = new SimClock();
  readonly random: SeededRandom;
  readonly net: SimNetwork;
  readonly nodes = new Map<string, AppSimNode>();
  /** Virtual time at creation, so messages show time since start. */
  readonly startedAt: number;
  /** Timers run and virtual time simulated by run() (for figures). */
  readonly progress = { timers: 0, virtualMs: 0 };
  readonly #opts: AppSimOptions;
  readonly #factory: ClusterFactory;
  /** startNode failures (a bug: the test should report them). */
  readonly failures: string[] = [];

  private constructor(opts: AppSimOptions) {
    this.#opts = opts;
    this.startedAt = this.clock.now();
    this.seed = String(opts.seed);
    this.random = new SeededRandom(opts.seed);
    this.net = new SimNetwork(this.clock, this.random.fork("net"), opts.network);
    this.#factory = simClusterFactory({
      ...opts.cluster,
      membership: { ...opts.cluster?.membership, ...opts.membership },
      net: this.net,
      onStart: (parts) => {
        const slot = this.nodes.get(parts.name);
        if (slot !== undefined && slot.clock === parts.clock) slot.parts = parts;
      },
    });
    for (let i = 0; i < opts.nodes; i++) {
      this.nodes.set(appNodeName(i), {
        name: appNodeName(i),
        address: appNodeAddress(i),
        generation: 0,
        up: false,
        node: null,
        parts: null,
        clock: null,
      });
    }
  }

  /** n1 founds the cluster, the others join through it; resolves once all are ready and agree. */
  static async start(opts: AppSimOptions): Promise<AppSim> {
    const sim = new AppSim(opts);
    const first = sim.address(appNodeName(0));
    for (const name of sim.nodes.keys()) sim.#launch(name, name === appNodeName(0) ? [] : [first]);
    await sim.until(() => sim.allReady() && sim.membershipAgrees(), opts.formMs ?? 30_000, "cluster formation");
    return sim;
  }

  get options(): Readonly<AppSimOptions> {
    return this.#opts;
  }

  names(): string[] {
    return [...this.nodes.keys()];
  }

  slot(name: string): AppSimNode {
    const s = this.nodes.get(name);
    if (s === undefined) throw new Error(`sim: no node ${name}`);
    return s;
  }

  address(name: string): Address {
    return this.slot(name).address;
  }

  /** Slots whose process runs. */
  up(): AppSimNode[] {
    return [...this.nodes.values()].filter((s) => s.up);
  }

  /** Running, started, joined and caught up: where a load balancer would send clients. */
  isReady(name: string): boolean {
    const s = this.slot(name);
    return s.up && s.node !== null && s.node.isReady();
  }

  ready(): AppSimNode[] {
    return this.up().filter((s) => this.isReady(s.name));
  }

  allReady(): boolean {
    return [...this.nodes.values()].every((s) => this.isReady(s.name));
  }

  #launch(name: string, seeds: Address[]): void {
    const slot = this.slot(name);
    const clock = this.clock.view();
    const skew = this.#opts.clockSkewMs ?? 0;
    const fixed = this.#opts.fixedSkewMs?.[name];
    if (fixed !== undefined) clock.skewMs = fixed;
    else if (skew > 0) clock.skewMs = Math.round((this.random.fork(`skew/${name}`).float() * 2 - 1) * skew);
    slot.clock = clock;
    slot.up = true;
    slot.node = null;
    slot.parts = null;
    const gen = slot.generation;
    const logger = this.#opts.logger?.(name);
    startNode({
      name,
      bind: slot.address,
      join: seeds,
      gates: this.#opts.gates,
      spaces: this.#opts.spaces,
      profile: this.#opts.profile ?? "local",
      lot: this.#opts.lot ?? "crdt",
      writeConcern: this.#opts.writeConcern,
      callTimeoutMs: this.#opts.callTimeoutMs,
      maxVoters: this.#opts.maxVoters,
      clock,
      random: this.random.fork(`node/${name}/${gen}`),
      logger,
      cluster: this.#factory,
    }).then(
      (node) => {
        if (slot.generation === gen && slot.up) slot.node = node;
      },
      (err: unknown) => {
        if (slot.generation === gen && slot.up) this.failures.push(`${name} gen ${gen} failed to start: ${String(err)}`);
      },
    );
  }

  /** kill -9: the process's timers and messages are gone; it answers nothing more. */
  crash(name: string): void {
    const slot = this.slot(name);
    if (!slot.up) return;
    slot.up = false;
    slot.node = null;
    slot.parts = null;
    slot.clock = null;
    this.net.crash(slot.address);
  }

  /** A new process under `name` at the same address (new identity), joining through every other node. */
  restart(name: string): void {
    this.crash(name);
    const slot = this.slot(name);
    slot.generation++;
    const seeds = this.names().filter((n) => n !== name).map((n) => this.address(n));
    this.#launch(name, seeds);
  }

  /** Cut the network between groups of node names (unlisted nodes form one more group). */
  partition(groups: string[][]): void {
    this.net.partition(groups.map((g) => g.map((n) => this.address(n))));
  }

  heal(): void {
    this.net.heal();
  }

  /** Run `ms` of virtual time, timer by timer, letting promise reactions run after each. */
  async run(ms: number): Promise<void> {
    const end = this.clock.now() + Math.max(0, ms);
    const start = this.clock.now();
    while (this.clock.step(end)) {
      this.progress.timers++;
      await macrotask();
    }
    this.clock.advance(end - this.clock.now());
    await macrotask();
    this.progress.virtualMs += this.clock.now() - start;
  }

  /** Run until `done()` holds, checking every `sliceMs`; throws (naming the seed) after `maxMs`. */
  async until(done: () => boolean, maxMs: number, what = "condition", sliceMs = 10): Promise<number> {
    const start = this.clock.now();
    await macrotask();
    while (!done()) {
      if (this.clock.now() - start >= maxMs) {
        throw new SimTimeout(
          `sim: ${what} did not hold within ${maxMs} ms of virtual time (sim seed ${this.seed})\n${this.describe()}`,
        );
      }
      await this.run(sliceMs);
    }
    return this.clock.now() - start;
  }

  /** Track a promise's outcome without awaiting it. */
  track<T>(p: Promise<T>): { outcome: Outcome<T> } {
    const box: { outcome: Outcome<T> } = { outcome: { ok: "pending" } };
    p.then(
      (value) => (box.outcome = { ok: true, value }),
      (error: unknown) => (box.outcome = { ok: false, error }),
    );
    return box;
  }

  /** Run until `p` settles (at most `maxMs` of virtual time); its outcome, possibly still pending. */
  async settle<T>(p: Promise<T>, maxMs = 30_000): Promise<Outcome<T>> {
    const box = this.track(p);
    const start = this.clock.now();
    await macrotask();
    while (box.outcome.ok === "pending" && this.clock.now() - start < maxMs) await this.run(1);
    return box.outcome;
  }

  /**
   * Call `fn` until it resolves, as a client retrying `unavailable` would;
   * throws (naming the seed) after `maxMs` of virtual time.
   */
  async retry<T>(fn: () => Promise<T>, what: string, maxMs = 30_000, backoffMs = 200): Promise<T> {
    const start = this.clock.now();
    let last: unknown;
    while (this.clock.now() - start < maxMs) {
      const r = await this.settle(fn(), maxMs - (this.clock.now() - start));
      if (r.ok === true) return r.value;
      if (r.ok === false) last = r.error;
      await this.run(backoffMs);
    }
    throw new SimTimeout(`sim: ${what} did not succeed within ${maxMs} ms (seed ${this.seed}): ${String(last)}`);
  }

  /** Every running node holds exactly the running processes (their current ids) alive. */
  membershipAgrees(): boolean {
    const up = this.up();
    for (const s of up) {
      if (s.parts === null) return false;
      if (s.parts.membership.live().length !== up.length) return false;
      for (const o of up) {
        if (o.parts === null) return false;
        const m = s.parts.membership.get(o.name);
        if (m === undefined || m.id !== o.parts.id || m.state !== "alive") return false;
      }
    }
    return true;
  }

  /** Visible entries (no tombstones) of a node's replica: key -> value and timestamp, as JSON. */
  visible(name: string): Map<string, string> {
    const s = this.slot(name);
    const out = new Map<string, string>();
    if (s.node === null) return out;
    for (const e of s.node.map.state().e) {
      if (e.d === true) continue;
      out.set(e.k, JSON.stringify([e.v, e.ts]));
    }
    return out;
  }

  /** The entry of `key` on node `name` (tombstones included). */
  entry(name: string, key: string): Entry | undefined {
    return this.slot(name).node?.map.entry(key);
  }

  /** Every running node's replica shows the same entries. */
  replicasAgree(): boolean {
    const up = this.up();
    if (up.some((s) => s.node === null)) return false;
    const first = this.visible(up[0]!.name);
    for (const s of up.slice(1)) {
      const v = this.visible(s.name);
      if (v.size !== first.size) return false;
      for (const [k, x] of first) if (v.get(k) !== x) return false;
    }
    return true;
  }

  /** Running names on more than one running node. */
  duplicateProcesses(): string[] {
    const where = new Map<string, string[]>();
    for (const s of this.up()) {
      for (const n of s.parts?.registry.localNames() ?? []) where.set(n, [...(where.get(n) ?? []), s.name]);
    }
    return [...where].filter(([, on]) => on.length > 1).map(([n, on]) => `${n} on ${on.join(",")}`);
  }

  /** Every node up, ready, in agreement, with nothing left to replicate and one copy per process. */
  quiet(): boolean {
    return this.allReady() && this.settledExceptReadiness();
  }

  /** quiet() but for readiness: every node up and started, in agreement, replicated, one copy per process. */
  settledExceptReadiness(): boolean {
    if ([...this.nodes.values()].some((s) => !s.up || s.node === null) || !this.membershipAgrees()) return false;
    for (const s of this.up()) if ((s.parts?.replicator.stats().pendingWrites ?? 1) > 0) return false;
    return this.replicasAgree() && this.duplicateProcesses().length === 0;
  }

  /** A short state of every node, for failure messages. */
  describe(): string {
    const lines = [`seed ${this.seed}, t=${this.clock.now() - this.startedAt}ms`];
    for (const s of this.nodes.values()) {
      if (!s.up || s.parts === null) {
        lines.push(`${s.name}: ${s.up ? "starting" : "down"} (gen ${s.generation})`);
        continue;
      }
      const view = s.parts.membership
        .members()
        .map((m) => `${m.name}:${m.state[0]}`)
        .join(" ");
      const r = s.parts.replicator.stats();
      const g = s.parts.registry.stats();
      lines.push(
        `${s.name} gen ${s.generation} ready=${this.isReady(s.name)} serving=${g.serving}@${g.epoch} catch-ups=${g.catchUps}/${g.catchUpFailures} failed lease=${g.lease} keys=${r.keys} pending=${r.pendingWrites} procs=${s.parts.registry.localNames().length} | ${view}`,
      );
    }
    return lines.join("\n");
  }
}
