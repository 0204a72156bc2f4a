/**
 * Membership tuning profiles. `lan` is the default. It starts from HashiCorp
 * memberlist's DefaultLANConfig and departs from it where roomy's promises
 * demand (each departure says why):
 *
 *   memberlist LAN           roomy lan
 *   probe interval 1 s       400 ms   a frozen node must be dead within 3 s on
 *                                     5 nodes: its first probe alone can wait
 *                                     a whole cycle of n-1 rounds (4 s at 1 s);
 *                                     measured in the simulator over 1,000
 *                                     seeds: median 1.7 s, p99 2.6 s, max 2.7 s
 *   probe timeout 500 ms     200 ms   LAN round trips are far below 1 ms; the
 *                                     local-health multiplier stretches it (up
 *                                     to 8x) on a loaded node
 *   indirect checks 3        3
 *   suspicion mult 4         4        Lifeguard: expect mult-2 = 2 independent
 *                                     confirmations before the minimum timeout
 *   suspicion min            1 s * max(1, log10 n)   (memberlist: mult *
 *                                     log10(n) * probe interval = 2.8 s at n=5);
 *                                     a stalled node is suspected one probe
 *                                     round (400 ms) after it stops at the
 *                                     earliest, so it has 1.4 s to resume and
 *                                     refute: in the simulator stalls up to
 *                                     1.4 s survive (0 deaths in 200 seeds)
 *   suspicion max mult 6     2        max = 2 * min: confirmations are few on a
 *                                     5-node cluster, so the unconfirmed
 *                                     timeout must also fit the 3 s budget
 *   retransmit mult 4        4        limit = mult * ceil(log10(n + 1))
 *   gossip interval 200 ms   100 ms   + an eager round 5 ms after news (at
 *                                     most one per interval): 1,000 nodes
 *                                     learn an update in under 1 s
 *   gossip nodes 3           3
 *   gossip to the dead 30 s  30 s
 *   push-pull 30 s           30 s     scaled up past 32 nodes like memberlist
 *   awareness max 8          8
 *   (none)                   unreachable 300 ms: when the transport finds
 *                                     nothing listening at a member's address
 *                                     (a killed process; a paused one still
 *                                     accepts connections), suspicion lasts
 *                                     this long instead: kill -9 is noticed
 *                                     in well under 1 s
 *   (none)                   rejoin 2 s: re-run push-pull with seeds that
 *                                     are not alive members, and with one
 *                                     dead member, so healed partitions merge
 *                                     and a restarted first node is found
 *                                     before it would start a cluster alone
 *                                     (a dial every 2 s: cheap)
 *   UDP 1400 B packets       8 KiB of piggybacked updates per message: we run
 *                                     over TCP frames, not UDP datagrams
 *
 * `local` is for tests and single-machine clusters: faster everything.
 * `wan` follows memberlist's DefaultWANConfig.
 */

export interface MembershipConfig {
  /** Profile name, for logs and stats. */
  profile: string;
  /** Time between probe rounds; also the deadline of one probe (indirect included). */
  probeIntervalMs: number;
  /** Wait for a direct ack before asking others to probe. */
  probeTimeoutMs: number;
  /** Members asked to probe indirectly when the direct probe times out. */
  indirectChecks: number;
  /** Lifeguard: expected independent confirmations = suspicionMult - 2. */
  suspicionMult: number;
  /** Minimum suspicion timeout before scaling by max(1, log10 n). */
  suspicionMinMs: number;
  /** Maximum suspicion timeout = this * minimum (unconfirmed suspicion). */
  suspicionMaxMult: number;
  /**
   * Suspicion timeout after the transport reports that nothing listens at a
   * member's address (connection refused: the process is gone, not paused).
   */
  unreachableSuspicionMs: number;
  /** Broadcasts are sent retransmitMult * ceil(log10(n + 1)) times. */
  retransmitMult: number;
  /** Time between gossip rounds (only when there is something to send). */
  gossipIntervalMs: number;
  /** Members each gossip round sends to. */
  gossipNodes: number;
  /** Delay of an extra round after news arrives (0: none); at most one per interval. */
  gossipEagerMs: number;
  /** Dead members still receive gossip for this long, so they can refute. */
  gossipToTheDeadMs: number;
  /** Full-state exchange with one random member, base period (scaled past 32 nodes). */
  pushPullIntervalMs: number;
  /** Push-pull with seeds that are not alive members, and one dead member (0: never). */
  rejoinIntervalMs: number;
  /** How long join() waits for seeds to answer. */
  joinTimeoutMs: number;
  /** How long leave() waits for its announcement to spread. */
  leaveTimeoutMs: number;
  /** Local health score bound: timeouts are stretched up to this factor. */
  awarenessMax: number;
  /** Dead and left members are kept (and gossiped about) this long, then reaped. */
  tombstoneMs: number;
  /** Budget, in estimated bytes, for updates piggybacked on one message. */
  maxPiggybackBytes: number;
  /** Upper bound on queued broadcasts (the least-needed are dropped past it). */
  maxQueuedBroadcasts: number;
}

export const lanConfig: Readonly<MembershipConfig> = Object.freeze({
  profile: "lan",
  probeIntervalMs: 400,
  probeTimeoutMs: 200,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMinMs: 1000,
  suspicionMaxMult: 2,
  unreachableSuspicionMs: 300,
  retransmitMult: 4,
  gossipIntervalMs: 100,
  gossipNodes: 3,
  gossipEagerMs: 5,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  rejoinIntervalMs: 2_000,
  joinTimeoutMs: 3_000,
  leaveTimeoutMs: 3_000,
  awarenessMax: 8,
  tombstoneMs: 60_000,
  maxPiggybackBytes: 8192,
  maxQueuedBroadcasts: 8192,
});

/** Same shape as lan, everything about 2.5x faster. For tests and one host. */
export const localConfig: Readonly<MembershipConfig> = Object.freeze({
  ...lanConfig,
  profile: "local",
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  suspicionMinMs: 500,
  unreachableSuspicionMs: 150,
  gossipIntervalMs: 50,
  gossipToTheDeadMs: 10_000,
  pushPullIntervalMs: 10_000,
  rejoinIntervalMs: 3_000,
  joinTimeoutMs: 1_000,
  leaveTimeoutMs: 1_000,
  tombstoneMs: 20_000,
});

/** memberlist DefaultWANConfig numbers (plus roomy's additions). */
export const wanConfig: Readonly<MembershipConfig> = Object.freeze({
  ...lanConfig,
  profile: "wan",
  probeIntervalMs: 5_000,
  probeTimeoutMs: 3_000,
  suspicionMult: 6,
  suspicionMinMs: 6 * 5_000,
  suspicionMaxMult: 6,
  unreachableSuspicionMs: 3_000,
  gossipIntervalMs: 500,
  gossipNodes: 4,
  gossipEagerMs: 20,
  gossipToTheDeadMs: 60_000,
  pushPullIntervalMs: 60_000,
  rejoinIntervalMs: 30_000,
  joinTimeoutMs: 10_000,
  leaveTimeoutMs: 10_000,
  tombstoneMs: 300_000,
});

export const profiles = { lan: lanConfig, local: localConfig, wan: wanConfig } as const;
export type ProfileName = keyof typeof profiles;

/** A profile (default lan) with some fields overridden. */
export function makeConfig(
  overrides: Partial<MembershipConfig> = {},
  base: ProfileName | Readonly<MembershipConfig> = "lan",
): MembershipConfig {
  const b = typeof base === "string" ? profiles[base] : base;
  return { ...b, ...overrides };
}

/** How many times each broadcast is sent, for a cluster of `n` live members. */
export function retransmitLimit(cfg: MembershipConfig, n: number): number {
  return cfg.retransmitMult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}

export interface SuspicionBounds {
  minMs: number;
  maxMs: number;
  /** Independent confirmations that bring the timeout down to minMs. */
  k: number;
}

/** Lifeguard suspicion timeout bounds for a cluster of `n` live members. */
export function suspicionBounds(cfg: MembershipConfig, n: number): SuspicionBounds {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  const minMs = Math.round(cfg.suspicionMinMs * scale);
  let k = cfg.suspicionMult - 2;
  // Fewer possible confirmers than expected: go straight to the minimum.
  if (n - 2 < k) k = 0;
  return { minMs, maxMs: Math.round(minMs * Math.max(1, cfg.suspicionMaxMult)), k: Math.max(0, k) };
}

/** memberlist's push-pull scaling: past 32 nodes, slow down logarithmically. */
export function pushPullInterval(cfg: MembershipConfig, n: number): number {
  if (n <= 32) return cfg.pushPullIntervalMs;
  const mult = Math.ceil(Math.log2(n) - Math.log2(32)) + 1;
  return cfg.pushPullIntervalMs * mult;
}

/**
 * A bound, with high probability, on the time from a crash to every survivor
 * holding the node dead: the first probe of it (each of n-1 members probes it
 * once per cycle of n-1 rounds; we allow the 99.9th percentile of the
 * earliest), that probe's round, the unconfirmed suspicion timeout, and a few
 * gossip rounds for the verdict to spread.
 */
export function detectionBoundMs(cfg: MembershipConfig, n: number): number {
  const others = Math.max(1, n - 1);
  const cycle = others * cfg.probeIntervalMs;
  // P(no probe by t) = (1 - t/cycle)^others; solve for 0.001.
  const firstProbe = cycle * (1 - Math.pow(0.001, 1 / others));
  const spread = cfg.gossipIntervalMs * (2 + Math.ceil(Math.log2(Math.max(2, n))));
  return Math.ceil(firstProbe + cfg.probeIntervalMs + suspicionBounds(cfg, n).maxMs + spread);
}
