/**
 * The cluster registry: named processes placed by rendezvous hashing over
 * the live members, reached from any node, moved with their state when the
 * membership changes, served only under a quorum lease. The pieces:
 *
 *   owners.ts      who owns a name (local compute, no lookup messages)
 *   processes.ts   this node's processes: activation, mailbox, handoff
 *   activation.ts  "is anyone running this?" before starting a name fresh
 *   catchup.ts     one replica pull before newly owned names serve
 *   handoff.ts     reliable delivery of handed-off state
 *   lease.ts       serve only while a majority was heard within leaseMs
 *   calls.ts       calls in flight and dedup of wire copies
 *   groups.ts      groups in the replicated map
 *
 * This file wires them to the transport, the membership and the API.
 */
import { RoomyError } from "../../core/errors.ts";
import { Hlc } from "../../core/hlc.ts";
import type { MembershipView } from "../membership/types.ts";
import type { Replicator } from "../replication/types.ts";
import type { Address, Clock, Logger, Message, Random, Timer, Transport } from "../types.ts";
import { silentLogger } from "../types.ts";
import { createActivationQueries } from "./activation.ts";
import { createCallTable } from "./calls.ts";
import { createCatchUpGate } from "./catchup.ts";
import { createGroups } from "./groups.ts";
import { createHandoffSender, type HandoffSender } from "./handoff.ts";
import { createQuorumLease } from "./lease.ts";
import { DEFAULT_MAILBOX_LIMIT } from "./mailbox.ts";
import {
  asRoomyError,
  errorFromWire,
  errorToWire,
  parseMessage,
  unavailable,
  type CallMsg,
  type CastMsg,
  type HandoffMsg,
  type QueryReplyMsg,
  type ReplyMsg,
} from "./messages.ts";
import { createOwners } from "./owners.ts";
import { type Inbound, ProcessTable } from "./processes.ts";
import type { CallOptions, ProcessFactory, Registry, RegistryStats } from "./types.ts";

export interface ClusterRegistryConfig {
  /** Default timeout of call and multiCall; past it the caller gets `unavailable`. */
  callTimeoutMs: number;
  /** Forwards a call may take before it is answered `unavailable`. */
  maxHops: number;
  /** Serve only while a majority was heard within this; keep it below the time to declare a node dead. */
  leaseMs: number;
  /** A name being started gives up (calls answered `unavailable`) after this; also the catch-up bound. */
  activationTimeoutMs: number;
  /** Calls a mailbox (or a starting process) holds before refusing with `unavailable`. */
  mailboxLimit: number;
  /** Retry period of activation queries and handoff retransmits. */
  retryMs: number;
  /** An activation query round unanswered this long counts as "busy" (asked again). */
  queryTimeoutMs: number;
  /** drain() waits at most this long for handoffs to be acknowledged. */
  drainTimeoutMs: number;
}

export const DEFAULT_CLUSTER_REGISTRY_CONFIG: ClusterRegistryConfig = {
  callTimeoutMs: 5000,
  maxHops: 3,
  leaseMs: 1500,
  activationTimeoutMs: 5000,
  mailboxLimit: DEFAULT_MAILBOX_LIMIT,
  retryMs: 100,
  queryTimeoutMs: 1000,
  drainTimeoutMs: 10_000,
};

export interface ClusterRegistryOptions {
  /** This node's name (as in the membership). */
  self: string;
  membership: MembershipView;
  /** A channel of its own (e.g. mux(t).channel("reg")). */
  transport: Transport;
  replicator: Replicator & { catchUp(timeoutMs?: number): Promise<void> };
  clock: Clock;
  random: Random;
  logger?: Logger;
  /** The node's HLC for group writes (default: one of the registry's own). */
  hlc?: Hlc;
  config?: Partial<ClusterRegistryConfig>;
}

export interface ClusterRegistryStats extends RegistryStats {
  activating: number;
  leaving: number;
  handoffsInFlight: number;
  conflicts: number;
  catchUps: number;
  activationQueries: number;
  callsPending: number;
  malformedDropped: number;
  hasLease: boolean;
}

export interface ClusterRegistry extends Registry {
  /** Whether this node holds the quorum lease (may serve) now. */
  hasLease(): boolean;
  /** Whether `name` runs here, is owned here, and this node may serve it now. */
  isServing(name: string): boolean;
  stats(): ClusterRegistryStats;
  /** Stop timers and message handling; local processes stop where they are; open calls fail `unavailable`. */
  stop(): Promise<void>;
}

/** Received-copy window: longer than any caller waits, so a late copy is still caught. */
const MAX_TTL_MS = 600_000;

export function createClusterRegistry(opts: ClusterRegistryOptions): ClusterRegistry {
  const { self, membership, transport, replicator, clock, random } = opts;
  const logger = opts.logger ?? silentLogger;
  const config: ClusterRegistryConfig = { ...DEFAULT_CLUSTER_REGISTRY_CONFIG, ...opts.config };
  const local: Address = transport.local;
  const hlc = opts.hlc ?? new Hlc(`${membership.self().id}/reg`);
  const factories: { prefix: string; factory: ProcessFactory }[] = [];
  const counters = { callsLocal: 0, callsRemote: 0, forwards: 0, handoffsOut: 0, handoffsIn: 0, conflicts: 0 };
  let malformed = 0;
  let draining = false;
  let drainPromise: Promise<void> | undefined;
  let stopped = false;
  const timers: Timer[] = [];

  const owners = createOwners(self, membership);
  const calls = createCallTable(clock, random);
  const seenWindowMs = 2 * config.callTimeoutMs + 1000;
  const lease = createQuorumLease({
    self,
    transport,
    clock,
    leaseMs: config.leaseMs,
    peers: () => owners.peers(),
    voters: () => owners.voters(),
    draining: () => draining,
  });
  const queries = createActivationQueries({
    transport,
    clock,
    voters: () => owners.voterPeers(),
    isLive: (n) => owners.isLive(n),
    nameOf: (a) => owners.nameOf(a),
    selfVouches: (n) => lease.vouches(n),
    timeoutMs: config.queryTimeoutMs,
  });
  const gate = createCatchUpGate(() => replicator.catchUp(config.activationTimeoutMs));
  // The table and the sender call each other: the table reads it lazily.
  let handoffs: HandoffSender;
  const table = new ProcessTable({
    self,
    clock,
    random,
    logger,
    owners,
    lease,
    queries,
    gate,
    handoffs: () => handoffs,
    factoryFor,
    send: sendCall,
    respond,
    fail,
    config: {
      maxHops: config.maxHops,
      mailboxLimit: config.mailboxLimit,
      activationTimeoutMs: config.activationTimeoutMs,
      retryMs: config.retryMs,
      leaseMs: config.leaseMs,
    },
    counters,
  });
  handoffs = createHandoffSender({
    self,
    transport,
    clock,
    random,
    owners,
    retryMs: Math.max(config.retryMs * 2, 1),
    draining: () => draining,
    acked: (hid, name) => table.acked(hid, name),
    reclaim: (hid, name, state) => table.reclaim(hid, name, state),
  });

  function factoryFor(name: string): ProcessFactory | undefined {
    // Longest prefix wins, as in the local registry.
    let best: { prefix: string; factory: ProcessFactory } | undefined;
    for (const f of factories) {
      if (name.startsWith(f.prefix) && (best === undefined || f.prefix.length > best.prefix.length)) best = f;
    }
    return best?.factory;
  }

  function respond(inb: Inbound, value: unknown): void {
    if (inb.origin === "") return;
    if (inb.origin === local) return calls.resolve(inb.id, value);
    const msg: ReplyMsg = { t: "reply", id: inb.id, v: value };
    transport.send(inb.origin, msg);
  }

  function fail(inb: Inbound, err: unknown): void {
    if (inb.origin === "") {
      logger.debug("cast not delivered", { process: inb.name, error: String(err) });
      return;
    }
    if (inb.origin === local) return calls.reject(inb.id, asRoomyError(err));
    const msg: ReplyMsg = { t: "reply", id: inb.id, e: errorToWire(err) };
    transport.send(inb.origin, msg);
  }

  /** Put `inb` on the wire to node `to` (hop accounting done by the table). */
  function sendCall(inb: Inbound, to: string): void {
    const addr = owners.addressOf(to);
    const ttl = inb.deadline - clock.now();
    if (addr === undefined) return fail(inb, unavailable(`no address for node ${to}; retry`));
    if (ttl <= 0) return fail(inb, unavailable(`${inb.name}: the caller gave up`));
    if (inb.hops === 0) counters.callsRemote++;
    const ok =
      inb.origin === ""
        ? transport.send(addr, { t: "cast", id: inb.id, n: inb.name, m: inb.msg, h: inb.hops } satisfies CastMsg)
        : transport.send(addr, {
            t: "call",
            id: inb.id,
            o: inb.origin,
            n: inb.name,
            m: inb.msg,
            h: inb.hops,
            ttl,
          } satisfies CallMsg);
    if (!ok) fail(inb, unavailable(`node ${to} is unreachable; retry`));
  }

  function onMessage(from: Address, raw: Message): void {
    if (stopped) return;
    const m = parseMessage(raw);
    if (m === null) {
      malformed++;
      return;
    }
    switch (m.t) {
      case "call":
      case "cast": {
        const origin = m.t === "call" ? m.o : "";
        // The same copy twice (the network duplicated it) runs once; a later hop of it is new.
        if (!calls.firstSight(`${m.t}|${origin}|${m.id}|${m.h}`, seenWindowMs)) return;
        const ttl = m.t === "call" ? Math.min(Math.max(m.ttl, 0), MAX_TTL_MS) : config.callTimeoutMs;
        table.route({ id: m.id, origin, name: m.n, msg: m.m, hops: m.h, deadline: clock.now() + ttl, fresh: false });
        return;
      }
      case "reply":
        if (m.e !== undefined) calls.reject(m.id, errorFromWire(m.e));
        else calls.resolve(m.id, m.v);
        return;
      case "aq": {
        const asker = owners.nameOf(from);
        const reply: QueryReplyMsg = { t: "ar", q: m.q, r: m.n.map((n) => table.answer(n, asker)), v: lease.vouched() };
        transport.send(from, reply);
        return;
      }
      case "ar":
        return queries.onReply(from, m);
      case "ho":
        return onHandoff(from, m);
      case "hk":
        return handoffs.onAck(m);
      case "lp":
        if (m.dr === true) peerDraining(from);
        return lease.onPing(from, m);
      case "lk":
        return lease.onPong(m);
    }
  }

  function onHandoff(from: Address, m: HandoffMsg): void {
    transport.send(from, { t: "hk", hid: m.hid });
    if (!calls.firstSight(`ho|${m.hid}`, seenWindowMs)) return;
    if (m.dr === true) peerDraining(from);
    counters.handoffsIn++;
    table.receive(m.n, m.f === true ? undefined : m.s, owners.nameOf(from));
  }

  function peerDraining(from: Address): void {
    const n = owners.nameOf(from);
    if (n !== undefined && owners.markDraining(n)) placementChanged();
  }

  let sweepQueued = false;
  function placementChanged(): void {
    lease.recompute();
    queries.peersChanged();
    handoffs.recheck();
    // Events come in bursts: one sweep of the local processes per burst.
    if (sweepQueued) return;
    sweepQueued = true;
    queueMicrotask(() => {
      sweepQueued = false;
      if (!stopped) table.sweep();
    });
  }

  transport.onMessage(onMessage);
  const unsubscribe = membership.subscribe((ev) => {
    if (stopped) return;
    owners.refresh();
    if ((ev.type === "up" || ev.type === "alive") && ev.member.name !== self) lease.pingNow(ev.member.address);
    placementChanged();
  });
  const housekeeping = (): void => {
    if (stopped) return;
    calls.expire();
    timers[0] = clock.setTimer(1000, housekeeping);
  };
  timers[0] = clock.setTimer(1000, housekeeping);

  function call<R>(name: string, msg: unknown, callOpts?: CallOptions): Promise<R> {
    if (stopped) return Promise.reject(unavailable("registry stopped"));
    const timeoutMs = callOpts?.timeoutMs ?? config.callTimeoutMs;
    const id = calls.newId();
    const p = calls.open(id, name, timeoutMs);
    table.route({ id, origin: local, name, msg, hops: 0, deadline: clock.now() + timeoutMs, fresh: true });
    return p as Promise<R>;
  }

  function cast(name: string, msg: unknown): void {
    if (stopped) return;
    const id = calls.newId();
    table.route({ id, origin: "", name, msg, hops: 0, deadline: clock.now() + config.callTimeoutMs, fresh: true });
  }

  const groups = createGroups({ replicator, hlc, clock, call, cast });

  async function drainNow(): Promise<void> {
    draining = true;
    owners.drainSelf();
    lease.pingNow(); // tells every peer to place without us
    table.sweep();
    try {
      await replicator.flush(config.drainTimeoutMs);
    } catch (err) {
      logger.warn("replication flush during drain failed", { error: String(err) });
    }
    const deadline = clock.now() + config.drainTimeoutMs;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if ((table.size === 0 && handoffs.inFlight === 0) || stopped || clock.now() >= deadline) {
          if (table.size > 0 || handoffs.inFlight > 0) {
            logger.warn("drain: handoffs not acknowledged in time", { left: table.size, inFlight: handoffs.inFlight });
          }
          resolve();
          return;
        }
        clock.setTimer(Math.max(1, config.retryMs / 4), check);
      };
      check();
    });
  }

  return {
    define(prefix: string, factory: ProcessFactory): void {
      if (prefix === "") throw new RangeError("process prefix must not be empty");
      const i = factories.findIndex((f) => f.prefix === prefix);
      if (i >= 0) factories[i] = { prefix, factory };
      else factories.push({ prefix, factory });
    },
    call,
    cast,
    ownerOf: (name) => owners.ownerOf(name) ?? self,
    localNames: () => table.runningNames(),
    join: (g, n) => groups.join(g, n),
    leave: (g, n) => groups.leave(g, n),
    members: (g) => groups.members(g),
    publish: (g, msg) => groups.publish(g, msg),
    multiCall: <R>(g: string, msg: unknown, o?: CallOptions) => groups.multiCall<R>(g, msg, o),
    drain(): Promise<void> {
      drainPromise ??= drainNow();
      return drainPromise;
    },
    hasLease: () => lease.canServe(),
    isServing: (name) => table.serving(name),
    stats(): ClusterRegistryStats {
      const c = table.counts();
      return {
        processes: c.running,
        handoffsOut: counters.handoffsOut,
        handoffsIn: counters.handoffsIn,
        callsLocal: counters.callsLocal,
        callsRemote: counters.callsRemote,
        forwards: counters.forwards,
        activating: c.activating,
        leaving: c.leaving,
        handoffsInFlight: handoffs.inFlight,
        conflicts: counters.conflicts,
        catchUps: gate.runs,
        activationQueries: queries.rounds,
        callsPending: calls.openCount,
        malformedDropped: malformed,
        hasLease: lease.canServe(),
      };
    },
    stop(): Promise<void> {
      if (stopped) return Promise.resolve();
      stopped = true;
      for (const t of timers) t.cancel();
      unsubscribe();
      groups.stop();
      lease.stop();
      queries.stop();
      handoffs.stop();
      const err = new RoomyError("unavailable", "registry stopped");
      table.stopAll(err);
      calls.closeAll(err);
      transport.onMessage(() => {});
      return Promise.resolve();
    },
  };
}
