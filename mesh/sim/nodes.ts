/**
 * A ClusterFactory over the simulator: the wiring of mesh/node/tcp-parts.ts (one
 * transport split into "swim", "repl" and "reg", SWIM membership, the
 * cluster replicator, the cluster registry, discovery from seeds) on a
 * SimNetwork endpoint and the node's NodeClock instead of TCP and real time.
 * So startNode() runs unchanged in the simulator, and a crash is kill -9 of
 * the endpoint and clock (SimNetwork.crash), a restart a new startNode at the
 * same address.
 *
 * TCP's "connection refused" is modelled: a send to an address whose process
 * is gone (and that the network can reach) is reported to membership as
 * unreachable after `refusedAfterMs`, as the TCP transport's onUnreachable does.
 */
import { wireCluster } from "../node/wiring.ts";
import type { MembershipConfig } from "../membership/config.ts";
import type { Membership } from "../membership/swim.ts";
import type { Cluster, ClusterFactory } from "../node/parts.ts";
import type { ClusterRegistry, ClusterRegistryConfig } from "../registry/registry.ts";
import type { ClusterReplicator } from "../replication/replicator.ts";
import type { ReplicationConfig } from "../replication/config.ts";
import type { Address, Message, Timer, Transport } from "../types.ts";
import { NodeClock } from "./clock.ts";
import type { SimNetwork } from "./network.ts";

export interface SimFactoryOptions {
  net: SimNetwork;
  /** Membership overrides on top of the node's profile (config.profile). */
  membership?: Partial<MembershipConfig>;
  replication?: Partial<ReplicationConfig>;
  registry?: Partial<ClusterRegistryConfig>;
  /** How long a joining node waits for catch-up before it reports ready anyway (default 10 s). */
  catchUpTimeoutMs?: number;
  /** Discovery poll period once joined (default 5 s). */
  discoveryIntervalMs?: number;
  /** Delay before a send to a dead address is reported unreachable (default 50 ms; null: never). */
  refusedAfterMs?: number | null;
  /** Called with the typed parts of every cluster this factory builds. */
  onStart?: (parts: SimClusterParts) => void;
}

/** What the factory built for one process, typed (the Node sees only the views). */
export interface SimClusterParts {
  name: string;
  id: string;
  address: Address;
  clock: NodeClock;
  membership: Membership;
  registry: ClusterRegistry;
  replicator: ClusterReplicator;
  /** Joined and caught up. */
  ready(): boolean;
}

/**
 * Build a cluster factory on `opts.net`. The node must be started with a
 * NodeClock of the network's world clock (its timers and deliveries die
 * together) and `bind` = its simulated address; `join` lists the seeds.
 */
export function simClusterFactory(opts: SimFactoryOptions): ClusterFactory {
  const { net } = opts;
  return (ctx): Promise<Cluster> => {
    const { config, clock } = ctx;
    if (!(clock instanceof NodeClock) || clock.world !== net.clock) {
      return Promise.reject(new Error("sim cluster: start the node with a NodeClock of the network's clock"));
    }
    const address = config.advertise;
    const raw = net.transport(address, clock);
    let membership: Membership | undefined;
    const transport = refusals(raw, net, clock, opts.refusedAfterMs === undefined ? 50 : opts.refusedAfterMs, (a) =>
      membership?.peerUnreachable(a),
    );
    const wired = wireCluster({
      ctx,
      transport,
      membership: opts.membership,
      replication: opts.replication,
      registry: opts.registry,
      catchUpTimeoutMs: opts.catchUpTimeoutMs,
      discoveryIntervalMs: opts.discoveryIntervalMs,
    });
    membership = wired.membership;
    opts.onStart?.({
      name: config.name,
      id: ctx.self.id,
      address,
      clock,
      membership: wired.membership,
      registry: wired.registry,
      replicator: wired.replicator,
      ready: wired.ready,
    });
    return Promise.resolve(wired);
  };
}

/**
 * Wrap a simulated transport so that a send refused because nothing runs at
 * the address (not because of a partition, which TCP sees as silence) is
 * reported once per `afterMs` window, like the TCP transport's onUnreachable.
 */
function refusals(
  t: Transport,
  net: SimNetwork,
  clock: NodeClock,
  afterMs: number | null,
  report: (a: Address) => void,
): Transport {
  if (afterMs === null) return t;
  const pending = new Map<Address, Timer>();
  return {
    local: t.local,
    send(to: Address, msg: Message): boolean {
      const ok = t.send(to, msg);
      if (!ok && !clock.dead && !net.isUp(to) && net.canReach(t.local, to) && !pending.has(to)) {
        pending.set(
          to,
          clock.setTimer(afterMs, () => {
            pending.delete(to);
            if (!net.isUp(to)) report(to);
          }),
        );
      }
      return ok;
    },
    onMessage: (h) => t.onMessage(h),
    close: async () => {
      for (const timer of pending.values()) timer.cancel();
      pending.clear();
      await t.close();
    },
  };
}
