/**
 * A roomy node: its replica of the map, its processes, its clock, and the
 * two apps, composed over a cluster layer (membership, registry, replicator)
 * that is a cluster of one unless a cluster factory is given.
 */
import { HELD } from "../replication/held.ts";
import { Hlc } from "../../core/crdt/hlc.ts";
import { LwwMap } from "../../core/crdt/lww-map.ts";
import { LotMachine } from "../../core/parking/lot-machine.ts";
import type { Consensus } from "../consensus/driver.ts";
import { type Write, writesToDelta } from "../../core/crdt/map-view.ts";
import type { RoomIndex } from "../../core/rooms/room-index.ts";
import { type App, startApps } from "../apps/app.ts";
import type { AppContext } from "../apps/context.ts";
import type { MembershipView } from "../membership/types.ts";
import { type Cluster, type ClusterFactory, localCluster } from "./parts.ts";
import { type NodeConfig, type NodeSettings, resolveNodeConfig, wantsCluster } from "./config.ts";
import type { Registry } from "../registry/types.ts";
import type { Replicator } from "../replication/types.ts";
import { cryptoRandom } from "../../adapter/random.ts";
import { realClock } from "../../adapter/clock.ts";
import { runtimeDefer } from "../../adapter/defer.ts";
import { cpuMs, majorFaults, threadTimes } from "../../adapter/process.ts";
import type { Clock, Logger, Random } from "../types.ts";
import { silentLogger } from "../types.ts";
import { newMemberId } from "../membership/identity.ts";
import { startLoopLag } from "../stats/loop-lag.ts";
import type { NodeStats } from "./stats.ts";

export interface NodeOptions extends NodeSettings {
  /** Default: the real clock. */
  clock?: Clock;
  /** Default: crypto randomness. */
  random?: Random;
  /** Default: silent. */
  logger?: Logger;
  /** Builds membership, registry and replicator. Default: a cluster of one. */
  cluster?: ClusterFactory;
}

export interface Node {
  /** Stable name (flag `--name`). */
  readonly name: string;
  /** Identity of this process start: the HLC writer id and membership id. */
  readonly id: string;
  readonly config: NodeConfig;
  readonly clock: Clock;
  readonly hlc: Hlc;
  /** This node's replica; change it only through `write`. */
  readonly map: LwwMap;
  readonly logger: Logger;
  readonly membership: MembershipView;
  readonly registry: Registry;
  readonly replicator: Replicator;
  /** The Raft log: the lot (with --lot raft), the committed configuration and its epoch. */
  readonly consensus: Consensus;
  /** Rooms and parking. */
  readonly app: App;
  /** Rooms and their occupants on this replica, kept current by the rooms app (read it; never apply to it). */
  readonly roomIndex: RoomIndex;
  /** Stamp writes with one HLC timestamp and replicate them as one delta. */
  write(writes: readonly Write[]): Promise<void>;
  /** Every part's counters and gauges, read now (/metrics). */
  stats(): NodeStats;
  /** Whether the event loop stalls now or just did (loop-lag.ts behind()). */
  loopBehind(): boolean;
  /** Started, joined and caught up (GET /readyz). */
  isReady(): boolean;
  /** Whether it drains (stop() called: SIGTERM). */
  isDraining(): boolean;
  /** The mesh address listening, or null for a cluster of one. */
  meshAddress(): string | null;
  /** Drain processes, flush deltas, leave. Idempotent. */
  stop(): Promise<void>;
}

export async function startNode(opts: NodeOptions = {}): Promise<Node> {
  const clock = opts.clock ?? realClock;
  const random = opts.random ?? cryptoRandom();
  // Start time + randomness: a restarted node's identity sorts after its predecessor's.
  const id = newMemberId(clock, random);
  const config = resolveNodeConfig(opts, id);
  const logger = opts.logger ?? silentLogger;
  const hlc = new Hlc(id);
  const map = new LwwMap();
  const self = { name: config.name, id, address: config.advertise, state: "alive" as const, incarnation: 0 };

  if (wantsCluster(config) && opts.cluster === undefined) {
    logger.warn("--join/--discover given without a cluster factory: running as a cluster of one", {
      join: config.join,
      discover: config.discover,
    });
  }
  const lotMachine = new LotMachine(config.spaces);
  // The runtime's "soon" only with the runtime's clock: a virtual clock keeps everything on its own timers.
  const defer = opts.clock === undefined ? runtimeDefer : undefined;
  // The process's CPU time only under the real clock: the simulator's nodes share one process.
  // A tick every 20 ms under the real clock: at 100 ms a 69 ms collector pause that began just
  // after a tick ended before the next was due and showed as no stall at all (BENCHMARKS.md).
  const loopLag = startLoopLag(clock, opts.clock === undefined ? { cpuMs, faults: majorFaults, thread: threadTimes() ?? undefined, intervalMs: 20 } : {});
  let cluster: Cluster;
  try {
    cluster = await (opts.cluster ?? localCluster)({ config, self, clock, random, logger, hlc, map, machine: lotMachine, defer, behind: () => loopLag.behind() });
  } catch (err) {
    loopLag.stop();
    throw err;
  }
  const { replicator, registry } = cluster;

  const write = (writes: readonly Write[]): Promise<void> => {
    if (writes.length === 0) return HELD;
    return replicator.write(writesToDelta(writes, hlc.now(clock.now())));
  };
  const nextTurn = (): Promise<void> =>
    new Promise<void>((resolve) => (defer !== undefined ? defer(resolve) : clock.setTimer(0, resolve)));
  const ctx: AppContext = { node: config.name, clock, random, logger, registry, replicator, map, write, nextTurn };
  const raftLot = config.lot === "raft" ? { consensus: cluster.consensus, machine: lotMachine } : null;
  const apps = await startApps(ctx, { gates: config.gates, spaces: config.spaces }, raftLot);

  let stopping: Promise<void> | null = null;
  const node: Node = {
    name: config.name,
    id,
    config,
    clock,
    hlc,
    map,
    logger,
    membership: cluster.membership,
    registry,
    replicator,
    consensus: cluster.consensus,
    app: apps.app,
    roomIndex: apps.roomIndex,
    stats: () => ({ ...cluster.stats(), loopLag: loopLag.stats() }),
    loopBehind: () => loopLag.behind(),
    write,
    isReady: () => stopping === null && cluster.ready(),
    isDraining: () => stopping !== null,
    meshAddress: () => cluster.meshAddress(),
    stop(): Promise<void> {
      stopping ??= (async () => {
        logger.info("draining", { node: config.name });
        await registry.drain();
        await replicator.flush();
        apps.stop();
        await cluster.stop();
        loopLag.stop();
        logger.info("stopped", { node: config.name });
      })();
      return stopping;
    },
  };
  logger.info("node started", { node: config.name, id, gates: config.gates, spaces: config.spaces });
  return node;
}
