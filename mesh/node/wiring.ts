/**
 * How a node's cluster parts fit together, whatever carries the bytes: one
 * transport split into channels ("swim", "repl", "reg"), SWIM membership,
 * the replicated map, the process registry, and discovery feeding
 * membership with seeds. tcp-parts.ts runs it over TCP; the simulator
 * (mesh/sim/nodes.ts) over its in-memory network; parts.ts (localCluster,
 * the cluster of one) over a transport that reaches nobody.
 */
import { type DnsTarget, startDiscovery, type Discovery, type Resolve4 } from "./discovery.ts";
import { profiles, type MembershipConfig } from "../membership/config.ts";
import { logMemberEvents } from "../membership/log-events.ts";
import { GenerationView } from "../consensus/generation-view.ts";
import { createMembership, type Membership } from "../membership/swim.ts";
import type { Cluster, ClusterContext } from "./parts.ts";
import { type ClusterRegistry, type ClusterRegistryConfig, createClusterRegistry } from "../registry/registry.ts";
import { type ClusterReplicator, createClusterReplicator } from "../replication/replicator.ts";
import type { ReplicationConfig } from "../replication/config.ts";
import type { TcpTransportStats } from "../tcp/types.ts";
import type { Address, Transport } from "../types.ts";
import { mux } from "../types.ts";
import { Consensus } from "../consensus/driver.ts";
import { profiles as consensusProfiles } from "../consensus/profiles.ts";
import { configSource } from "../consensus/config-source.ts";

export interface WiringOptions {
  ctx: ClusterContext;
  /** The node's transport, already listening (at `transport.local`, the node's mesh address). */
  transport: Transport;
  dns?: readonly DnsTarget[];
  resolve4?: Resolve4;
  membership?: Partial<MembershipConfig>;
  replication?: Partial<ReplicationConfig>;
  registry?: Partial<ClusterRegistryConfig>;
  /** A catch-up for a new epoch that takes longer is started over (default 30 s); readiness never comes from a timeout. */
  catchUpTimeoutMs?: number;
  /** Discovery poll period once joined (default 5 s). */
  discoveryIntervalMs?: number;
  /** A peer sent a malformed consensus message: close its connection. */
  onMalformed?: (address: string) => void;
  /** Run soon after this turn (the runtime's); default a 0 ms timer on the clock. */
  defer?: (fn: () => void) => void;
  /** The transport's counters, when it keeps any (TCP; /metrics). */
  transportStats?: () => TcpTransportStats;
  /** Why a dial of `address` that connected was last refused (TcpTransport.refusal): /readyz names a seed that is no roomy mesh. */
  refusal?: (address: string) => string | undefined;
  /** The transport reaches nobody (the cluster of one, parts.ts): no seeds, and the registry serves at once. */
  isolated?: boolean;
  /**
   * Given no seeds, wait two rejoin periods and two probe rounds from the
   * start before starting a generation alone (`roomy node`): the members of
   * a cluster this node was in redial it within that, and it joins them
   * rather than start an empty generation beside theirs. Default: at once
   * (embedded and test nodes, which are never restarted under one name).
   */
  aloneWait?: boolean;
}

export interface WiredCluster extends Cluster {
  consensus: Consensus;
  membership: Membership;
  registry: ClusterRegistry;
  replicator: ClusterReplicator;
  discovery: Discovery;
}

/**
 * The messages that must not wait behind data: membership, consensus, and
 * the registry's lease pings and pongs (`reg:lp`, `reg:lk`: a lease that
 * waited behind a backlog of replication left healthy nodes unready, 0.25-0.9 s,
 * whenever a peer died or joined under load). A transport may give them a
 * lane of their own; they tolerate reordering as they tolerate loss.
 */
export const CONTROL_CHANNELS: readonly string[] = ["swim", "raft", "reg:lp", "reg:lk"];
/** The registry's channel (its lease messages' types are named in CONTROL_CHANNELS above). */
export const REGISTRY_CHANNEL = "reg";

export function wireCluster(opts: WiringOptions): WiredCluster {
  const { ctx, transport } = opts;
  const address = transport.local;
  const { config, clock, random, logger, hlc, map } = ctx;
  const channels = mux(transport);
  const isolated = opts.isolated === true;
  const dns = isolated ? [] : (opts.dns ?? []);
  const seeds = isolated ? [] : config.join;

  const memberCfg: MembershipConfig = { ...profiles[config.profile], ...opts.membership };
  const membership = createMembership({
    name: config.name,
    id: ctx.self.id,
    address,
    clock,
    random,
    transport: channels.channel("swim"),
    config: memberCfg,
    logger,
  });
  const unlogMembers = logMemberEvents(membership, logger);
  // The data layers see only the members on this node's side of generations
  // (two clusters can meet in SWIM through one node's seeds): bound to the
  // generation rules once the consensus is made, below.
  const side = new GenerationView(membership);
  const replicator = createClusterReplicator({
    map,
    observe: (ts) => hlc.observe(ts, clock.now()),
    last: () => hlc.last(),
    membership: side,
    transport: channels.channel("repl"),
    clock,
    random,
    // A majority by default: every acknowledged write then intersects every
    // majority a new owner catches up from, and a minority side of a
    // partition can acknowledge nothing.
    concern: config.writeConcern ?? "majority",
    logger,
    config: opts.replication,
    defer: opts.defer,
  });

  // The Raft log (the lot, the committed configuration). A node given no
  // seeds may start a generation alone; one given seeds waits for them.
  // The registry (made just below) tells it who drains and whether a
  // majority of the holders caught up for the current epoch.
  let registry: ClusterRegistry | undefined;
  // Discovery that finds nobody but ourselves (the first pod) may start a generation alone too; so
  // may a node whose only seed is its own address (one command for every node, run as a single node).
  let alone = seeds.every((s) => s === address) && dns.length === 0;
  /** Discovery starts after the consensus is made; the generation rule reads how many seeds it found. */
  let discoveryRef: Discovery | undefined;
  const consensus = new Consensus({
    self: { id: ctx.self.id, name: config.name, address },
    clock,
    random,
    transport: channels.channel("raft"),
    membership: side,
    everyone: membership,
    onSides: () => side.refresh(),
    logger,
    machine: ctx.machine,
    mayBootstrapAlone: () => alone,
    // Two rejoin periods: one was not enough on a busy machine (1 restart in 10 still started alone, the others' redial late).
    aloneAfterMs: opts.aloneWait === true ? 2 * memberCfg.rejoinIntervalMs + 2 * memberCfg.probeIntervalMs : 0,
    seedCount: () => new Set([...seeds.filter((s) => s !== address), ...(discoveryRef?.lastFound() ?? [])]).size,
    // A rejoin period and a probe round: a seed up by then has been heard; one still unheard is likely down.
    seedsWaitMs: memberCfg.rejoinIntervalMs + memberCfg.probeIntervalMs,
    seedTrouble: () => {
      for (const s of seeds) {
        const why = s === address ? undefined : opts.refusal?.(s);
        if (why !== undefined) return `${s}: ${why}`;
      }
      // None refused: name what is dialed, so a mistyped --join shows (an operator saw only "seeds not answering").
      const dialed = seeds.filter((s) => s !== address);
      return dialed.length === 0 ? null : `nothing answers at ${dialed.slice(0, 3).join(", ")}${dialed.length > 3 ? ` and ${dialed.length - 3} more` : ""}`;
    },
    maxVoters: config.maxVoters,
    shared: { lot: config.lot, gates: config.gates },
    defer: opts.defer,
    ...consensusProfiles[config.profile],
    onMalformed: opts.onMalformed,
    draining: () => registry?.draining() ?? new Set<string>(),
    selfDraining: () => registry?.isDraining() ?? false,
    mayChange: (c, next) => registry?.caughtUp(c.placed ?? c.epoch, [...c.voters, ...c.learners], c.prevHolders, [...next.voters, ...next.learners].map((s) => s.name)) ?? false,
    mayAdd: (name) => registry?.synced(name) ?? false,
  });

  // Names are owned under the committed configuration; the registry serves
  // nothing before this node is a holder that caught up for an epoch (ready).
  side.bind(consensus.sides);
  registry = createClusterRegistry({
    self: config.name,
    configs: configSource(consensus),
    membership: side,
    transport: channels.channel(REGISTRY_CHANNEL),
    replicator,
    clock,
    random,
    logger,
    hlc,
    config: {
      callTimeoutMs: config.callTimeoutMs,
      mailboxLimit: config.mailboxLimit,
      ...(opts.catchUpTimeoutMs !== undefined ? { catchUpTimeoutMs: opts.catchUpTimeoutMs } : {}),
      ...opts.registry,
    },
    isolated,
    behind: opts.ctx.behind,
  });
  const ready = (): boolean => registry!.ready();

  const discovery: Discovery = (discoveryRef = startDiscovery({
    seeds,
    dns,
    resolve4: opts.resolve4 ?? (() => Promise.resolve([])),
    self: address,
    alive: () => new Set(membership.live().map((m) => m.address)),
    join: async (addrs) => {
      membership.addSeeds(addrs);
      return membership.join(addrs);
    },
    clock,
    intervalMs: opts.discoveryIntervalMs,
    logger,
  }));
  if (dns.length > 0 && seeds.length === 0) {
    void discovery.round().then(() => {
      if (discovery.lastFound().length === 0) alone = true;
    });
  }

  return {
    membership,
    consensus,
    registry: registry!,
    replicator,
    discovery,
    ready,
    meshAddress: () => address,
    stats: () => ({
      membership: membership.stats(),
      registry: registry!.stats(),
      replication: replicator.stats(),
      consensus: { status: consensus.status(), counters: { ...consensus.stats } },
      transport: opts.transportStats?.() ?? null,
    }),
    async stop() {
      discovery.stop();
      await membership.leave().catch(() => {});
      membership.stop();
      side.stop();
      unlogMembers();
      await registry!.stop();
      await consensus.stop();
      replicator.stop();
      await transport.close();
    },
  };
}
