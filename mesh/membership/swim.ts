/**
 * SWIM + Lifeguard membership: composes the failure detector (probe.ts),
 * dissemination (gossip.ts, broadcast.ts), anti-entropy and joining
 * (pushpull.ts) and the member table with its rules (state.ts, updates.ts)
 * behind the MembershipView the rest of the node consumes.
 *
 * Only the clock, random source and transport given are used, so the same
 * code runs over TCP in production and in the deterministic simulator.
 */
import type { Address, Clock, Logger, Message, Random, Transport } from "../types.ts";
import { silentLogger } from "../types.ts";
import type { HistogramSnapshot } from "../stats/histogram.ts";
import { Awareness } from "./awareness.ts";
import { ClockOffsets } from "./clock-offsets.ts";
import { BroadcastQueue } from "./broadcast.ts";
import { makeConfig, type MembershipConfig, retransmitLimit } from "./config.ts";
import { type Counters, type Ctx, newCounters } from "./context.ts";
import { Gossiper } from "./gossip.ts";
import { isWellFormed, LEFT, type MembershipMsg, updatesOf } from "./messages.ts";
import { Prober } from "./probe.ts";
import { PushPull } from "./pushpull.ts";
import { isLive, MemberTable, type MemberRecord, toMember } from "./state.ts";
import type { Member, MemberEvent, MembershipView } from "./types.ts";
import { Ledger, updateOf } from "./updates.ts";

export interface MembershipOptions {
  /** Stable node name; a restarted node keeps it. */
  name: string;
  /** This process's identity: newMemberId(clock, random) (see identity.ts). */
  id: string;
  /** Advertised mesh address (the transport's local address). */
  address: Address;
  clock: Clock;
  random: Random;
  transport: Transport;
  /** A full config, or overrides of the lan profile. */
  config?: Partial<MembershipConfig>;
  logger?: Logger;
  /**
   * Members known at start, as if learned by a push-pull (the simulator uses
   * it to start large converged clusters without n^2 join traffic).
   */
  initialMembers?: readonly Member[];
}

/** Counters (deaths: members this node declared dead itself) and gauges. */
export interface MembershipStats extends Counters {
  profile: string;
  /** Recent direct probe round trips, ms. */
  rttMs: number[];
  /** Every direct probe round trip since start, seconds. */
  rtt: HistogramSnapshot;
  /** Lifeguard local health score (0 = healthy). */
  awareness: number;
  /** Broadcasts waiting to be piggybacked. */
  queued: number;
  /** The largest gap, either way, between our clock and a live member's, as probes measured it (0 until measured). */
  clockOffsetMaxMs: number;
  members: { alive: number; suspect: number; dead: number; left: number };
}

export interface Membership extends MembershipView {
  readonly config: Readonly<MembershipConfig>;
  /** One member by name, in any state. */
  get(name: string): Member | undefined;
  /**
   * Push-pull with each seed; resolves with how many answered (within
   * config.joinTimeoutMs). Seeds are remembered and retried periodically
   * while they are not alive members (partition healing).
   */
  join(seeds: Address[]): Promise<number>;
  /** Remember seeds for periodic rejoining without contacting them now (discovery). */
  addSeeds(seeds: Address[]): void;
  /** Announce a graceful leave; resolves once spread or after leaveTimeoutMs. */
  leave(): Promise<void>;
  /**
   * For the transport: a connection to `address` was refused (nothing listens
   * there: the process was killed; a paused one still accepts). The member
   * there is suspected with config.unreachableSuspicionMs instead of waiting
   * for its turn to be probed. Do not call it for timeouts or resets of a
   * live connection: those are what probing is for.
   */
  peerUnreachable(address: Address): void;
  /** Stop all timers and ignore further messages. Does not close the transport. */
  stop(): void;
  stats(): MembershipStats;
}

export function createMembership(opts: MembershipOptions): Membership {
  const cfg: MembershipConfig = makeConfig(opts.config ?? {});
  const { clock, random, transport } = opts;
  const log = opts.logger ?? silentLogger;
  const now = clock.now();
  const selfRecord: MemberRecord = {
    name: opts.name,
    id: opts.id,
    address: opts.address,
    state: "alive",
    incarnation: 0,
    since: now,
  };
  const table = new MemberTable(selfRecord);
  for (const m of opts.initialMembers ?? []) {
    if (m.name !== opts.name) table.set({ ...m, since: now });
  }
  const queue = new BroadcastQueue(cfg.maxQueuedBroadcasts);
  const awareness = new Awareness(cfg.awarenessMax);
  const counters: Counters = newCounters();
  const offsets = new ClockOffsets();
  let running = true;
  let leaving = false;
  let seq = 0;
  const subscribers = new Set<(ev: MemberEvent) => void>();

  const ctx: Ctx = {
    cfg,
    clock,
    random,
    log,
    table,
    queue,
    awareness,
    counters,
    offsets,
    running: () => running,
    leaving: () => leaving,
    nextSeq: () => ++seq,
    send(to: Address, msg: Message, onlyIfNews = false): boolean {
      if (!running) return false;
      const b = queue.take(cfg.maxPiggybackBytes, retransmitLimit(cfg, table.liveCount), to);
      if (b.length > 0) msg.b = Array.isArray(msg.b) ? msg.b.concat(b) : b;
      else if (onlyIfNews) return false;
      counters.messagesSent++;
      transport.send(to, msg);
      return true;
    },
  };

  const gossiper = new Gossiper(ctx);
  // The ledger's hooks reach the prober, which needs the ledger: the hooks
  // only run once both exist.
  let prober: Prober;
  const ledger = new Ledger(ctx, {
    emit(ev) {
      offsets.current(ev.member.address, ev.member.id);
      for (const fn of subscribers) {
        try {
          fn(ev);
        } catch (err) {
          log.error("membership: subscriber failed", { error: String(err), event: ev.type });
        }
      }
    },
    onNews: () => gossiper.nudge(),
    onRemoteSuspect: (name) => prober.prioritize(name),
    onNewMember: (name) => prober.add(name),
  });
  const pushpull = new PushPull(ctx, ledger);
  prober = new Prober(ctx, ledger, (address) => pushpull.syncWithStranger(address));

  transport.onMessage((from, msg) => {
    if (!running) return;
    if (!isWellFormed(msg)) {
      log.debug("membership: dropped a malformed message", { from, t: String(msg.t) });
      return;
    }
    counters.messagesReceived++;
    const m: MembershipMsg = msg;
    const ups = updatesOf(m);
    if (ups.length > 0) {
      counters.updatesReceived += ups.length;
      for (const u of ups) ledger.apply(u, true);
    }
    switch (m.t) {
      case "p":
        prober.onPing(from, m);
        break;
      case "a":
        prober.onAck(from, m);
        break;
      case "pr":
        prober.onPingReq(from, m);
        break;
      case "nk":
        prober.onNack(m);
        break;
      case "g":
        counters.gossipReceived++;
        break;
      case "pp":
        pushpull.onMessage(from, m);
        break;
    }
  });

  ledger.announceSelf();
  prober.start();
  gossiper.start();
  pushpull.start();

  // Views are rebuilt only when the table changed (the registry reads live()
  // on every placement); callers get their own array of frozen members.
  let viewVersion = -1;
  let allView: Member[] = [];
  let liveView: Member[] = [];
  const views = (): void => {
    if (viewVersion === table.version) return;
    viewVersion = table.version;
    allView = [];
    for (const r of table.values()) allView.push(toMember(r));
    allView.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    liveView = allView.filter((m) => isLive(m.state));
  };

  let leavePromise: Promise<void> | undefined;

  return {
    config: cfg,
    self: () => toMember(table.self),
    members: () => {
      views();
      return allView.slice();
    },
    live: () => {
      views();
      return liveView.slice();
    },
    get: (name) => {
      const r = table.get(name);
      return r ? toMember(r) : undefined;
    },
    clockCorrection: (address) => offsets.correction(address),
    clockOffset: (address) => offsets.of(address)?.offset,
    supersededBy: () => ledger.supersededBy(),
    supersederGone: () => ledger.supersederGone(),
    subscribe(fn) {
      subscribers.add(fn);
      return () => {
        subscribers.delete(fn);
      };
    },
    join: (seeds) => (running ? pushpull.join(seeds) : Promise.resolve(0)),
    addSeeds: (seeds) => pushpull.addSeeds(seeds),
    leave() {
      if (leavePromise) return leavePromise;
      leaving = true;
      prober.stop();
      const self = table.self;
      table.change(self, "left", self.incarnation, clock.now());
      const others = table.others.length;
      leavePromise = new Promise<void>((resolve) => {
        if (!running || others === 0) {
          resolve();
          return;
        }
        let timer: { cancel(): void } | undefined;
        const finish = (): void => {
          timer?.cancel();
          resolve();
        };
        timer = clock.setTimer(cfg.leaveTimeoutMs, finish);
        queue.enqueue(updateOf(self, LEFT), finish);
        gossiper.round();
      });
      log.info("membership: leaving", { name: self.name });
      return leavePromise;
    },
    peerUnreachable(address) {
      if (running && !leaving) ledger.unreachable(address);
    },
    stop() {
      if (!running) return;
      running = false;
      prober.stop();
      gossiper.stop();
      pushpull.stop();
      ledger.stop();
      queue.clear();
      transport.onMessage(() => {});
    },
    stats(): MembershipStats {
      return {
        profile: cfg.profile,
        ...counters,
        rttMs: prober.rttSamples,
        rtt: prober.rttHistogram,
        awareness: awareness.score,
        queued: queue.size,
        clockOffsetMaxMs: table.others.reduce((most, r) => (isLive(r.state) ? Math.max(most, Math.abs(offsets.of(r.address)?.offset ?? 0)) : most), 0),
        members: {
          alive: table.count("alive"),
          suspect: table.count("suspect"),
          dead: table.count("dead"),
          left: table.count("left"),
        },
      };
    },
  };
}
