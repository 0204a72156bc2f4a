/**
 * The cluster registry: named processes placed by rendezvous hashing over
 * the holders of the committed configuration, reached from any node, moved
 * with their state when the configuration changes, served under the epoch's
 * serving rights and a quorum lease. The pieces:
 *
 *   holders.ts     the committed configuration (generation, epoch, holders)
 *   owners.ts      who owns a name under it (local compute, no lookups)
 *   serving.ts     this node's serving rights per epoch: fence, catch up, serve
 *   lease.ts       serve only while a majority at the same epoch was heard
 *   processes.ts   this node's processes and how a call reaches them
 *   process-record.ts  a name's record: starting | running | leaving
 *   lifecycle.ts   every transition of those records
 *   handoff.ts     reliable delivery of handed-off state
 *   calls.ts       calls in flight and dedup of wire copies
 *   call-wire.ts   a call on its way to its node, an answer on its way back
 *   swept.ts       previous owners' word that they handed everything over
 *   caught-up.ts   whether a majority of the holders caught up for an epoch
 *   presync.ts     outside the configuration: pull the holders' data first
 *   barriers.ts    the read and write barriers, a call's clock reading
 *   drain.ts       what a draining node waits for before it leaves
 *   groups.ts      groups in the replicated map
 *   factories.ts   which factory builds a process (longest prefix)
 *
 * This file wires them to the transport, the membership and the API.
 */
import { RoomyError } from "../../core/errors.ts";
import { Hlc } from "../../core/crdt/hlc.ts";
import { type Address, type Message, silentLogger, type Timer } from "../types.ts";
import { createCallTable, LEFT_GRACE_MS } from "./calls.ts";
import { createCallWire } from "./call-wire.ts";
import { receiveCall } from "./inbound-call.ts";
import { StalledCalls } from "./stalled-calls.ts";
import { type HolderView, majorityCaughtUp } from "./caught-up.ts";
import { EARLY_FAILED, EARLY_OK, EARLY_WAITING } from "./process-record.ts";
import { createGroups } from "./groups.ts";
import { createHandoffSender, type HandoffSender } from "./handoff.ts";
import { createQuorumLease } from "./lease.ts";
import { errorFromWire, type HandoffMsg, parseMessage, unavailable } from "./messages.ts";
import { SweptMarks, sweptAnswer } from "./swept.ts";
import {
  type ClusterRegistry,
  type ClusterRegistryConfig,
  type ClusterRegistryOptions,
  type ClusterRegistryStats,
  DEFAULT_CLUSTER_REGISTRY_CONFIG,
} from "./config.ts";
import { createOwners } from "./owners.ts";
import { type Inbound, ProcessTable } from "./processes.ts";
import type { CallOptions } from "./types.ts";
import { createFactories } from "./factories.ts";
import { ServingRights } from "./serving.ts";
import { Presync } from "./presync.ts";
import type { Holder } from "./holders.ts";
import { createBarriers } from "./barriers.ts";
import { awaitDrained } from "./drain.ts";

export type { ClusterRegistry, ClusterRegistryConfig, ClusterRegistryOptions, ClusterRegistryStats } from "./config.ts";
export { DEFAULT_CLUSTER_REGISTRY_CONFIG } from "./config.ts";

export { CLOCK_SKEW_ALLOWANCE_MS } from "./inbound-call.ts";

export function createClusterRegistry(opts: ClusterRegistryOptions): ClusterRegistry {
  const { self, membership, transport, replicator, clock, random } = opts;
  const logger = opts.logger ?? silentLogger;
  const config: ClusterRegistryConfig = { ...DEFAULT_CLUSTER_REGISTRY_CONFIG, ...opts.config };
  const local: Address = transport.local;
  const hlc = opts.hlc ?? new Hlc(`${membership.self().id}/reg`);
  const factories = createFactories();
  const counters = { callsLocal: 0, callsRemote: 0, forwards: 0, handoffsOut: 0, handoffsIn: 0, conflicts: 0, expiredDropped: 0 };
  let malformed = 0;
  let draining = false;
  let drainPromise: Promise<void> | undefined;
  let stopped = false;
  const timers: Timer[] = [];

  const owners = createOwners(self, membership);
  const selfId = membership.self().id;
  // Handoff ids are remembered longer than any caller waits (call copies: dedupe.ts).
  const calls = createCallTable(clock, 2 * config.callTimeoutMs + 1000);
  /** Peers that said they are draining (their member id then: a restart clears it). */
  const drainingPeers = new Map<string, string>();
  const catchUpFrom = (p: readonly string[], need: number, ms: number) => replicator.catchUpFrom(p, need, ms);
  const presync = new Presync({
    clock, logger, catchUpFrom, retryMs: config.retryMs, timeoutMs: config.catchUpTimeoutMs, done: () => lease.pingNow(),
    peers: () => owners.peers().map((p) => p.name),
    holder: () => serving !== undefined && serving.state.kind !== "outside",
    leaving: () => draining,
  });
  // The lease and the serving rights read each other's state lazily.
  let serving: ServingRights | undefined;
  const lease = createQuorumLease({
    self,
    transport,
    clock,
    leaseMs: config.leaseMs,
    peers: () => owners.peers(),
    holders: () => owners.holders(),
    stamp: () => serving?.stamp() ?? { g: 0, e: 0 },
    fenceStamp: () => {
      const s = serving?.stamp() ?? { g: 0, e: 0 };
      return { g: s.g, e: Math.max(s.e, serving?.heardEpoch() ?? 0, replicator.fence()) };
    },
    draining: () => draining,
    served: () => serving?.servedEpoch() ?? -1,
    synced: () => presync.synced,
    selfId,
    idOf: owners.idOf,
    onDrainFlag: (n, i, dr) => {
      const id = i ?? owners.idOf(n);
      // A process that drains never stops: one saying it does not was taken for another (a mark to undo).
      if (id !== undefined && dr) drainingPeers.set(n, id);
      else if (id !== undefined && drainingPeers.get(n) === id) drainingPeers.delete(n);
    },
  });
  const rights = new ServingRights({
    self: { name: self, id: selfId },
    clock,
    transport,
    logger,
    owners,
    lease,
    replicator,
    retryMs: config.retryMs,
    catchUpTimeoutMs: config.catchUpTimeoutMs,
    leaseMs: config.leaseMs,
    isolated: opts.isolated,
  });
  serving = rights;
  const barriers = createBarriers({ self: { name: self, id: selfId }, config: () => rights.state.cfg, idOf: owners.idOf, replicator, hlc, clock, timeoutMs: config.callTimeoutMs });
  /** Previous owners that said they handed over everything, at which stamp. */
  const sweptMarks = new SweptMarks(() => rights.stamp());
  const isSwept = (node: string): boolean => sweptMarks.isSwept(node);
  // The table and the sender call each other: the table reads it lazily.
  let handoffs: HandoffSender;
  const wire = createCallWire({ local, transport, calls, owners, clock, logger, counted: () => counters.callsRemote++, reading: barriers.reading });
  const stalled = new StalledCalls(clock, opts.behind ?? (() => false));
  const table = new ProcessTable({
    self,
    clock,
    random,
    logger,
    owners,
    lease,
    mayServe: (name) => rights.mayServe(name),
    configured: () => owners.config() !== null,
    swept: isSwept,
    askSwept(node: string): void {
      const addr = owners.addressOf(node);
      const s = rights.stamp();
      if (addr !== undefined) transport.send(addr, { t: "sq", g: s.g, e: s.e });
    },
    handoffs: () => handoffs,
    factoryFor: factories.factoryFor,
    refusalFor: factories.refusalFor,
    send: wire.send,
    respond: wire.respond,
    fail: wire.fail,
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
    acked: (hid, name) => table.acked(hid, name),
    reclaim: (hid, name, state) => table.reclaim(hid, name, state),
  });
  rights.onChange(() => {
    if (!stopped) table.sweep();
  });
  const inbound = {
    calls, wire, stalled, vouchOf: barriers.vouchOf, route: (inb: Inbound, now: number) => table.route(inb, now), now: () => clock.now(),
    clockCorrection: (origin: Address) => membership.clockCorrection?.(origin) ?? 0,
    expired: () => void counters.expiredDropped++,
  };

  function onMessage(from: Address, raw: Message): void {
    if (stopped) return;
    const m = parseMessage(raw);
    if (m === null) {
      malformed++;
      return;
    }
    switch (m.t) {
      case "c":
      case "s":
        return receiveCall(from, m, inbound);
      case "x":
        return stalled.cancel(from, m.id);
      case "mv":
        return calls.moved(m.id, m.to, m.h);
      case "r":
        if (m.e !== undefined) calls.reject(m.id, errorFromWire(m.e));
        else calls.resolve(m.id, m.v);
        return;
      case "fq":
        return rights.onFenceQuery(from, m);
      case "fr":
        return rights.onFenceReply(from, m);
      case "sq": {
        const asker = owners.nameOf(from);
        if (asker === undefined) return;
        // A process that never served runs nothing of anyone's (counted only then: a walk of every record).
        const empty = rights.servedEpoch() < 0 && table.counts().running === 0;
        const reply = sweptAnswer(rights.stamp(), m, table.leavingCount(), handoffs.inFlightTo(asker), empty);
        if (reply !== null) transport.send(from, reply);
        return;
      }
      case "sw": {
        const n = owners.nameOf(from);
        if (n !== undefined && sweptMarks.record(n, m)) table.swept(n);
        return;
      }
      case "ho":
        return onHandoff(from, m);
      case "hk":
        return handoffs.onAck(m);
      case "lp":
        return lease.onPing(from, m);
      case "lk":
        return lease.onPong(m);
    }
  }

  function onHandoff(from: Address, m: HandoffMsg): void {
    transport.send(from, { t: "hk", hid: m.hid });
    if (!calls.firstHandoff(m.hid, clock.now())) return;
    counters.handoffsIn++;
    table.receive(m.n, m.f === true ? undefined : m.s, owners.nameOf(from));
  }

  transport.onMessage(onMessage);
  const unsubscribe = membership.subscribe((ev) => {
    if (stopped) return;
    owners.refresh();
    const n = ev.member.name;
    if (drainingPeers.has(n) && drainingPeers.get(n) !== owners.idOf(n)) drainingPeers.delete(n);
    if ((ev.type === "up" || ev.type === "alive") && n !== self) lease.pingNow(ev.member.address);
    // A node that left (drained) runs nothing more: its calls fail soon (those it
    // sent on first are the new holder's: calls.ts moved). One declared dead may
    // only be slow (a stall): it could still run them, so they keep their
    // deadline; answering `unavailable` earlier would let a retry run first and
    // the old call land after it.
    if (ev.type === "left") calls.failSentToLater(n, unavailable(`node ${n} left before answering; retry`), LEFT_GRACE_MS);
    lease.recompute();
    handoffs.recheck();
    // A call held for an owner that was down (or unknown) may go now.
    table.releaseHeld();
  });
  const unsubscribeConfig = opts.configs.subscribe((c) => {
    if (!stopped) rights.onConfig(c);
  });
  const initial = opts.configs.current();
  if (initial !== null) rights.onConfig(initial);
  const housekeeping = (): void => {
    if (stopped) return;
    calls.expire(clock.now());
    timers[0] = clock.setTimer(1000, housekeeping);
  };
  timers[0] = clock.setTimer(1000, housekeeping);

  function call<R>(name: string, msg: unknown, callOpts?: CallOptions): Promise<R> {
    if (stopped) return Promise.reject(unavailable("registry stopped"));
    const timeoutMs = callOpts?.timeoutMs ?? config.callTimeoutMs;
    const id = calls.newId();
    const now = clock.now();
    const end = now + timeoutMs;
    const inb: Inbound = { id, origin: local, reply: true, name, msg, hops: 0, deadline: end, expires: end, fresh: true, early: EARLY_WAITING, answer: undefined, sentTo: undefined };
    table.route(inb, now);
    // An idle local process usually answers inside route(): then no pending
    // entry, promise executor or timeout slot is needed for the call.
    const early = inb.early;
    inb.early = undefined;
    if (early === EARLY_OK) return Promise.resolve(inb.answer as R);
    if (early === EARLY_FAILED) return Promise.reject(inb.answer);
    const p = calls.open(id, name, timeoutMs, now);
    if (inb.sentTo !== undefined) {
      calls.sentTo(id, inb.sentTo);
      const left = callOpts?.left;
      // Its caller's client leaving is told to where the call went (stalled-calls.ts).
      if (left !== undefined) {
        const tell = (): void => {
          const to = calls.sentToOf(id);
          if (to !== undefined) wire.cancel(id, to);
        };
        if (left.aborted) tell();
        else {
          left.addEventListener("abort", tell, { once: true });
          const off = (): void => left.removeEventListener("abort", tell);
          p.then(off, off);
        }
      }
    }
    return p as Promise<R>;
  }

  function cast(name: string, msg: unknown): void {
    if (stopped) return;
    const id = calls.newId();
    const now = clock.now();
    const deadline = now + config.callTimeoutMs;
    table.route({ id, origin: local, reply: false, name, msg, hops: 0, deadline, expires: deadline, fresh: true }, now);
  }

  const groups = createGroups({ replicator, hlc, clock, call, cast });
  const holderView: HolderView = {
    self,
    selfId,
    isLive: (n) => owners.isLive(n),
    idOf: (n) => owners.idOf(n),
    servedEpoch: () => rights.servedEpoch(),
    servedBy: (n, g) => lease.servedBy(n, g),
  };

  async function drainNow(): Promise<void> {
    draining = true;
    // Tells every peer; the configuration's leader then drops this node, and the sweep hands everything off.
    lease.pingNow();
    try {
      await replicator.flush(config.drainTimeoutMs);
    } catch (err) {
      logger.warn("replication flush during drain failed", { error: String(err) });
    }
    await awaitDrained({
      self, clock, logger, timeoutMs: config.drainTimeoutMs, everyMs: Math.max(1, config.retryMs / 4),
      holders: () => owners.holders(),
      epoch: () => opts.configs.current()?.epoch ?? 0,
      mayTake: (h) => owners.isLive(h) && !drainingPeers.has(h),
      left: () => ({ processes: table.size, inFlight: handoffs.inFlight }),
      endAll: () => table.endAll(),
      stopped: () => stopped,
    });
  }

  return {
    define: factories.define,
    call,
    cast,
    ownerOf: (name) => owners.ownerOf(name) ?? self,
    localNames: () => table.runningNames(),
    join: (g, n) => groups.join(g, n),
    leave: (g, n) => groups.leave(g, n),
    members: (g) => groups.members(g),
    publish: (g, msg) => groups.publish(g, msg),
    multiCall: <R>(g: string, msg: unknown, o?: CallOptions) => groups.multiCall<R>(g, msg, o),
    drain: (): Promise<void> => (drainPromise ??= drainNow()),
    readBarrier: barriers.readBarrier,
    writeBarrier: barriers.writeBarrier,
    authoritative: () => rights.ready() && lease.canServe(),
    ready: () => rights.ready(),
    draining: () => new Set(drainingPeers.keys()),
    isDraining: () => draining,
    synced: (name: string) => lease.syncedBy(name, rights.stamp().g),
    caughtUp: (epoch: number, holders: readonly Holder[], previous?: readonly string[], next?: readonly string[]) =>
      majorityCaughtUp(epoch, holders, rights.stamp().g, holderView, previous, next),
    isServing: (name) => table.serving(name),
    callDeadline: () => table.callDeadline(),
    callVouched: () => barriers.vouched(table.callVouch()),
    stats(): ClusterRegistryStats {
      const c = table.counts();
      return {
        processes: c.running, starting: c.starting, leaving: c.leaving,
        handoffsOut: counters.handoffsOut, handoffsIn: counters.handoffsIn, handoffsInFlight: handoffs.inFlight,
        callsLocal: counters.callsLocal, callsRemote: counters.callsRemote, forwards: counters.forwards, callsPending: calls.openCount,
        conflicts: counters.conflicts, expiredDropped: counters.expiredDropped, malformedDropped: malformed,
        catchUps: rights.counts.catchUps, catchUpFailures: rights.counts.catchUpFailures,
        serving: rights.state.kind, epoch: rights.stamp().e, lease: lease.canServe(),
      };
    },
    stop(): Promise<void> {
      if (stopped) return Promise.resolve();
      stopped = true;
      for (const t of timers) t.cancel();
      unsubscribe();
      unsubscribeConfig();
      groups.stop();
      lease.stop();
      rights.stop();
      presync.stop();
      handoffs.stop();
      stalled.stop();
      const err = new RoomyError("unavailable", "registry stopped");
      table.stopAll(err);
      calls.closeAll(err);
      transport.onMessage(() => {});
      return Promise.resolve();
    },
  };
}
