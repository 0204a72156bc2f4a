/**
 * A committed-configuration double for registry tests: ONE sequence of
 * configurations for the whole simulated world (same epoch => same holders
 * everywhere, as a Raft log guarantees), each node learning it through its
 * own ConfigSource a little later than it was committed.
 *
 * What Raft would do, and so what this does:
 *   - a change commits only through a leader: an up holder of the current
 *     configuration (in the incarnation it holds) that reaches, both ways, a
 *     majority of those holders; none such, no change
 *   - the next change waits until the leader hears that a majority of the
 *     current holders caught up for the current epoch (registry.caughtUp,
 *     what the real consensus asks before a change)
 *   - a committed entry is known at once to the leader's side; any other up
 *     node learns it 1-3 ms after it can reach, both ways, a node that knows
 *     it: a node cut off learns it when healed, a stalled one when it
 *     resumes (delivery runs on its clock). A node more than one entry
 *     behind gets every entry it missed, in order, or (`snapshots` of the
 *     time) only the latest, as from a snapshot; `hold(node)` makes its log
 *     lag until `release(node)`
 *   - `startGeneration(names)`: every voter restarted, nothing survived; the
 *     named nodes start a new log at epoch 1 (the old one is never replayed)
 *
 * What to commit: `auto` (the default) follows the leader's membership
 * view: its live members with the member ids it sees, minus every node a
 * node on its side heard draining. `target(names)` pins the holders instead
 * (auto off): the test says who is in the cluster.
 */
import type { ClusterRegistry } from "../../mesh/registry/registry.ts";
import { type ConfigSource, type Holder, type HolderConfig, holderNames, isNewer } from "../../mesh/registry/holders.ts";
import type { MembershipView } from "../../mesh/membership/types.ts";
import type { Clock, Random } from "../../mesh/types.ts";
import type { SimClock } from "../../mesh/sim/clock.ts";

/** One node incarnation's view of the log. */
class NodeSource implements ConfigSource {
  cfg: HolderConfig | null = null;
  /** Index in the log of the last entry delivered (or scheduled for delivery). */
  known = -1;
  private readonly subs = new Set<(c: HolderConfig) => void>();

  current(): HolderConfig | null {
    return this.cfg;
  }

  subscribe(fn: (c: HolderConfig) => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  deliver(c: HolderConfig): void {
    if (!isNewer(this.cfg, c)) return;
    this.cfg = c;
    for (const fn of [...this.subs]) fn(c);
  }
}

export interface ConfigWorldDeps {
  clock: SimClock;
  random: Random;
  /** Node names, in the order they were added. */
  nodes(): string[];
  up(node: string): boolean;
  /** The current process's member id under `node`. */
  idOf(node: string): string;
  reach(from: string, to: string): boolean;
  clockOf(node: string): Clock;
  view(node: string): MembershipView;
  registry(node: string): ClusterRegistry | undefined;
}

export class ConfigWorld {
  /** Every committed configuration, in order. */
  readonly log: HolderConfig[] = [];
  /** When each entry of the log was committed (world clock) and by whom. */
  readonly commits: { at: number; epoch: number; leader: string; holders: string[] }[] = [];
  /** Follow the leader's membership view (false after target()). */
  auto = true;
  /** How often a node more than one entry behind learns only the latest configuration (as from a snapshot). */
  snapshots = 0.5;
  private pinned: string[] | undefined;
  private readonly sources = new Map<string, NodeSource>();
  /** node -> log indexes it carries (knows as committed) */
  private readonly carriers = new Map<string, number>();
  private readonly held = new Set<string>();
  private stopped = false;

  constructor(
    private readonly d: ConfigWorldDeps,
    public generation = 1,
    private readonly pollMs = 2,
  ) {
    const poll = (): void => {
      if (this.stopped) return;
      this.step();
      d.clock.setTimer(this.pollMs, poll);
    };
    d.clock.setTimer(0, poll);
  }

  /** A fresh ConfigSource for a node's new process (it knows nothing yet). */
  sourceFor(node: string): ConfigSource {
    const s = new NodeSource();
    this.sources.set(node, s);
    this.carriers.delete(node);
    return s;
  }

  latest(): HolderConfig | null {
    return this.log[this.log.length - 1] ?? null;
  }

  /** The configuration `node`'s current process has learned. */
  knownBy(node: string): HolderConfig | null {
    return this.sources.get(node)?.cfg ?? null;
  }

  /** Pin the holders to `names` (auto off); committed once a leader may. */
  target(names: string[]): void {
    this.auto = false;
    this.pinned = [...new Set(names)].sort();
  }

  stop(): void {
    this.stopped = true;
  }

  /** One round: maybe commit, then spread what is committed. */
  step(): void {
    this.maybeCommit();
    this.spread();
  }

  /** The leader and its side, or undefined when no majority of holders is reachable together. */
  leader(): { name: string; side: string[] } | undefined {
    const d = this.d;
    const cur = this.latest();
    const upNodes = d.nodes().filter((n) => d.up(n));
    const mutual = (a: string, b: string): boolean => a === b || (d.reach(a, b) && d.reach(b, a));
    if (cur === null) {
      // Bootstrap: the first node up starts the generation with what it sees.
      const first = upNodes[0];
      return first === undefined ? undefined : { name: first, side: upNodes.filter((n) => mutual(first, n)) };
    }
    const holders = cur.holders.filter((h) => d.up(h.name) && d.idOf(h.name) === h.id).map((h) => h.name);
    const need = Math.floor(holderNames(cur).length / 2) + 1;
    // A draining holder hands leadership to one that is not, when there is one.
    const draining = this.drainingOn(holders);
    const order = [...holders].sort((a, b) => Number(draining.has(a)) - Number(draining.has(b)) || (a < b ? -1 : 1));
    for (const c of order) {
      if (holders.filter((h) => mutual(c, h)).length >= need) {
        return { name: c, side: upNodes.filter((n) => mutual(c, n)) };
      }
    }
    return undefined;
  }

  /** Nodes on `side` that drain, or that a node on it heard draining. */
  private drainingOn(side: string[]): Set<string> {
    const out = new Set<string>();
    for (const n of side) {
      const r = this.d.registry(n);
      if (r === undefined) continue;
      if (r.isDraining()) out.add(n);
      for (const x of r.draining()) out.add(x);
    }
    return out;
  }

  private desired(leader: string, side: string[]): Holder[] {
    const d = this.d;
    if (!this.auto) return (this.pinned ?? []).filter((n) => d.nodes().includes(n)).map((n) => ({ name: n, id: d.idOf(n) }));
    const draining = this.drainingOn(side);
    const out = new Map<string, string>();
    for (const m of d.view(leader).live()) out.set(m.name, m.id);
    out.set(leader, d.idOf(leader));
    // The leader keeps itself (a draining leader hands leadership over first, when it can: leader()).
    return [...out].filter(([n]) => n === leader || !draining.has(n)).map(([name, id]) => ({ name, id }));
  }

  /**
   * A new generation (every voter of the last one restarted: nothing of its
   * log survived): `names` start it at epoch 1 among themselves, pinned
   * (auto off). Nodes of the old one learn it once they reach one of them.
   */
  startGeneration(names: string[]): HolderConfig {
    this.generation++;
    this.auto = false;
    this.pinned = [...new Set(names)].sort();
    const c: HolderConfig = { generation: this.generation, epoch: 1, previous: 0, holders: this.pinned.map((name) => ({ name, id: this.d.idOf(name) })) };
    this.log.push(c);
    this.commits.push({ at: this.d.clock.now(), epoch: 1, leader: this.pinned[0]!, holders: [...this.pinned] });
    for (const n of this.pinned) {
      if (!this.d.up(n) || this.held.has(n)) continue;
      this.carriers.set(n, this.log.length - 1);
      this.schedule(n, this.log.length - 1);
    }
    return c;
  }

  /** A follower whose log lags: `node` learns nothing more until release(). */
  hold(node: string): void {
    this.held.add(node);
  }

  release(node: string): void {
    this.held.delete(node);
  }

  private maybeCommit(): void {
    const l = this.leader();
    if (l === undefined) return;
    const cur = this.latest();
    const next = this.desired(l.name, l.side).sort((a, b) => (a.name < b.name ? -1 : 1));
    if (next.length === 0) return;
    if (cur !== null && sameHolders(cur.holders, next)) return;
    // The consensus waits for a majority of the current holders to catch up before the next change.
    if (cur !== null && this.d.registry(l.name)?.caughtUp(cur.epoch, cur.holders, cur.previousHolders, next.map((h) => h.name)) !== true) return;
    const c: HolderConfig = { generation: this.generation, epoch: (cur?.epoch ?? 0) + 1, previous: cur?.epoch ?? 0, holders: next };
    if (cur !== null) c.previousHolders = [...new Set(cur.holders.map((h) => h.name))].sort();
    this.log.push(c);
    this.commits.push({ at: this.d.clock.now(), epoch: c.epoch, leader: l.name, holders: next.map((h) => h.name) });
    // Replicated to the leader's side before it counts as committed.
    for (const n of l.side) {
      if (this.held.has(n)) continue;
      this.carriers.set(n, this.log.length - 1);
      this.schedule(n, this.log.length - 1);
    }
  }

  /** Whoever reaches (both ways) a node that carries an entry learns it. */
  private spread(): void {
    const d = this.d;
    const last = this.log.length - 1;
    if (last < 0) return;
    for (const n of d.nodes()) {
      if (!d.up(n) || this.held.has(n)) continue;
      const s = this.sources.get(n);
      if (s === undefined || s.known >= last) continue;
      let best = -1;
      for (const [c, idx] of this.carriers) {
        if (idx > best && c !== n && d.up(c) && d.reach(c, n) && d.reach(n, c)) best = idx;
      }
      if (best > s.known) this.schedule(n, best);
    }
  }

  private schedule(node: string, upTo: number): void {
    const s = this.sources.get(node);
    if (s === undefined || s.known >= upTo) return;
    const from = s.known;
    s.known = upTo;
    const delay = 1 + this.d.random.float() * 2;
    // A node more than one entry behind gets either every entry it missed, in
    // log order (as a follower applies them), or, as from a snapshot, only the
    // latest: then it must see the gap itself (HolderConfig.previous).
    const snapshot = upTo - from > 1 && this.d.random.float() < this.snapshots;
    this.d.clockOf(node).setTimer(delay, () => {
      if (this.sources.get(node) !== s) return;
      this.carriers.set(node, Math.max(this.carriers.get(node) ?? -1, upTo));
      if (snapshot) return s.deliver(this.log[upTo]!);
      // (A generation's log starts with it: nothing of an earlier one is replayed.)
      const g = this.log[upTo]!.generation;
      for (let i = 0; i <= upTo; i++) if (this.log[i]!.generation === g) s.deliver(this.log[i]!);
    });
  }
}

function sameHolders(a: readonly Holder[], b: readonly Holder[]): boolean {
  if (a.length !== b.length) return false;
  const key = (h: Holder): string => `${h.name}/${h.id}`;
  const sa = new Set(a.map(key));
  return b.every((h) => sa.has(key(h)));
}
