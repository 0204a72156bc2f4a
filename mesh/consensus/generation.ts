/**
 * Generations. State is in memory only, so when every voter of a
 * configuration has restarted, nothing acknowledged survived anywhere: the
 * cluster starts over as a new generation and says so. A generation is named
 * by the wall time it was started at (`generation`), so it differs after a
 * whole-cluster restart although no node remembers the one before.
 *
 * The rules, each evaluated on a tick:
 *  - No generation, nobody else alive: start one if this node may act alone
 *    (no seeds) and waited `aloneAfterMs` since its start, else wait (a node
 *    whose seeds never answer never acts alone). The wait is for a restarted
 *    first node (`roomy node` without `--join`): the cluster it was in redials
 *    it every rejoin period; without it, it started an empty generation of
 *    its own, split for good (tests/cluster/hostile-first-node-restart).
 *  - No generation, peers alive: if any peer is in a generation, wait to be
 *    added by its leader (that leader adds every live member as a learner).
 *    If every peer said recently that it has none, and they are with this
 *    node a majority of its seeds and itself (and every seed was heard, or
 *    `seedsWaitMs` passed), the peer with the smallest name starts one and the
 *    others join it. The majority: a node that restarted beside another
 *    restarted one knew only that one for a moment (its join's answers lost),
 *    and the two started a generation of their own beside the cluster's.
 *  - In a generation where every voter of its committed configuration is back
 *    under a new id: it has provably ended (WARN); leave it, join or start the next.
 *  - A voter whose committed configuration can never reach a majority again
 *    (too many voters back under new ids: two of three killed and started
 *    again) starts the next generation from its state, or joins the one the
 *    restarted voters are in (generation-over.ts), once that has held for
 *    `overAfterMs`.
 *  - A peer reports a generation recovered from ours (`roomy recover
 *    --force` on some node): ours was ended knowingly; leave it and join that one.
 *
 * Sides: a node in no generation picks the one it will join (the one it left
 * for, else the oldest around when it first hears of one, kept while that one
 * is around: its seeds may reach two clusters, and data it took in for one must
 * never reach the other) and says so in its hellos; data flows only between
 * nodes on the same side (`sides`, generation-view.ts).
 */
import type { Member } from "../membership/types.ts";
import type { Address, Message } from "../types.ts";
import type { RaftCore } from "./raft.ts";
import type { GenerationInfo, GenerationOptions, PeerReport } from "./generation-types.ts";
import { generationOver, restartedVoter } from "./generation-over.ts";
import { compareIds } from "../membership/identity.ts";
import { SharedSettings } from "./shared-settings.ts";

export type { GenerationInfo, GenerationOptions } from "./generation-types.ts";

export class GenerationKeeper {
  #o: GenerationOptions;
  #info: GenerationInfo | null = null;
  #peers = new Map<string, PeerReport>();
  #lastHello = -Infinity;
  #splitWarned = new Set<number>();
  #shared: SharedSettings;
  /** The last "recover" verdict may keep the whole log (generation-over.ts Over.tail). */
  #recoverTail = false;
  /** When this node joined the generation it is in (adopted from a leader). */
  #adoptedAt = -Infinity;
  /** Since when, and how, the generation has looked provably over (generation-over.ts). */
  #over: { since: number; key: string } | null = null;
  /** The generation this node left for (known when it left knowingly), else 0. */
  #joining = 0;
  /** In no generation: the one it chose to join (0: none yet), and the names heard in it. */
  #target = 0;
  #targetNames = new Set<string>();
  /** Generations this node left: never joined again. */
  #ended = new Set<number>();
  /** The side said in the last hello (a change is said at once). */
  #said = -1;
  #twoWarned = "";

  /** When this keeper was made (the node's start). */
  readonly #startedAt: number;

  constructor(o: GenerationOptions) {
    this.#o = o;
    this.#shared = new SharedSettings(o.shared, o.logger);
    this.#startedAt = o.clock.now();
    // A new member hears our side at once: nothing crosses to it until it has.
    o.membership.subscribe((ev) => {
      if (ev.type === "up" && ev.member.id !== o.self.id) o.send(ev.member.address, this.#hello());
    });
  }

  #hello(): Message {
    const a = this.#info === null ? 0 : (this.#o.applied?.() ?? 0);
    const last = this.#info === null ? null : (this.#o.lastLog?.() ?? null);
    const m: Message = { t: "hello", f: this.#o.self.id, n: this.#o.self.name, g: this.#info?.generation ?? 0, r: this.#info?.recoveredFrom ?? 0, rl: 1, a, j: this.#info === null ? this.#side() : 0 };
    if (last !== null) {
      m["lt"] = last.term;
      m["li"] = last.index;
    }
    if (this.#o.shared !== undefined) m["sh"] = this.#o.shared;
    return m;
  }

  /** This node's side: its generation, or the one it will join (0: none yet). */
  #side(): number {
    if (this.#info !== null) return this.#info.generation;
    const now = this.#o.clock.now();
    const live = new Set(this.#o.membership.live().map((m) => m.id));
    const around = new Set<number>();
    /** generations a live member last said it is in, however long ago (a pause is not a departure) */
    const alive = new Set<number>();
    const ended = new Set(this.#ended);
    for (const [id, r] of this.#peers) {
      if (!live.has(id)) continue;
      if (r.generation !== 0) alive.add(r.generation);
      if (now - r.at > this.#helloMs() * 4) continue;
      if (r.generation !== 0) around.add(r.generation);
      if (r.recoveredFrom !== 0) ended.add(r.recoveredFrom);
    }
    const choices = [...around].filter((g) => !ended.has(g)).sort((a, b) => a - b);
    // Kept while a live member is in it: data taken in for one generation must never be carried to another.
    if (this.#target === 0 || !alive.has(this.#target) || ended.has(this.#target)) {
      const gone = this.#target;
      this.#target = this.#joining !== 0 && choices.includes(this.#joining) ? this.#joining : (choices[0] ?? 0);
      if (gone !== 0 && gone !== this.#target) this.#targetLeft(gone, alive.has(gone) || ended.has(gone));
    }
    if (choices.length > 1 && this.#twoWarned !== choices.join()) {
      this.#twoWarned = choices.join();
      this.#o.logger.error("consensus: this node's peers are in more than one generation (two clusters meet through its seeds); it keeps to the one it chose, the others stay apart: give each node seeds of its own cluster only", { generations: choices, chose: this.#target });
    }
    return this.#target;
  }

  /**
   * The generation this node meant to join is no longer its choice. If no
   * live member is in it any more and every name heard in it is live again
   * (under a new process: nobody merely out of reach), every process of it
   * restarted before this node was added: all its voters' memory, the lot's
   * log, is gone. Said once (an operator rolled kill -9 over five nodes
   * 0.3 s apart, each restarted at once: the lot came back empty with no
   * word; the map's replicas, caught up by each new process, were kept).
   */
  #targetLeft(gone: number, stillAround: boolean): void {
    const names = this.#targetNames;
    this.#targetNames = new Set();
    if (stillAround || names.size === 0) return;
    const live = new Set(this.#o.membership.live().map((m) => m.name));
    if (![...names].every((n) => live.has(n))) return;
    this.#o.logger.warn("consensus: every voter of this generation restarted before this node was added to it: nothing its log acknowledged survived (the lot starts empty); the rooms and people, replicated to every node, are kept", {
      generation: gone, members: [...names].sort(),
    });
    this.#o.onLost?.(gone);
  }

  /**
   * Whether a process is on this node's side: in its generation, or both
   * headed for the same one (or none yet); unknown until its first hello.
   * This node's side is worked out once for all the ids asked of the
   * returned function (a view's refresh asks of every member).
   */
  sides(): (id: string) => boolean {
    const mine = this.#side();
    return (id) => {
      const r = this.#peers.get(id);
      return r !== undefined && (r.generation !== 0 ? r.generation : r.joining) === mine;
    };
  }

  /** Whether this node may start a generation with nobody else alive now. */
  #mayStartAlone(now: number): boolean {
    return this.#o.mayBootstrapAlone() && now - this.#startedAt >= (this.#o.aloneAfterMs ?? 0);
  }

  /** A seed unheard while this node's first wait for every seed runs (seedsWaitMs). Deciding on a partial view, two nodes of a cold start each saw another majority ({a1, a3}, {a2, a3}), each the smallest name of its own: both started a generation, one cluster in two for good (unknown_room for the other's rooms). */
  #seedsUnheard(peers: number, now: number): boolean {
    return peers < (this.#o.seedCount?.() ?? 0) && now - this.#startedAt < (this.#o.seedsWaitMs ?? 0);
  }

  /** Whether this node and `peers` others (all saying they have no generation) are a majority of its seeds and itself. */
  #seedMajority(peers: number): boolean {
    const seeds = this.#o.seedCount?.() ?? 0;
    return 1 + peers >= Math.floor((seeds + 1) / 2) + 1;
  }

  info(): GenerationInfo | null {
    return this.#info;
  }

  #helloMs(): number {
    return this.#o.helloMs ?? 500;
  }

  /** What to do now: start a generation, leave an ended one, or nothing. */
  tick(core: Pick<RaftCore, "committedConfig" | "leader"> | null): "bootstrap" | "ended" | "recover" | null {
    const now = this.#o.clock.now();
    const peers = this.#o.membership.live().filter((m) => m.id !== this.#o.self.id);
    const side = this.#side();
    if (now - this.#lastHello >= this.#helloMs() || this.#said !== side) {
      this.#lastHello = now;
      this.#said = side;
      const msg = this.#hello();
      for (const p of peers) this.#o.send(p.address, msg);
    }
    const what = this.#rules(core, now, peers);
    this.#o.onSides?.();
    return what;
  }

  #rules(core: Pick<RaftCore, "committedConfig" | "leader"> | null, now: number, peers: Member[]): "bootstrap" | "ended" | "recover" | null {
    const fresh = (r: PeerReport | undefined): r is PeerReport => r !== undefined && now - r.at <= this.#helloMs() * 4;
    if (this.#info === null) {
      if (peers.length === 0) return this.#mayStartAlone(now) ? "bootstrap" : null;
      const reports = peers.map((p) => this.#peers.get(p.id));
      if (!reports.every(fresh)) return null;
      if (reports.some((r) => r!.generation !== 0)) return null;
      if (!this.#seedMajority(peers.length)) return null;
      if (this.#seedsUnheard(peers.length, now)) return null;
      const smallest = [this.#o.self.name, ...peers.map((p) => p.name)].sort()[0];
      return smallest === this.#o.self.name ? "bootstrap" : null;
    }
    const mine = this.#info.generation;
    for (const r of this.#peers.values()) {
      if (!fresh(r) || r.recoveredFrom !== mine) continue;
      this.#o.logger.warn("consensus: generation ended knowingly: a peer recovered a new one from it", { generation: mine, by: r.name, next: r.generation });
      return this.#leave(r.generation);
    }
    for (const r of this.#peers.values()) {
      // Peers still in the generation this one was recovered from are about to follow it: no split.
      if (!fresh(r) || r.generation === this.#info.recoveredFrom) continue;
      if (r.generation !== 0 && r.generation !== mine && !this.#splitWarned.has(r.generation)) {
        this.#splitWarned.add(r.generation);
        this.#o.logger.error("consensus: another generation is alive beside ours (two clusters meet: started apart, or a node given seeds of both); each keeps its own nodes and data apart; to make one cluster, restart the nodes of one with seeds of the other only (what they hold is dropped)", { ours: mine, theirs: r.generation, peer: r.name });
      }
    }
    // Not only when leaderless: a learner never campaigns, so it may believe
    // in a leader that restarted; a voter never finds every voter restarted
    // (itself is not).
    if (core !== null) {
      const config = core.committedConfig();
      const voters = config.voters;
      const live = this.#o.membership.live();
      // A learner still replaying the log holds an early configuration as
      // committed (its voters long restarted). Not judged in its first
      // moments in the generation (no leader's append yet), nor while a live
      // leader of it feeds this node: that leader, alive under its id and
      // saying it is in our generation, shows the generation has not ended.
      if (now - this.#adoptedAt < this.#helloMs() * 4) return null;
      const over = this.#judgeOver(config, now, fresh);
      if (over !== null) return over;
      const leader = core.leader();
      if (leader !== null && leader !== this.#o.self.id && live.some((m) => m.id === leader)) {
        const said = this.#peers.get(leader);
        if (fresh(said) && said.generation === mine) return null;
      }
      if (voters.length > 0 && voters.every((v) => restartedVoter(v, this.#o.self.id, live))) {
        this.#o.logger.warn("consensus: every voter of this generation restarted: nothing acknowledged survived; leaving it for a new one", {
          generation: mine, voters: voters.map((v) => `${v.name}/${v.id}`), live: live.map((m) => `${m.name}/${m.id}`),
        });
        return this.#leave(0);
      }
    }
    return null;
  }

  /** "recover" or "ended" once the generation has looked provably over the same way for overAfterMs (generation-over.ts). */
  #judgeOver(config: ReturnType<RaftCore["committedConfig"]>, now: number, fresh: (r: PeerReport | undefined) => r is PeerReport): "recover" | "ended" | null {
    const v = generationOver({
      self: this.#o.self, config, live: this.#o.membership.live(), generation: this.#info!.generation, applied: this.#o.applied?.() ?? 0,
      last: this.#o.lastLog?.() ?? undefined,
      report: (id) => {
        const r = this.#peers.get(id);
        return fresh(r) ? { generation: r.generation, applied: r.applied, ...(r.last === undefined ? {} : { last: r.last }) } : undefined;
      },
    });
    if (v === null || v.kind === "wait") {
      this.#over = null;
      return null;
    }
    const key = v.kind === "join" ? `join ${v.generation}` : "recover";
    if (this.#over?.key !== key) this.#over = { since: now, key };
    if (now - this.#over.since < (this.#o.overAfterMs ?? this.#helloMs() * 4)) return null;
    this.#over = null;
    const fields = { generation: this.#info!.generation, voters: config.voters.map((s) => `${s.name}/${s.id}`) };
    if (v.kind === "join") {
      this.#o.logger.warn("consensus: most voters of this generation restarted, into another generation; leaving ours to join theirs", { ...fields, theirs: v.generation });
      return this.#leave(v.generation);
    }
    this.#o.logger.warn("consensus: most voters of this generation restarted: it can never commit again; starting the next one from this node's state", { ...fields, wholeLog: v.tail === true });
    this.#recoverTail = v.tail === true;
    return "recover";
  }

  /** Leaves this node's generation for good, for `joining` (0: whichever comes). */
  #leave(joining: number): "ended" {
    this.#ended.add(this.#info!.generation);
    this.#joining = joining;
    this.#target = 0;
    this.#info = null;
    return "ended";
  }

  bootstrap(): GenerationInfo {
    this.#info = { generation: Math.floor(this.#o.clock.now()), bootstrap: true, recoveredFrom: 0 };
    this.#o.logger.warn("consensus: starting a new generation", { generation: this.#info.generation });
    return this.#info;
  }

  /** `byOperator`: `roomy recover --force`; else this node found its generation provably over (#judgeOver). */
  recover(byOperator = true): GenerationInfo {
    const from = this.#info?.generation ?? 0;
    this.#info = { generation: Math.max(Math.floor(this.#o.clock.now()), from + 1), bootstrap: true, recoveredFrom: from };
    if (byOperator) this.#o.logger.warn("consensus: generation ended by the operator; starting a new one from this node's state", { ended: from, generation: this.#info.generation });
    return this.#info;
  }

  /** A leader of `generation` added this node: joined only if that is the side it chose (a leader across a cluster boundary is not followed). */
  mayAdopt(generation: number): boolean {
    return this.#info === null && this.#side() === generation;
  }

  adopt(generation: number): GenerationInfo {
    this.#adoptedAt = this.#o.clock.now();
    this.#info = { generation, bootstrap: false, recoveredFrom: 0 };
    return this.#info;
  }

  onHello(from: Address, msg: Message): void {
    const f = msg["f"];
    const n = msg["n"];
    const g = msg["g"];
    const r = msg["r"];
    if (typeof f !== "string" || typeof n !== "string" || typeof g !== "number" || typeof r !== "number") return;
    const a = msg["a"];
    const j = msg["j"];
    const was = this.#peers.get(f);
    const joining = typeof j === "number" ? j : 0;
    // A new process under that name: its earlier ones' reports go (a node restarted often would pile them up);
    // a later one's stay (an earlier process still running, superseded or woken from a pause, says its own).
    if (was === undefined) for (const [id, p] of this.#peers) if (p.name === n && compareIds(id, f) < 0) this.#peers.delete(id);
    this.#shared.heard(n, f, msg["sh"]);
    const lt = msg["lt"];
    const li = msg["li"];
    const last = typeof lt === "number" && typeof li === "number" ? { term: lt, index: li } : undefined;
    if (g !== 0 && g === this.#target && this.#info === null) this.#targetNames.add(n);
    this.#peers.set(f, { name: n, generation: g, recoveredFrom: r, applied: typeof a === "number" ? a : 0, ...(last === undefined ? {} : { last }), at: this.#o.clock.now(), relays: msg["rl"] === 1, joining });
    if (was === undefined) this.#o.send(from, this.#hello()); // it hears our side as soon as we hear its own
    if (was === undefined || was.generation !== g || was.joining !== joining || was.recoveredFrom !== r) this.#o.onSides?.();
  }

  /** Whether the recovery just judged may keep this node's whole log (generation-over.ts Over.tail). */
  recoversTail(): boolean {
    return this.#recoverTail;
  }

  /** Whether process `id` said in its hello that it takes relayed proposals and reads (relay.ts). */
  takesRelays(id: string): boolean {
    return this.#peers.get(id)?.relays === true;
  }

  waitingReason(): string {
    const peers = this.#o.membership.live().filter((m) => m.id !== this.#o.self.id);
    if (peers.length === 0) {
      if (!this.#o.mayBootstrapAlone()) {
        const trouble = this.#o.seedTrouble?.() ?? null;
        return `no peer reachable yet (seeds not answering${trouble === null ? "" : `; ${trouble}`})`;
      }
      return this.#mayStartAlone(this.#o.clock.now()) ? "starting" : "waiting for a cluster this node may have been in to find it";
    }
    const side = this.#side();
    if (side !== 0) return `waiting to be added to generation ${side}`;
    const seeds = this.#o.seedCount?.() ?? 0;
    if (!this.#seedMajority(peers.length)) {
      return `waiting for a majority of this node's ${seeds} seeds and itself to be here before starting a generation (${1 + peers.length} of ${seeds + 1})`;
    }
    if (this.#seedsUnheard(peers.length, this.#o.clock.now())) return `waiting a moment to hear from every one of this node's ${seeds} seeds before starting a generation (${peers.length} of ${seeds})`;
    return "waiting for peers to agree on a new generation";
  }
}
