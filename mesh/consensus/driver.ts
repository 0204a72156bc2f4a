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
 * matters: parking a parked car is a no-op).
 */
import { RoomyError } from "../../core/errors.ts";
import type { MembershipView } from "../membership/types.ts";
import type { Clock, Logger, Message, Random, Timer, Transport } from "../types.ts";
import { type GenerationInfo, GenerationKeeper } from "./generation.ts";
import { parseRaftMsg } from "./messages.ts";
import { defaultRaftOptions, RaftCore } from "./raft.ts";
import { nextConfiguration } from "./reconfigure.ts";
import { type Configuration, ENTRY_COMMAND, ENTRY_CONFIG, type Server, type ServerId } from "./types.ts";

/** What the log's commands are applied to. Deterministic: same commands, same results. */
export interface StateMachine {
  /** Apply a command; the result goes to its proposer. Throwing a RoomyError refuses it (still applied, as a no-op). */
  apply(cmd: unknown): unknown;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
  /** Back to the empty state (a new generation). */
  reset(): void;
}

export interface ConsensusOptions {
  self: Server;
  clock: Clock;
  random: Random;
  transport: Transport;
  membership: MembershipView;
  logger: Logger;
  machine: StateMachine;
  /** Start a generation alone when nobody else is there (no --join seeds). */
  mayBootstrapAlone: boolean;
  tickMs?: number;
  electionTicks?: number;
  maxVoters?: number;
  compactEvery?: number;
  timeoutMs?: number;
  /** A peer sent a malformed consensus message: drop its connection. */
  onMalformed?: (address: string) => void;
  /** Run soon, after this turn (the runtime's setImmediate); default a 0 ms timer (the simulator's). */
  defer?: (fn: () => void) => void;
}

export interface ConsensusStatus {
  leader: string | null;
  term: number;
  epoch: number;
  generation: number;
  commit: number;
  applied: number;
  voters: string[];
  learners: string[];
  role: string;
  /** Why writes cannot be served now, or null. */
  unavailable: string | null;
}

export interface ConsensusStats {
  leaderChanges: number;
  generationsStarted: number;
  generationsEnded: number;
  proposals: number;
  proposalsFailed: number;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  deadline: number;
  cmd: unknown;
  /** handed to a leader (or appended) already; sent again after RESEND_MS unapplied (the log drops duplicates) */
  sent: boolean;
  sentAt: number;
}

/**
 * Which (origin, seq) commands the log applied, per origin: every seq below
 * `floor` is settled at its proposer (answered or given up), so a copy of one
 * arriving later is dropped; `seen` holds the seqs applied at or above it.
 * It is part of the replicated state (in snapshots): every node drops the same copies.
 */
type Applied = Map<string, { floor: number; seen: Set<number> }>;


const unavailable = (why: string): RoomyError => new RoomyError("unavailable", `consensus: ${why}`);

export class Consensus {
  readonly self: Server;
  readonly stats: ConsensusStats = { leaderChanges: 0, generationsStarted: 0, generationsEnded: 0, proposals: 0, proposalsFailed: 0 };
  core: RaftCore | null = null;
  applied = 0;
  #o: ConsensusOptions;
  #gen: GenerationKeeper;
  #seq = 0;
  #pending = new Map<number, Pending>();
  #reads = new Map<number, { resolve: () => void; reject: (e: unknown) => void; deadline: number; index: number }>();
  #readCtx = 0;
  #timer: Timer | null = null;
  #flushPending = false;
  #lastLeader: ServerId | null = null;
  #configListeners = new Set<(c: Configuration) => void>();
  #lastEpoch = 0;
  #stopped = false;
  #applied: Applied = new Map();

  constructor(o: ConsensusOptions) {
    this.#o = o;
    this.self = o.self;
    this.#gen = new GenerationKeeper({
      self: o.self,
      membership: o.membership,
      clock: o.clock,
      logger: o.logger,
      mayBootstrapAlone: o.mayBootstrapAlone,
      send: (to, msg) => o.transport.send(to, msg),
    });
    o.transport.onMessage((from, msg) => this.#receive(from, msg));
    this.#schedule();
    // Alone with nobody to wait for (a cluster of one): lead from the start, not a tick later.
    if (o.mayBootstrapAlone && o.membership.live().every((m) => m.id === o.self.id)) this.#onTick();
  }

  // --- the node's face -------------------------------------------------------

  /** Commit `cmd` and answer its result once this node applied it. */
  submit(cmd: unknown): Promise<unknown> {
    if (this.#stopped) return Promise.reject(unavailable("node stopping"));
    const seq = ++this.#seq;
    this.stats.proposals++;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject, deadline: this.#o.clock.now() + this.#timeout(), cmd, sent: false, sentAt: 0 });
      this.#pushPending(seq);
      this.#requestFlush();
    });
  }

  /** Resolves when this node's state machine reflects every write committed before the call. */
  read(): Promise<void> {
    if (this.#stopped) return Promise.reject(unavailable("node stopping"));
    const ctx = ++this.#readCtx;
    return new Promise((resolve, reject) => {
      this.#reads.set(ctx, { resolve, reject, deadline: this.#o.clock.now() + this.#timeout(), index: -1 });
      this.core?.readIndex(ctx);
      this.#requestFlush();
    });
  }

  status(): ConsensusStatus {
    const core = this.core;
    const committed = core?.committedConfig() ?? { epoch: 0, voters: [], learners: [] };
    const leaderId = core?.leader() ?? null;
    const leaderName = leaderId === null ? null : [...committed.voters, ...committed.learners, ...(core?.config.voters ?? [])].find((s) => s.id === leaderId)?.name ?? null;
    return {
      leader: leaderName,
      term: core?.term ?? 0,
      epoch: committed.epoch,
      generation: this.#gen.info()?.generation ?? 0,
      commit: core?.commit ?? 0,
      applied: this.applied,
      voters: committed.voters.map((s) => s.name).sort(),
      learners: committed.learners.map((s) => s.name).sort(),
      role: core === null ? "none" : core.state.role,
      unavailable: this.#whyUnavailable(),
    };
  }

  /** The committed configuration (members and epoch); the registry's serving rights rest on it. */
  committedConfig(): Configuration {
    return this.core?.committedConfig() ?? { epoch: 0, voters: [], learners: [] };
  }

  onConfig(fn: (c: Configuration) => void): () => void {
    this.#configListeners.add(fn);
    return () => this.#configListeners.delete(fn);
  }

  generation(): GenerationInfo | null {
    return this.#gen.info();
  }

  /** End this generation knowingly: start a new one from this node's state (roomy recover --force). */
  recover(): GenerationInfo {
    const data = this.#snapshot();
    const info = this.#gen.recover();
    this.#startCore(info, data);
    return info;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    const core = this.core;
    if (core !== null && core.state.role === "leader") {
      // Hand over so the others need not wait out an election timeout.
      for (const v of core.config.voters) if (v.id !== this.self.id && core.transferTo(v.id)) break;
      this.#flush();
    }
    this.#stopped = true;
    this.#timer?.cancel();
    for (const p of this.#pending.values()) p.reject(unavailable("node stopping"));
    for (const r of this.#reads.values()) r.reject(unavailable("node stopping"));
    this.#pending.clear();
    this.#reads.clear();
    await this.#o.transport.close();
  }

  // --- internals ------------------------------------------------------------

  #resendMs(): number {
    return (this.#o.tickMs ?? 50) * (this.#o.electionTicks ?? defaultRaftOptions.electionTicks);
  }

  /** Whether the entry (o, s) is applied for the first time (records it); copies and settled seqs are dropped. */
  #firstCopy(o: string, s: number, l: number): boolean {
    let a = this.#applied.get(o);
    if (a === undefined) this.#applied.set(o, (a = { floor: 0, seen: new Set() }));
    if (l > a.floor) {
      a.floor = l;
      for (const x of a.seen) if (x < l) a.seen.delete(x);
    }
    if (s < a.floor || a.seen.has(s)) return false;
    a.seen.add(s);
    return true;
  }

  /** The machine's snapshot with the applied-commands table: [4-byte length][table JSON][machine bytes]. */
  #snapshot(): Uint8Array {
    const table = new TextEncoder().encode(JSON.stringify([...this.#applied].map(([o, a]) => [o, a.floor, [...a.seen]])));
    const m = this.#o.machine.snapshot();
    const out = new Uint8Array(4 + table.length + m.length);
    new DataView(out.buffer).setUint32(0, table.length);
    out.set(table, 4);
    out.set(m, 4 + table.length);
    return out;
  }

  #restore(data: Uint8Array): void {
    const n = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
    const table = JSON.parse(new TextDecoder().decode(data.subarray(4, 4 + n))) as [string, number, number[]][];
    this.#applied = new Map(table.map(([o, floor, seen]) => [o, { floor, seen: new Set(seen) }]));
    this.#o.machine.restore(data.subarray(4 + n));
  }

  #timeout(): number {
    return this.#o.timeoutMs ?? 3000;
  }

  #whyUnavailable(): string | null {
    const core = this.core;
    if (core === null) return this.#gen.waitingReason();
    if (core.leader() === null) {
      const c = core.committedConfig();
      const live = new Set(this.#o.membership.live().map((m) => m.id));
      const up = c.voters.filter((v) => live.has(v.id)).length;
      if (up < Math.floor(c.voters.length / 2) + 1) return `no majority of voters: ${up} of ${c.voters.length} alive`;
      return "electing a leader";
    }
    return null;
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
    }
    const core = this.core;
    if (core !== null) {
      core.tick();
      this.#reconfigure(core);
    }
    const now = this.#o.clock.now();
    for (const [seq, p] of this.#pending) {
      if (now >= p.deadline) {
        this.#pending.delete(seq);
        this.stats.proposalsFailed++;
        p.reject(unavailable(this.#whyUnavailable() ?? "no answer in time (the write may or may not have taken effect)"));
      } else if (!p.sent || now - p.sentAt >= this.#resendMs()) {
        // a forward lost on the way, or a leader deposed before committing it: send again
        p.sent = false;
        this.#pushPending(seq);
      }
    }
    for (const [ctx, r] of this.#reads) {
      if (now >= r.deadline) {
        this.#reads.delete(ctx);
        r.reject(unavailable(this.#whyUnavailable() ?? "read not confirmed in time"));
      } else if (r.index === -1) {
        core?.readIndex(ctx);
      }
    }
    this.#flush();
  }

  #startCore(info: GenerationInfo, data: Uint8Array | null): void {
    const core = new RaftCore({ ...defaultRaftOptions, id: this.self.id, random: this.#o.random, electionTicks: this.#o.electionTicks ?? defaultRaftOptions.electionTicks });
    this.#o.machine.reset();
    this.#applied = new Map();
    this.applied = 0;
    if (info.bootstrap) {
      core.bootstrap({ epoch: 1, voters: [this.self], learners: [] });
      if (data !== null) {
        // a recovered generation starts from this node's state: index 1 is its snapshot
        this.#restore(data);
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
    this.#applied = new Map();
    for (const p of this.#pending.values()) p.reject(unavailable(why));
    this.#pending.clear();
  }

  #pushPending(seq: number): void {
    const p = this.#pending.get(seq);
    const core = this.core;
    if (p === undefined || core === null || p.sent) return;
    let floor = seq;
    for (const k of this.#pending.keys()) floor = Math.min(floor, k);
    const entry = { o: this.self.id, s: seq, l: floor, c: p.cmd };
    p.sentAt = this.#o.clock.now();
    if (core.state.role === "leader") {
      if (core.propose(entry, ENTRY_COMMAND) !== null) p.sent = true;
      return;
    }
    const leader = core.leader();
    const address = leader === null ? undefined : this.#address(leader);
    if (address === undefined) return;
    p.sent = this.#o.transport.send(address, { t: "fwd", g: this.#gen.info()!.generation, f: this.self.id, o: leader!, e: entry });
  }

  #address(id: ServerId): string | undefined {
    const core = this.core;
    if (core !== null) for (const s of [...core.config.voters, ...core.config.learners]) if (s.id === id) return s.address;
    return this.#o.membership.live().find((m) => m.id === id)?.address;
  }

  #reconfigure(core: RaftCore): void {
    if (!core.canChangeConfig()) return;
    const live = this.#o.membership.live().map((m): Server => ({ id: m.id, name: m.name, address: m.address }));
    const next = nextConfiguration({
      config: core.config,
      self: this.self,
      live,
      match: (id) => core.progressOf(id)?.match ?? 0,
      commit: core.commit,
      maxVoters: this.#o.maxVoters ?? 5,
    });
    if (next === null) return;
    // A configuration takes effect when appended: one whose live voters are
    // no majority of it can never commit, and its leader steps down with a
    // longer log than the others, who then cannot elect anyone (removing a
    // partitioned voter while another voter is gone did exactly that).
    const liveIds = new Set(live.map((s) => s.id));
    if (next.voters.filter((v) => liveIds.has(v.id)).length < Math.floor(next.voters.length / 2) + 1) return;
    if (core.propose(next, ENTRY_CONFIG) !== null) {
      this.#o.logger.info("consensus: configuration change proposed", {
        epoch: next.epoch, voters: next.voters.map((s) => s.name), learners: next.learners.map((s) => s.name),
      });
    }
  }

  #receive(from: string, msg: Message): void {
    if (this.#stopped) return;
    if (msg.t === "hello") return this.#gen.onHello(from, msg);
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
    } else if (msg.t === "fwd") {
      const e = msg["e"] as { o?: unknown; s?: unknown } | undefined;
      if (typeof e !== "object" || e === null || typeof e.o !== "string" || typeof e.s !== "number") return this.#malformed(from, "fwd");
      core.propose(e, ENTRY_COMMAND); // not the leader any more: the proposer times out
    } else {
      return this.#malformed(from, msg.t);
    }
    this.#requestFlush();
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
      this.#restore(snap.data);
      this.applied = snap.index;
    }
    for (const e of core.takeCommitted()) {
      this.applied = e.index;
      if (e.kind !== ENTRY_COMMAND) continue;
      const { o, s, l, c } = e.data as { o: string; s: number; l?: number; c: unknown };
      if (!this.#firstCopy(o, s, l ?? 0)) continue;
      let result: unknown;
      let error: unknown = null;
      try {
        result = this.#o.machine.apply(c);
      } catch (err) {
        error = err;
      }
      if (o !== this.self.id) continue;
      const p = this.#pending.get(s);
      if (p === undefined) continue;
      this.#pending.delete(s);
      if (error !== null) p.reject(error);
      else p.resolve(result);
    }
    if (this.applied - core.log.snapshotIndex() >= (this.#o.compactEvery ?? 10_000)) {
      core.compact(this.applied, this.#snapshot());
    }
    for (const r of core.takeReads()) {
      const w = this.#reads.get(r.ctx);
      if (w !== undefined) w.index = r.index;
    }
    for (const [ctx, w] of this.#reads) {
      if (w.index >= 0 && this.applied >= w.index) {
        this.#reads.delete(ctx);
        w.resolve();
      }
    }
    const g = this.#gen.info()!.generation;
    for (const { to, msg } of core.takeMessages()) {
      const address = this.#address(to);
      if (address !== undefined) this.#o.transport.send(address, { t: "raft", g, f: this.self.id, o: to, m: msg });
    }
    const leader = core.leader();
    if (leader !== this.#lastLeader) {
      this.#lastLeader = leader;
      this.stats.leaderChanges++;
      this.#o.logger.info("consensus: leader", { leader: this.status().leader, term: core.term });
      if (leader !== null) for (const seq of this.#pending.keys()) this.#pushPending(seq);
    }
    const committed = core.committedConfig();
    if (committed.epoch !== this.#lastEpoch) {
      this.#lastEpoch = committed.epoch;
      for (const fn of this.#configListeners) fn(committed);
    }
  }
}
