/**
 * How a node's cluster parts fit together, whatever carries the bytes: one
 * transport split into channels ("swim", "repl", "reg"), SWIM membership,
 * the replicated map, the process registry, and discovery feeding
 * membership with seeds. mesh-cluster.ts runs it over TCP; the simulator
 * (sim/node-cluster.ts) over its in-memory network.
 */
import { type DnsTarget, startDiscovery, type Discovery, type Resolve4 } from "./discovery.ts";
import { profiles, type MembershipConfig } from "./membership/config.ts";
import { logMemberEvents } from "./membership/log-events.ts";
import { createMembership, type Membership } from "./membership/swim.ts";
import type { Cluster, ClusterContext } from "./node-cluster.ts";
import { type ClusterRegistry, type ClusterRegistryConfig, createClusterRegistry } from "./registry/cluster.ts";
import { type ClusterReplicator, createClusterReplicator } from "./replication/cluster.ts";
import type { ReplicationConfig } from "./replication/config.ts";
import type { Address, Transport } from "./types.ts";
import { mux } from "./types.ts";
import { Consensus } from "./consensus/driver.ts";
import { profiles as consensusProfiles } from "./consensus/profiles.ts";

export interface WiringOptions {
  ctx: ClusterContext;
  /** The node's transport, already listening at `address`. */
  transport: Transport;
  address: Address;
  dns?: readonly DnsTarget[];
  resolve4?: Resolve4;
  membership?: Partial<MembershipConfig>;
  replication?: Partial<ReplicationConfig>;
  registry?: Partial<ClusterRegistryConfig>;
  /** How long a joining node waits for catch-up before it reports ready anyway (default 10 s). */
  catchUpTimeoutMs?: number;
  /** Discovery poll period once joined (default 5 s). */
  discoveryIntervalMs?: number;
  /** A peer sent a malformed consensus message: close its connection. */
  onMalformed?: (address: string) => void;
  /** Run soon after this turn (the runtime's); default a 0 ms timer on the clock. */
  defer?: (fn: () => void) => void;
}

export interface WiredCluster extends Cluster {
  consensus: Consensus;
  membership: Membership;
  registry: ClusterRegistry;
  replicator: ClusterReplicator;
  discovery: Discovery;
}

export function wireCluster(opts: WiringOptions): WiredCluster {
  const { ctx, transport, address } = opts;
  const { config, clock, random, logger, hlc, map } = ctx;
  const channels = mux(transport);
  const dns = opts.dns ?? [];

  const membership = createMembership({
    name: config.name,
    id: ctx.self.id,
    address,
    clock,
    random,
    transport: channels.channel("swim"),
    config: { ...profiles[config.profile], ...opts.membership },
    logger,
  });
  const unlogMembers = logMemberEvents(membership, logger);
  const replicator = createClusterReplicator({
    map,
    observe: (ts) => hlc.observe(ts, clock.now()),
    membership,
    transport: channels.channel("repl"),
    clock,
    random,
    // A majority by default: every acknowledged write then intersects every
    // majority a new owner catches up from, and a minority side of a
    // partition can acknowledge nothing.
    concern: config.writeConcern ?? "majority",
    logger,
    config: opts.replication,
  });

  // Ready: joined (or nobody to join) and caught up from the live members.
  // The registry serves no process before: others may route to this node as
  // soon as they see it, while its replica is still empty.
  let joined = config.join.length === 0 && dns.length === 0;
  let caughtUp = joined;
  const ready = (): boolean => joined && caughtUp;
  let stopped = false;
  // Ready only once a catch-up round completed: a timeout is never taken as
  // done (a node would answer from a replica missing acknowledged writes);
  // it tries again until every live member answered.
  const catchUp = (attempt: number): void => {
    if (stopped) return;
    replicator.catchUp(opts.catchUpTimeoutMs ?? 10_000).then(
      () => {
        caughtUp = true;
        logger.info("caught up", { node: config.name, keys: map.size, attempts: attempt });
      },
      (err: unknown) => {
        logger.warn("catch-up incomplete; not ready, trying again", { error: String(err), attempt });
        clock.setTimer(Math.min(5000, 250 * attempt), () => catchUp(attempt + 1));
      },
    );
  };
  const afterJoin = (): void => {
    if (joined) return;
    joined = true;
    catchUp(1);
  };
  // Someone else reached us first (we restarted inside a partition, or our
  // own join answer was lost): that is joining too.
  const unsubscribe = membership.subscribe((ev) => {
    if ((ev.type === "up" || ev.type === "alive") && ev.member.name !== config.name) afterJoin();
  });

  const registry = createClusterRegistry({
    self: config.name,
    membership,
    transport: channels.channel("reg"),
    replicator,
    clock,
    random,
    logger,
    hlc,
    ready,
    config: { callTimeoutMs: config.callTimeoutMs, mailboxLimit: config.mailboxLimit, ...opts.registry },
  });

  // The Raft log (the lot, the committed configuration). A node given no
  // seeds may start a generation alone; one given seeds waits for them.
  const consensus = new Consensus({
    self: { id: ctx.self.id, name: config.name, address },
    clock,
    random,
    transport: channels.channel("raft"),
    membership,
    logger,
    machine: ctx.machine,
    mayBootstrapAlone: config.join.length === 0 && dns.length === 0,
    maxVoters: config.maxVoters,
    defer: opts.defer,
    ...consensusProfiles[config.profile],
    onMalformed: opts.onMalformed,
  });

  const discovery = startDiscovery({
    seeds: config.join,
    dns,
    resolve4: opts.resolve4 ?? (() => Promise.resolve([])),
    self: address,
    alive: () => new Set(membership.live().map((m) => m.address)),
    join: async (addrs) => {
      membership.addSeeds(addrs);
      const n = await membership.join(addrs);
      if (n > 0) afterJoin();
      return n;
    },
    clock,
    intervalMs: opts.discoveryIntervalMs,
    logger,
  });
  if (dns.length > 0 && config.join.length === 0) {
    // Discovery that finds nobody but ourselves (the first pod) is a cluster of one.
    void discovery.round().then(() => {
      if (discovery.lastFound().length === 0) afterJoin();
    });
  }

  return {
    membership,
    consensus,
    registry,
    replicator,
    discovery,
    ready,
    meshAddress: () => address,
    async stop() {
      stopped = true;
      unsubscribe();
      discovery.stop();
      await membership.leave().catch(() => {});
      membership.stop();
      unlogMembers();
      await registry.stop();
      await consensus.stop();
      replicator.stop();
      await transport.close();
    },
  };
}
