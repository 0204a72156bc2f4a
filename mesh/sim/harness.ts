/**
 * Builds clusters of the real membership code on the simulator: a virtual
 * clock, a seeded random source per node, an in-memory network. Helpers run
 * the cluster until a predicate holds (or fail with the seed, so the run can
 * be replayed) and read every node's view.
 */
import type { Address, Logger, Transport } from "../types.ts";
import type { MembershipConfig } from "../membership/config.ts";
import { newMemberId } from "../membership/identity.ts";
import { createMembership, type Membership } from "../membership/swim.ts";
import type { Member, MemberEvent, MemberState } from "../membership/types.ts";
import { type NodeClock, SimClock } from "./clock.ts";
import { type NetworkOptions, SimNetwork } from "./network.ts";
import { SeededRandom } from "./random.ts";

export interface SimClusterOptions {
  seed: number | string;
  /** Nodes started with the cluster. */
  size: number;
  /** Membership config overrides (default: the lan profile). */
  config?: Partial<MembershipConfig>;
  network?: Partial<NetworkOptions>;
  /**
   * "join" (default): node 0 starts alone, every other node joins through it.
   * "preload": every node starts knowing every other as alive (converged).
   */
  start?: "join" | "preload";
  /** With "join", node i joins at i * joinSpreadMs (default 0: all at once). */
  joinSpreadMs?: number;
  /** Record every member event per node (default true). */
  recordEvents?: boolean;
  /** Passed to every node's membership (default: silent). */
  logger?: Logger;
}

export interface RecordedEvent {
  at: number;
  type: MemberEvent["type"];
  name: string;
  id: string;
  incarnation: number;
}

export interface SimNode {
  readonly name: string;
  readonly address: Address;
  readonly id: string;
  readonly membership: Membership;
  readonly clock: NodeClock;
  /** Events this node's membership delivered (when recording). */
  readonly events: RecordedEvent[];
  /** False once crashed, stopped or replaced by a restart. */
  running: boolean;
  /** Restart count of this name (0 for the first process). */
  readonly generation: number;
}

/** Virtual time ran out before a predicate held (the message names the seed to replay). */
export class SimTimeout extends Error {}

export class SimCluster {
  readonly seed: string;
  readonly clock: SimClock;
  readonly net: SimNetwork;
  readonly random: SeededRandom;
  readonly config: Partial<MembershipConfig>;
  /** Current process per name (restarts replace entries). */
  readonly nodes = new Map<string, SimNode>();
  #record: boolean;
  #logger: Logger | undefined;
  #seedAddress: Address | undefined;

  private constructor(opts: SimClusterOptions) {
    this.seed = String(opts.seed);
    this.random = new SeededRandom(opts.seed);
    this.clock = new SimClock();
    this.net = new SimNetwork(this.clock, this.random.fork("net"), opts.network);
    this.config = opts.config ?? {};
    this.#record = opts.recordEvents ?? true;
    this.#logger = opts.logger;
  }

  static create(opts: SimClusterOptions): SimCluster {
    const c = new SimCluster(opts);
    const names = Array.from({ length: opts.size }, (_, i) => nodeName(i));
    if (opts.start === "preload") {
      const members: Member[] = names.map((name, i) => ({
        name,
        id: newMemberId(c.clock, c.random.fork(`id/${name}/0`)),
        address: nodeAddress(i),
        state: "alive",
        incarnation: 0,
      }));
      for (const m of members) c.#start(m.name, m.address, { id: m.id, initial: members });
      c.#seedAddress = members[0]?.address;
    } else {
      const spread = opts.joinSpreadMs ?? 0;
      names.forEach((name, i) => {
        const start = (): void => {
          const n = c.#start(name, nodeAddress(i));
          if (i > 0) void n.membership.join([nodeAddress(0)]);
        };
        if (i === 0 || spread === 0) start();
        else c.clock.setTimer(i * spread, start);
      });
      c.#seedAddress = nodeAddress(0);
    }
    return c;
  }

  #start(
    name: string,
    address: Address,
    opts: { id?: string; generation?: number; clock?: NodeClock; transport?: Transport; initial?: Member[] } = {},
  ): SimNode {
    const generation = opts.generation ?? 0;
    const clock = opts.clock ?? this.clock.view();
    const t = opts.transport ?? this.net.transport(address, clock);
    const random = this.random.fork(`node/${name}/${generation}`);
    const memberId = opts.id ?? newMemberId(clock, this.random.fork(`id/${name}/${generation}`));
    const events: RecordedEvent[] = [];
    const membership = createMembership({
      name,
      id: memberId,
      address,
      clock,
      random,
      transport: t,
      config: this.config,
      logger: this.#logger,
      initialMembers: opts.initial,
    });
    if (this.#record) {
      membership.subscribe((ev) =>
        events.push({
          at: this.clock.now(),
          type: ev.type,
          name: ev.member.name,
          id: ev.member.id,
          incarnation: ev.member.incarnation,
        }),
      );
    }
    const node: SimNode = { name, address, id: memberId, membership, clock, events, running: true, generation };
    this.nodes.set(name, node);
    return node;
  }

  /** Add a node with a new name that joins through the seeds (default node 0). */
  add(name: string, address: Address, seeds?: Address[]): SimNode {
    const n = this.#start(name, address);
    void n.membership.join(seeds ?? (this.#seedAddress ? [this.#seedAddress] : []));
    return n;
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`sim: no node ${name}`);
    return n;
  }

  /** Nodes whose process is running (not crashed, stopped or left). */
  running(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.running);
  }

  /**
   * kill -9. With `refusedAfterMs`, every running node's transport reports the
   * address unreachable that long after (as TCP does once the kernel closes
   * the dead process's sockets and reconnects are refused).
   */
  crash(name: string, opts: { refusedAfterMs?: number } = {}): void {
    const n = this.node(name);
    n.running = false;
    n.membership.stop();
    this.net.crash(n.address);
    const after = opts.refusedAfterMs;
    if (after !== undefined) {
      for (const peer of this.running()) {
        peer.clock.setTimer(after, () => peer.membership.peerUnreachable(n.address));
      }
    }
  }

  /** SIGSTOP for `ms`, then SIGCONT. */
  stall(name: string, ms: number): void {
    this.net.stall(this.node(name).address, ms);
  }

  /**
   * The process under `name` dies (if still running) and a new one starts
   * at the same address with the same name and a new id, joining `seeds`.
   */
  restart(name: string, seeds?: Address[]): SimNode {
    const old = this.node(name);
    if (old.running) this.crash(name);
    const { transport, clock } = this.net.restart(old.address);
    const n = this.#start(name, old.address, { generation: old.generation + 1, clock, transport });
    const to = seeds ?? [this.#seedAddress && this.#seedAddress !== old.address ? this.#seedAddress : nodeAddress(1)];
    void n.membership.join(to);
    return n;
  }

  /** Graceful leave, then the process stops. */
  leave(name: string): Promise<void> {
    const n = this.node(name);
    return n.membership.leave().then(() => {
      n.running = false;
      n.membership.stop();
      this.net.crash(n.address);
    });
  }

  runFor(ms: number): void {
    this.clock.runFor(ms);
  }

  /**
   * Run until `done()` holds; returns the virtual ms it took. Throws, naming
   * the seed, if it does not hold within `maxMs`.
   */
  runUntil(done: () => boolean, maxMs: number, what = "condition", sliceMs = 20): number {
    const took = this.clock.runUntil(done, maxMs, sliceMs);
    if (took < 0) {
      throw new SimTimeout(
        `sim: ${what} did not hold within ${maxMs} ms of virtual time (seed ${this.seed}; replay with SEED=${this.seed})`,
      );
    }
    return took;
  }

  /**
   * Run until `p` settles (join, leave...) and return its value. Promise
   * callbacks only run between slices of virtual time, so this yields to the
   * event loop after each slice. Throws, naming the seed, after `maxMs`.
   */
  async runUntilSettled<T>(p: Promise<T>, maxMs: number, what = "promise", sliceMs = 20): Promise<T> {
    let state: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    p.then(
      (value) => {
        state = { ok: true, value };
      },
      (error: unknown) => {
        state = { ok: false, error };
      },
    );
    const start = this.clock.now();
    for (;;) {
      // A macrotask turn lets every pending promise reaction run first.
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      if (state !== undefined) {
        if (state.ok) return state.value;
        throw state.error;
      }
      if (this.clock.now() - start >= maxMs) {
        throw new SimTimeout(
          `sim: ${what} did not settle within ${maxMs} ms of virtual time (seed ${this.seed}; replay with SEED=${this.seed})`,
        );
      }
      this.clock.advance(sliceMs);
    }
  }

  /** What `observer` holds about `subject`'s current process. */
  stateOf(observer: string, subject: string): MemberState | undefined {
    const m = this.node(observer).membership.get(subject);
    if (!m) return undefined;
    return m.id === this.node(subject).id ? m.state : undefined;
  }

  /** Every running node other than `subject` holds it in `state`. */
  allSee(subject: string, state: MemberState): boolean {
    for (const n of this.nodes.values()) {
      if (!n.running || n.name === subject) continue;
      if (this.stateOf(n.name, subject) !== state) return false;
    }
    return true;
  }

  /**
   * One view: every running node holds exactly the running nodes (their
   * current ids) live, and nothing else live. With `strict`, all alive (no
   * suspicion pending anywhere).
   */
  converged(strict = false): boolean {
    const up = this.running();
    for (const n of up) {
      const s = n.membership.stats().members;
      if (s.alive + s.suspect !== up.length || (strict && s.suspect !== 0)) return false;
      for (const o of up) {
        const m = n.membership.get(o.name);
        if (!m || m.id !== o.id || m.state === "dead" || m.state === "left") return false;
      }
    }
    return true;
  }

  /** Events of type `type` about `subject` seen by any node. */
  eventsAbout(subject: string, type?: MemberEvent["type"]): Array<RecordedEvent & { observer: string }> {
    const out: Array<RecordedEvent & { observer: string }> = [];
    for (const n of this.nodes.values()) {
      for (const e of n.events) {
        if (e.name === subject && (type === undefined || e.type === type)) out.push({ ...e, observer: n.name });
      }
    }
    return out;
  }

  /** A short dump of every running node's view, for failure messages. */
  describe(): string {
    const lines: string[] = [`seed ${this.seed}, t=${this.clock.now()}`];
    for (const n of this.running()) {
      const view = n.membership
        .members()
        .map((m) => `${m.name}:${m.state[0]}${m.incarnation}`)
        .join(" ");
      lines.push(`${n.name}: ${view}`);
    }
    return lines.join("\n");
  }
}

export function nodeName(i: number): string {
  return `n${String(i).padStart(3, "0")}`;
}

export function nodeAddress(i: number): Address {
  return `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:4370`;
}
