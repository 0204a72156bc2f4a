/**
 * Registry clusters on the simulator's virtual clock and in-memory network,
 * with the membership double (views set by the test) and the replicator
 * double. Every node defines two process kinds:
 *
 *   "c:<x>"  a counter: {op:"inc"} -> new count, {op:"get"}, {op:"slow", ms},
 *            {op:"fail"} (throws room_full), {op:"boom"} (throws a plain Error),
 *            {op:"later", ms, refuse?} (a detached answer after ms);
 *            hands its count off, resolves conflicts by keeping the larger
 *   others   none: calls answer not_found
 *
 * Every handled message is logged with node and virtual time, and a handler
 * that starts while another of the same name runs anywhere is recorded as an
 * interleaving (it must never happen).
 *
 * The committed configuration comes from one ConfigWorld (registry-configs.ts):
 * by default it follows the membership views (who a leader sees alive, minus
 * draining nodes), so adding, crashing-and-declaring-dead, restarting and
 * announcing nodes commit new epochs as the real consensus would;
 * `commit(names)` pins the holders instead.
 */
import { detach } from "../../mesh/registry/mailbox.ts";
import { HandlerRefusal, RoomyError } from "../../core/errors.ts";
import { type ClusterRegistry, type ClusterRegistryConfig, createClusterRegistry } from "../../mesh/registry/registry.ts";
import type { ProcessHandlers } from "../../mesh/registry/types.ts";
import { type NodeClock, SimClock } from "../../mesh/sim/clock.ts";
import { type NetworkOptions, SimNetwork } from "../../mesh/sim/network.ts";
import { SeededRandom } from "../../mesh/sim/random.ts";
import type { MembershipView } from "../../mesh/membership/types.ts";
import type { Clock, Message, Transport } from "../../mesh/types.ts";
import { ConfigWorld } from "./registry-configs.ts";
import { MembershipWorld } from "./membership.ts";
import { ReplicaBus, type TestReplicator } from "./registry-replicator.ts";

export interface SimRegNode {
  name: string;
  address: string;
  registry: ClusterRegistry;
  replicator: TestReplicator;
  clock: NodeClock;
  up: boolean;
}

export interface Handled {
  node: string;
  name: string;
  at: number;
  op: string;
  count: number;
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown } | { ok: "pending" };

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class RegSim {
  readonly clock = new SimClock();
  readonly random: SeededRandom;
  readonly net: SimNetwork;
  readonly world = new MembershipWorld();
  readonly bus: ReplicaBus;
  readonly configs: ConfigWorld;
  readonly nodes = new Map<string, SimRegNode>();
  readonly handled: Handled[] = [];
  readonly conflicts: { node: string; name: string; mine: number; other: number }[] = [];
  interleavings = 0;
  /** Observer of every message a registry sends, when it sends it. */
  sent: ((from: string, to: string, msg: Message) => void) | undefined;
  private readonly active = new Map<string, number>();
  private addrs = 0;
  private starts = 0;

  constructor(
    seed: number | string,
    private readonly config: Partial<ClusterRegistryConfig> = {},
    net: Partial<NetworkOptions> = {},
  ) {
    this.random = new SeededRandom(seed);
    this.net = new SimNetwork(this.clock, this.random.fork("net"), net);
    this.bus = new ReplicaBus(this.clock, (a, b) => {
      const na = this.nodes.get(a);
      const nb = this.nodes.get(b);
      return na !== undefined && nb !== undefined && nb.up && this.net.canReach(na.address, nb.address);
    });
    this.configs = new ConfigWorld({
      clock: this.clock,
      random: this.random.fork("configs"),
      nodes: () => [...this.nodes.keys()],
      up: (n) => this.nodes.get(n)?.up === true,
      idOf: (n) => this.world.idOf(n),
      reach: (a, b) => this.net.canReach(this.node(a).address, this.node(b).address),
      clockOf: (n) => this.node(n).clock,
      view: (n) => this.world.view(n),
      registry: (n) => this.nodes.get(n)?.registry,
    });
  }

  /** Pin the holders of the next committed configuration to `names` (the configs stop following the views). */
  commit(names: string[]): void {
    this.configs.target(names);
    this.configs.step();
  }

  /** Run until a configuration with at least `epoch` is committed and every up node named has learned it. */
  async untilEpoch(epoch: number, nodes: string[] = this.upNames(), maxMs = 5000): Promise<boolean> {
    return this.until(() => nodes.every((n) => (this.configs.knownBy(n)?.epoch ?? 0) >= epoch), maxMs);
  }

  upNames(): string[] {
    return [...this.nodes.values()].filter((n) => n.up).map((n) => n.name);
  }

  /** Start a node; `hidden`: only it knows itself and `sees` (others learn of it via world.announce). */
  add(
    name: string,
    opts: { hidden?: string[]; config?: Partial<ClusterRegistryConfig> } = {},
  ): SimRegNode {
    const address = `10.1.0.${++this.addrs}:4370`;
    // The endpoint first: the others ping it as soon as they see it.
    const clock = this.clock.view();
    const transport = this.net.transport(address, clock);
    const membership =
      opts.hidden !== undefined ? this.world.addHidden(name, address, opts.hidden) : this.world.add(name, address);
    return this.start(name, address, membership, transport, clock, opts.config);
  }

  /** kill -9 then a new process under the same name and address (new id); call world.announce to let others see it. */
  restart(name: string): SimRegNode {
    const old = this.node(name);
    old.up = false;
    this.bus.down(name);
    const { transport, clock } = this.net.restart(old.address);
    return this.start(name, old.address, this.world.restart(name), transport, clock, undefined);
  }

  private start(
    name: string,
    address: string,
    membership: MembershipView,
    transport: Transport,
    clock: NodeClock,
    config: Partial<ClusterRegistryConfig> | undefined,
  ): SimRegNode {
    // A new process knows no configuration yet: it learns the log from the others.
    const configs = this.configs.sourceFor(name);
    const replicator = this.bus.replicator(name, membership.self().id);
    const registry = createClusterRegistry({
      self: name,
      configs,
      membership,
      // Every message a registry sends passes `sent` first (the network's tap sees deliveries only).
      transport: { ...transport, send: (to, msg) => (this.sent?.(name, to, msg), transport.send(to, msg)) },
      replicator,
      clock,
      random: this.random.fork(`reg/${name}/${this.starts++}`),
      config: { ...this.config, ...config },
    });
    const node: SimRegNode = { name, address, registry, replicator, clock, up: true };
    registry.define("c:", (pname) => this.counter(node, pname, clock));
    this.nodes.set(name, node);
    return node;
  }

  node(name: string): SimRegNode {
    return this.nodes.get(name)!;
  }

  reg(name: string): ClusterRegistry {
    return this.node(name).registry;
  }

  /** kill -9: no more messages or timers; the membership views are the test's business. */
  crash(name: string): void {
    const n = this.node(name);
    n.up = false;
    this.net.crash(n.address);
    this.bus.down(name);
  }

  private counter(node: SimRegNode, pname: string, clock: Clock): ProcessHandlers {
    let count = 0;
    const enter = (op: string): void => {
      if ((this.active.get(pname) ?? 0) > 0) this.interleavings++;
      this.active.set(pname, (this.active.get(pname) ?? 0) + 1);
      this.handled.push({ node: node.name, name: pname, at: this.clock.now(), op, count });
    };
    const exit = (): void => {
      this.active.set(pname, this.active.get(pname)! - 1);
    };
    return {
      handle: (msg: unknown) => {
        const op = (msg as { op: string }).op;
        enter(op);
        try {
          switch (op) {
            case "inc":
              return ++count;
            case "get":
              return count;
            case "fail":
              throw new RoomyError("room_full", `${pname} is full`);
            case "boom":
              throw new Error("boom");
            case "pass-refusal":
              // a handler passing on a call of its own that was refused before it ran
              throw new RoomyError("unavailable", "a call of mine was refused", true);
            case "refuse-own":
              // the handler's own refusal, before any effect
              throw new HandlerRefusal("unavailable", "refused before doing anything");
            case "refuse-if-moved": {
              // Waits ms, then answers if it still serves the name, else refuses with no effect (as a walk-into whose room moved).
              const ms = (msg as { ms: number }).ms;
              return new Promise<number>((resolve, reject) =>
                clock.setTimer(ms, () => (node.registry.isServing(pname) ? resolve(++count) : reject(new HandlerRefusal("unavailable", `${pname} moved while waiting`)))));
            }
            case "later": {
              // The handler's part ends now; its answer (or refusal) follows after ms, not holding the mailbox.
              const ms = (msg as { ms: number }).ms;
              const at = ++count;
              const refuse = (msg as { refuse?: boolean }).refuse === true;
              return detach(new Promise<number>((resolve, reject) => clock.setTimer(ms, () => (refuse ? reject(new RoomyError("lot_full", "refused later")) : resolve(at)))));
            }
            case "slow": {
              const ms = (msg as { ms: number }).ms;
              const at = ++count;
              // Leave "active" only when the slow job ends, so an overlap would show.
              return new Promise<number>((resolve) => clock.setTimer(ms, () => resolve(at))).finally(exit);
            }
            default:
              throw new RoomyError("bad_request", `unknown op ${op}`);
          }
        } finally {
          if (op !== "slow") exit();
        }
      },
      beginHandoff: () => ({ count }),
      endHandoff: (s: unknown) => {
        count = (s as { count: number }).count;
      },
      resolveConflict: (o: unknown) => {
        const other = (o as { count: number } | undefined)?.count ?? 0;
        this.conflicts.push({ node: node.name, name: pname, mine: count, other });
        count = Math.max(count, other);
      },
    };
  }

  /** Run `ms` of virtual time in `slice` steps, letting promise chains settle between; `check` after each. */
  async run(ms: number, check?: () => void, slice = 1): Promise<void> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      this.clock.advance(Math.min(slice, end - this.clock.now()));
      await tick();
      await tick();
      check?.();
    }
  }

  /** Run until `done()` (bounded by `maxMs` of virtual time); returns whether it held. */
  async until(done: () => boolean, maxMs: number, check?: () => void, slice = 1): Promise<boolean> {
    const end = this.clock.now() + maxMs;
    await tick();
    while (!done()) {
      if (this.clock.now() >= end) return false;
      this.clock.advance(slice);
      await tick();
      await tick();
      check?.();
    }
    return true;
  }

  /** Track a promise's outcome without awaiting it. */
  track<T>(p: Promise<T>): { result: Settled<T> } {
    const box: { result: Settled<T> } = { result: { ok: "pending" } };
    p.then(
      (value) => (box.result = { ok: true, value }),
      (error: unknown) => (box.result = { ok: false, error }),
    );
    return box;
  }

  /** Run until `p` settles (bounded) and return its outcome. */
  async settle<T>(p: Promise<T>, maxMs = 20_000, check?: () => void): Promise<Settled<T>> {
    const t = this.track(p);
    await this.until(() => t.result.ok !== "pending", maxMs, check);
    return t.result;
  }
}

/** The error's code, if it is a RoomyError. */
export function codeOf(err: unknown): string | undefined {
  return err instanceof RoomyError ? err.code : undefined;
}
