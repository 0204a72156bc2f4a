/**
 * The real cluster layer: one authenticated TCP transport split into
 * channels, SWIM membership on "swim", the replicated map on "repl", the
 * process registry on "reg", and discovery feeding membership with seeds.
 * A ClusterFactory (see node-cluster.ts), so the Node does not change.
 */
import { readFileSync } from "node:fs";
import { RoomyError } from "../core/errors.ts";
import { parseDiscover, startDiscovery, type Discovery, type Resolve4 } from "./discovery.ts";
import { runtimeResolve4 } from "./dns-runtime.ts";
import { createMembership, type Membership } from "./membership/swim.ts";
import { profiles, type MembershipConfig } from "./membership/config.ts";
import type { Cluster, ClusterFactory } from "./node-cluster.ts";
import { createClusterRegistry, type ClusterRegistryConfig } from "./registry/cluster.ts";
import { createClusterReplicator } from "./replication/cluster.ts";
import type { ReplicationConfig } from "./replication/config.ts";
import { createTcpTransport } from "./tcp/transport.ts";
import type { TcpTransport } from "./tcp/types.ts";
import { mux } from "./types.ts";

/** Cookie used when none is given; accepted only while the mesh is bound to loopback. */
export const DEV_COOKIE = "roomy-dev-cookie";

export interface MeshClusterOptions {
  /** Membership profile overrides (default: the lan profile). */
  membership?: Partial<MembershipConfig>;
  replication?: Partial<ReplicationConfig>;
  registry?: Partial<ClusterRegistryConfig>;
  /** DNS resolver for --discover (default: the runtime's). */
  resolve4?: Resolve4;
  /** DNS server "host:port" for --discover (tests; default: the system's). */
  dnsServer?: string;
  /** How often discovery polls once joined (default 5 s). */
  discoveryIntervalMs?: number;
  /** How long a joining node waits for catch-up before it reports ready anyway (default 10 s). */
  catchUpTimeoutMs?: number;
}

function isLoopback(hostPort: string): boolean {
  const host = hostPort.slice(0, hostPort.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

/** Build a cluster factory over the real mesh. */
export function meshCluster(opts: MeshClusterOptions = {}): ClusterFactory {
  return async (ctx): Promise<Cluster> => {
    const { config, clock, random, logger, hlc, map } = ctx;
    let cookie = config.cookie;
    if (cookie === null) {
      if (!isLoopback(config.bind)) {
        throw new RoomyError(
          "bad_request",
          "the mesh is bound beyond loopback: set a cookie (--cookie, --cookie-file or ROOMY_COOKIE)",
        );
      }
      cookie = DEV_COOKIE;
    }
    const tls = config.tls === null
      ? undefined
      : {
        cert: readFileSync(required(config.tls.cert, "--tls-cert"), "utf8"),
        key: readFileSync(required(config.tls.key, "--tls-key"), "utf8"),
        ca: config.tls.ca === undefined ? undefined : readFileSync(config.tls.ca, "utf8"),
      };
    const transport: TcpTransport = await createTcpTransport({
      bind: config.bind,
      // With port 0 and no --advertise, the transport advertises the port it got.
      advertise: config.advertise === config.bind ? undefined : config.advertise,
      name: config.name,
      id: ctx.self.id,
      cookie,
      tls,
      logger,
      clock,
      random,
    });
    const address = transport.local;
    const channels = mux(transport);

    const membership: Membership = createMembership({
      name: config.name,
      id: ctx.self.id,
      address,
      clock,
      random,
      transport: channels.channel("swim"),
      config: { ...profiles[config.profile], ...opts.membership },
      logger,
    });
    // A refused dial means nothing listens there: suspect at once.
    transport.onUnreachable((addr) => membership.peerUnreachable(addr));

    const replicator = createClusterReplicator({
      map,
      observe: (ts) => hlc.observe(ts, clock.now()),
      membership,
      transport: channels.channel("repl"),
      clock,
      random,
      concern: config.writeConcern ?? 2,
      logger,
      config: opts.replication,
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
      config: { callTimeoutMs: config.callTimeoutMs, mailboxLimit: config.mailboxLimit, ...opts.registry },
    });

    // Ready: joined (or nobody to join) and caught up from the live members.
    let joined = config.join.length === 0 && config.discover === null;
    let caughtUp = joined;
    const catchUpTimeout = opts.catchUpTimeoutMs ?? 10_000;
    const afterJoin = (): void => {
      if (joined) return;
      joined = true;
      replicator.catchUp(catchUpTimeout).then(
        () => {
          caughtUp = true;
          logger.info("caught up", { node: config.name, keys: map.size });
        },
        (err) => {
          // Serve anyway: anti-entropy keeps pulling, and a node that never
          // reports ready is worse than one that is briefly behind.
          caughtUp = true;
          logger.warn("catch-up incomplete; serving while anti-entropy continues", { error: String(err) });
        },
      );
    };

    const dns = config.discover === null ? [] : [parseDiscover(config.discover, portOf(config.bind))];
    const discovery: Discovery = startDiscovery({
      seeds: config.join,
      dns,
      resolve4: opts.resolve4 ?? runtimeResolve4(opts.dnsServer),
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
      registry,
      replicator,
      ready: () => joined && caughtUp,
      meshAddress: () => address,
      async stop() {
        discovery.stop();
        await membership.leave().catch(() => {});
        membership.stop();
        registry.stop();
        replicator.stop();
        await transport.close();
      },
    };
  };
}

function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(":") + 1));
}

function required(v: string | undefined, flag: string): string {
  if (v === undefined) throw new RoomyError("bad_request", `TLS for the mesh needs ${flag}`);
  return v;
}
