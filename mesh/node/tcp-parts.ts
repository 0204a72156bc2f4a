/**
 * The real cluster layer: one authenticated TCP transport split into
 * channels, SWIM membership on "swim", the replicated map on "repl", the
 * process registry on "reg", and discovery feeding membership with seeds.
 * A ClusterFactory (see parts.ts), so the Node does not change.
 */
import { readTextFile } from "../../adapter/files.ts";
import { tlsProblem } from "../../adapter/sockets.ts";
import { RoomyError } from "../../core/errors.ts";
import { CONTROL_CHANNELS, wireCluster } from "./wiring.ts";
import { parseDiscover, type Resolve4 } from "./discovery.ts";
import { runtimeResolve4 } from "../../adapter/dns.ts";
import { runtimeDefer } from "../../adapter/defer.ts";
import type { MembershipConfig } from "../membership/config.ts";
import type { Cluster, ClusterFactory } from "./parts.ts";
import type { ClusterRegistryConfig } from "../registry/registry.ts";
import type { ReplicationConfig } from "../replication/config.ts";
import { createTcpTransport } from "../tcp/lanes.ts";
import type { TcpTransport } from "../tcp/types.ts";
import type { TlsPaths } from "./config.ts";
import { LAN_LIVENESS, WAN_LIVENESS } from "../tcp/liveness.ts";

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
  /** Given no seeds, wait for a cluster this node was in to find it before starting one alone (wiring.ts; `roomy node` does). */
  aloneWait?: boolean;
}

function isLoopback(hostPort: string): boolean {
  const host = hostPort.slice(0, hostPort.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

/** Build a cluster factory over the real mesh. */
export function meshCluster(opts: MeshClusterOptions = {}): ClusterFactory {
  return async (ctx): Promise<Cluster> => {
    const { config, clock, random, logger } = ctx;
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
    const tls = config.tls === null ? undefined : tlsMaterial(config.tls);
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
      liveness: config.profile === "wan" ? WAN_LIVENESS : LAN_LIVENESS,
      // Membership probes and Raft heartbeats on a connection of their own
      // (lanes.ts): behind a data backlog they came late and live nodes were declared dead.
      controlChannels: CONTROL_CHANNELS,
    });
    const wired = wireCluster({
      ctx,
      transport,
      dns: config.discover === null ? [] : [parseDiscover(config.discover, portOf(config.bind))],
      resolve4: opts.resolve4 ?? runtimeResolve4(opts.dnsServer),
      membership: opts.membership,
      replication: opts.replication,
      registry: opts.registry,
      catchUpTimeoutMs: opts.catchUpTimeoutMs,
      discoveryIntervalMs: opts.discoveryIntervalMs,
      aloneWait: opts.aloneWait,
      onMalformed: (addr) => transport.closePeer(addr, "malformed consensus message"),
      defer: runtimeDefer,
      transportStats: () => transport.stats(),
      refusal: transport.refusal,
    });
    // A refused dial means nothing listens there: suspect at once.
    transport.onUnreachable((addr) => wired.membership.peerUnreachable(addr));
    return wired;
  };
}

function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(":") + 1));
}

function required(v: string | undefined, flag: string): string {
  if (v === undefined) throw new RoomyError("bad_request", `TLS for the mesh needs ${flag}`);
  return v;
}

/** A TLS file read, or a refused setting (bad_request: the CLI's exit 2) naming the flag and the file. */
function readTlsFile(path: string, flag: string): string {
  try {
    return readTextFile(path);
  } catch (err) {
    throw new RoomyError("bad_request", `cannot read ${flag} ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
}

/** The mesh's TLS material from its files, checked to make a TLS context (else a refused setting). */
function tlsMaterial(paths: TlsPaths): { cert: string; key: string; ca: string | undefined } {
  const m = {
    cert: readTlsFile(required(paths.cert, "--tls-cert"), "--tls-cert"),
    key: readTlsFile(required(paths.key, "--tls-key"), "--tls-key"),
    ca: paths.ca === undefined ? undefined : readTlsFile(paths.ca, "--tls-ca"),
  };
  const problem = tlsProblem(m);
  if (problem !== null) throw new RoomyError("bad_request", `--tls-cert, --tls-key and --tls-ca do not make a TLS context: ${problem}`);
  return m;
}
