/**
 * Drives the pure Raft core (raft.ts) with the injected clock, random source
 * and transport: ticks, delivery, proposals and reads with deadlines,
 * applying committed commands to a state machine, compaction, configuration
 * changes from membership (reconfigure.ts), and generations (generation.ts).
 *
 * Proposals from any node: a follower forwards the command to the leader;
 * every node applies every entry, and the node that proposed answers its
 * caller when it applies the entry carrying its (id, seq). A proposal that
 * outlives its deadline answers `unavailable`: it may or may not have taken
 * effect (a client retries; the lot's commands are idempotent where that
 * matters: parking a parked car is a no-op). With no leader and too few voters alive it is
 * refused at once (status.ts refusedAtOnce). One the leader cannot answer here (only their link cut) goes to a peer that relays it (relay.ts).
 */
import { RoomyError } from "../../core/errors.ts";
import type { Message, Timer } from "../types.ts";
import { AppliedTable, applyTail } from "./applied-table.ts";
import { describe, logAvailability, refusedAtOnce, whyNoLeader } from "./status.ts";
import { type GenerationInfo, GenerationKeeper } from "./generation.ts";
import { parseNotice } from "./config-notice.ts";
import { ConfigChanges } from "./config-changes.ts";
import { parseRaftMsg } from "./messages.ts";
import { defaultRaftOptions, RaftCore } from "./raft.ts";
import { type Configuration, ENTRY_COMMAND, type Server, type ServerId } from "./types.ts";
import { isRelayMsg, Relay, type RelayEntry } from "./relay.ts";
import { ReadWaits } from "./read-waits.ts";
import { ProposalWaits } from "./proposal-waits.ts";
export type { ConsensusOptions, ConsensusStats, ConsensusStatus, StateMachine } from "./driver-types.ts";
import type { ConsensusOptions, ConsensusStats, ConsensusStatus } from "./driver-types.ts";

const unavailable = (why: string): RoomyError => new RoomyError("unavailable", `consensus: ${why}`);

export class Consensus {
  readonly self: Server;
  readonly stats: ConsensusStats = { leaderChanges: 0, generationsStarted: 0, generationsEnded: 0, proposals: 0, proposalsFailed: 0, proposalsRelayed: 0, readsRelayed: 0, relayedForOthers: 0 };
  core: RaftCore | null = null;
  applied = 0;
  #o: ConsensusOptions;
  #gen: GenerationKeeper;
  #pending: ProposalWaits;
  #reads = new ReadWaits((ctx) => this.core?.readIndex(ctx));
  #relay: Relay;
  #timer: Timer | null = null;
  #flushPending = false;
  #lastLeader: ServerId | null = null;
  #knownLeader: ServerId | null = null; // the last leader this node knew (kept when it loses it): a relay's last choice
  #configListeners = new Set<(c: Configuration) => void>();
  #lastEpoch = 0;
  #lastGeneration = 0;
  #changes: ConfigChanges;
  #stopped = false;
  #lastWhy: string | null = null;
  #applied = new AppliedTable();

  constructor(o: ConsensusOptions) {
    this.#o = o;
    this.self = o.self;
    this.#pending = new ProposalWaits(o.self.id, (entry) => this.#forward(entry));
    const alone = typeof o.mayBootstrapAlone === "function" ? o.mayBootstrapAlone : (): boolean => o.mayBootstrapAlone === true;
    this.#changes = new ConfigChanges(o, o.self, () => this.#resendMs());
    this.#gen = new GenerationKeeper({
      self: o.self,
      membership: o.everyone ?? o.membership,
      onSides: o.onSides, seedTrouble: o.seedTrouble, shared: o.shared, onLost: () => void this.stats.generationsEnded++,
      clock: o.clock,
      logger: o.logger,
      mayBootstrapAlone: alone,
      aloneAfterMs: o.aloneAfterMs,
      ...(o.seedCount !== undefined ? { seedCount: o.seedCount, seedsWaitMs: o.seedsWaitMs } : {}),
      applied: () => this.applied,
      lastLog: () => (this.core === null ? null : { term: this.core.log.lastTerm(), index: this.core.log.lastIndex() }),
      send: (to, msg) => o.transport.send(to, msg),
    });
    this.#relay = new Relay(
      {
        selfId: o.self.id,
        generation: () => this.#gen.info()?.generation ?? null,
        config: () => this.core?.config ?? null,
        knownLeader: () => this.#knownLeader,
        takesRelays: (id) => this.#gen.takesRelays(id),
        leads: () => this.core?.state.role === "leader",
        leaderQuietTicks: () => this.core?.leaderQuietTicks() ?? null,
        tickMs: o.tickMs ?? 50,
        forward: (entry) => this.#forward(entry),
        appliedAlready: (origin, seq) => this.#applied.has(origin, seq),
        queryLocal: (name) => this.#query(name, false),
        address: (id) => this.#address(id),
        send: (address, msg) => void o.transport.send(address, msg),
        clock: o.clock,
        timeoutMs: this.#timeout(),
      },
      this.#pending,
      this.#reads,
      this.stats,
    );
    o.transport.onMessage((from, msg) => this.#receive(from, msg));
    this.#schedule();
    if (alone() && o.membership.live().every((m) => m.id === o.self.id)) this.#onTick(); // a cluster of one leads from the start
  }

  // --- the node's face -------------------------------------------------------
  /** Commit `cmd` and answer its result once this node applied it. */
  submit(cmd: unknown): Promise<unknown> {
    const refused = refusedAtOnce(this.#stopped, this.core, this.#o.membership.live());
    if (refused !== null) return Promise.reject(refused);
    this.stats.proposals++;
    const now = this.#o.clock.now();
    const p = this.#pending.add(cmd, now, now + this.#timeout());
    this.#requestFlush();
    return p;
  }

  /** Resolves when this node's state machine reflects every write committed before the call. */
  read(): Promise<void> {
    return this.#query(null, false) as Promise<void>;
  }

  /** What a read by `name` answers: run on this node's state machine once a read makes it current (here, or on a peer that relays for it). */
  defineQuery(name: string, fn: () => unknown): void {
    this.#reads.define(name, fn);
  }

  /**
   * The answer of query `name` (defineQuery) once this node's state machine
   * reflects every write committed before the call; a node that cannot get
   * there (it cannot reach the leader) has a peer answer it (relay.ts).
   */
  query<T>(name: string): Promise<T> {
    if (!this.#reads.has(name)) return Promise.reject(new RoomyError("internal", `consensus: no query named ${JSON.stringify(name)}`));
    return this.#query(name, true) as Promise<T>;
  }

  #query(name: string | null, mayRelay: boolean): Promise<unknown> {
    const refused = refusedAtOnce(this.#stopped, this.core, this.#o.membership.live());
    if (refused !== null) return Promise.reject(refused);
    if (name !== null && !this.#reads.has(name)) return Promise.reject(unavailable(`no query named ${JSON.stringify(name)} here`));
    const now = this.#o.clock.now();
    const p = this.#reads.add(name, mayRelay, now, now + this.#timeout());
    this.#requestFlush();
    return p;
  }

  status(): ConsensusStatus {
    return describe(this.core, this.#gen.info()?.generation ?? 0, this.applied, this.#whyUnavailable());
  }

  /** The committed configuration (members and epoch); the registry's serving rights rest on it. */
  committedConfig(): Configuration {
    return this.core?.committedConfig() ?? { epoch: 0, voters: [], learners: [] };
  }

  onConfig(fn: (c: Configuration) => void): () => void {
    this.#configListeners.add(fn);
    return () => this.#configListeners.delete(fn);
  }

  generation = (): GenerationInfo | null => this.#gen.info();

  /** Whether a process is on this node's side of generations, for one moment (generation.ts): the data layers see only those (generation-view.ts). */
  sides = (): ((id: string) => boolean) => this.#gen.sides();

  /** End this generation knowingly: start a new one from this node's state (`tail`: its whole log; roomy recover --force: what it applied). */
  recover(byOperator = true, tail = false): GenerationInfo {
    this.#flush();
    if (tail && this.core !== null) this.applied = applyTail(this.#applied, this.core.log, this.applied, this.#o.machine);
    const data = this.#applied.snapshot(this.#o.machine);
    const info = this.#gen.recover(byOperator);
    this.#startCore(info, data);
    return info;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    const core = this.core;
    if (core !== null && core.state.role === "leader") {
      // Hand over so the others need not wait out an election timeout.
      core.handOver();
      this.#flush();
    }
    this.#stopped = true;
    this.#timer?.cancel();
    this.#pending.rejectAll(unavailable("node stopping"));
    this.#reads.rejectAll(unavailable("node stopping"));
    await this.#o.transport.close();
  }

  // --- internals ------------------------------------------------------------

  #resendMs(): number {
    return (this.#o.tickMs ?? 50) * (this.#o.electionTicks ?? defaultRaftOptions.electionTicks);
  }

  #timeout = (): number => this.#o.timeoutMs ?? 3000;

  #whyUnavailable(): string | null {
    return this.core === null ? this.#gen.waitingReason() : whyNoLeader(this.core, this.#o.membership.live());
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimer(this.#o.tickMs ?? 50, () => {
      this.#onTick();
      this.#schedule();
    });
  }

  #requestFlush(): void {
    if (this.#flushPending || this.#stopped) return;
    this.#flushPending = true;
    const run = (): void => {
      this.#flushPending = false;
      this.#flush();
    };
    if (this.#o.defer !== undefined) this.#o.defer(run);
    else this.#o.clock.setTimer(0, run);
  }

  #onTick(): void {
    const adopt = this.#gen.tick(this.core);
    if (adopt === "bootstrap") {
      const info = this.#gen.bootstrap();
      this.#startCore(info, null);
    } else if (adopt === "ended") {
      this.stats.generationsEnded++;
      this.#dropCore("generation ended");
    } else if (adopt === "recover") {
      this.stats.generationsEnded++;
      this.recover(false, this.#gen.recoversTail());
    }
    const core = this.core;
    if (core !== null) {
      core.tick();
      // Another process took this node's name and the members count that one: leading on, this one would never add it.
      if (core.state.role === "leader" && this.#o.membership.supersededBy?.() != null) core.handOver();
      this.#changes.tick(core, this.#gen.info()!.generation);
      this.#logAvailability();
    }
    const now = this.#o.clock.now();
    this.stats.proposalsFailed += this.#pending.tick(
      now,
      this.#resendMs(),
      () => unavailable(this.#whyUnavailable() ?? "no answer in time (the write may or may not have taken effect)"),
      (p, seq, entry) => this.#relay.proposal(p, seq, entry),
    );
    this.#reads.tick(
      now,
      () => unavailable(this.#whyUnavailable() ?? "read not confirmed in time"),
      (r, ctx, name) => this.#relay.read(r, ctx, name),
    );
    this.#relay.tick();
    this.#flush();
  }

  /** The log says why writes cannot be served, once per change of reason (and when they can again). */
  #logAvailability(): void {
    this.#lastWhy = logAvailability(this.#o.logger, this.#lastWhy, this.#whyUnavailable(), () => this.status().leader, this.core?.term ?? 0);
  }

  #startCore(info: GenerationInfo, data: Uint8Array | null): void {
    const core = new RaftCore({ ...defaultRaftOptions, id: this.self.id, random: this.#o.random, electionTicks: this.#o.electionTicks ?? defaultRaftOptions.electionTicks });
    this.#o.machine.reset();
    this.#applied = new AppliedTable();
    this.applied = 0;
    if (info.bootstrap) {
      core.bootstrap({ epoch: 1, voters: [this.self], learners: [] });
      if (data !== null) {
        // a recovered generation starts from this node's state: index 1 is its snapshot
        this.#applied = AppliedTable.restore(data, this.#o.machine);
        core.takeCommitted();
        this.applied = 1;
        core.compact(1, data);
      }
      this.stats.generationsStarted++;
      core.campaignNow();
    }
    this.core = core;
    this.#o.logger.info("consensus: generation", { generation: info.generation, bootstrap: info.bootstrap, recovered: data !== null });
  }

  #dropCore(why: string): void {
    this.core = null;
    this.applied = 0;
    this.#o.machine.reset();
    this.#applied = new AppliedTable();
    this.#pending.rejectAll(unavailable(why));
  }

  /** Propose `entry` as the leader, or forward it to the leader; false with no leader known (or the send refused). */
  #forward(entry: RelayEntry): boolean {
    const core = this.core;
    if (core === null) return false;
    if (core.state.role === "leader") {
      const ok = core.propose(entry, ENTRY_COMMAND) !== null;
      if (ok) this.#requestFlush();
      return ok;
    }
    const leader = core.leader();
    const address = leader === null ? undefined : this.#address(leader);
    if (address === undefined) return false;
    return this.#o.transport.send(address, { t: "fwd", g: this.#gen.info()!.generation, f: this.self.id, o: leader!, e: entry });
  }

  /** Where `id` listens (per outgoing message: no array built on the way). */
  #address(id: ServerId): string | undefined {
    const c = this.core?.config;
    if (c !== undefined) {
      for (const s of c.voters) if (s.id === id) return s.address;
      for (const s of c.learners) if (s.id === id) return s.address;
    }
    return this.#o.membership.live().find((m) => m.id === id)?.address;
  }

  #receive(from: string, msg: Message): void {
    if (this.#stopped) return;
    if (msg.t === "hello") return this.#gen.onHello(from, msg);
    if (msg.t === "cfg") return this.#onNotice(from, msg);
    const g = msg["g"];
    const to = msg["o"];
    const sender = msg["f"];
    if (typeof g !== "number" || typeof to !== "string" || typeof sender !== "string") return this.#malformed(from, msg.t);
    if (to !== this.self.id) return; // for an earlier incarnation of this node: it is gone
    if (this.core === null) {
      if (msg.t !== "raft" || !this.#gen.mayAdopt(g)) return;
      this.#startCore(this.#gen.adopt(g), null);
    }
    if (g !== this.#gen.info()?.generation) return; // another generation's traffic
    const core = this.core!;
    if (msg.t === "raft") {
      const m = parseRaftMsg(msg["m"]);
      if (m === null) return this.#malformed(from, "raft");
      core.step(sender, m);
    } else if (isRelayMsg(msg.t)) {
      if (this.#relay.receive(from, msg) === "malformed") return this.#malformed(from, msg.t);
    } else if (msg.t === "fwd") {
      const e = msg["e"] as { o?: unknown; s?: unknown } | undefined;
      if (typeof e !== "object" || e === null || typeof e.o !== "string" || typeof e.s !== "number") return this.#malformed(from, "fwd");
      core.propose(e, ENTRY_COMMAND); // not the leader any more: the proposer times out
    } else {
      return this.#malformed(from, msg.t);
    }
    this.#requestFlush();
  }

  /** A leader says a committed configuration left this node out (config-notice.ts). */
  #onNotice(from: string, msg: Message): void {
    const n = parseNotice(msg);
    if (n === null) return this.#malformed(from, "cfg");
    if (n.g !== this.#gen.info()?.generation || n.config.epoch <= this.#lastEpoch) return;
    this.#lastEpoch = n.config.epoch;
    for (const fn of this.#configListeners) fn(n.config);
  }

  #malformed(from: string, t: string): void {
    this.#o.logger.warn("consensus: malformed message; closing the connection", { from, t });
    this.#o.onMalformed?.(from);
  }

  #flush(): void {
    const core = this.core;
    if (core === null || this.#stopped) return;
    const snap = core.takeSnapshot();
    if (snap !== null) {
      this.#applied = AppliedTable.restore(snap.data, this.#o.machine);
      this.applied = snap.index;
    }
    for (const e of core.takeCommitted()) {
      this.applied = e.index;
      if (e.kind !== ENTRY_COMMAND) continue;
      const a = this.#applied.applyFirst(e.data, this.#o.machine);
      if (a === null) continue;
      if (a.o === this.self.id) this.#pending.applied(a.s, a.error, a.result);
      else this.#relay.applied(a.o, a.s, a.error, a.result);
    }
    if (this.applied - core.log.snapshotIndex() >= (this.#o.compactEvery ?? 10_000)) {
      core.compact(this.applied, this.#applied.snapshot(this.#o.machine));
    }
    for (const r of core.takeReads()) this.#reads.confirmed(r.ctx, r.index);
    this.#reads.applied(this.applied);
    const g = this.#gen.info()!.generation;
    for (const { to, msg } of core.takeMessages()) {
      const address = this.#address(to);
      if (address !== undefined) this.#o.transport.send(address, { t: "raft", g, f: this.self.id, o: to, m: msg });
    }
    const leader = core.leader();
    if (leader !== this.#lastLeader) {
      this.#lastLeader = leader;
      if (leader !== null) this.#knownLeader = leader;
      this.stats.leaderChanges++;
      this.#o.logger.info(leader === null ? "consensus: no leader known" : "consensus: leader", { leader: this.status().leader, term: core.term });
      if (leader !== null) this.#pending.pushAll(this.#o.clock.now());
    }
    const committed = core.committedConfig();
    if (committed.epoch > this.#lastEpoch || g !== this.#lastGeneration) {
      this.#lastEpoch = committed.epoch;
      this.#lastGeneration = g;
      for (const fn of this.#configListeners) fn(committed);
      this.#changes.noticeOutsiders(core, g);
    }
  }
}
