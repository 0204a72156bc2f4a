/**
 * A deterministic world of Raft cores for the simulator tests: virtual time
 * in 1 ms steps, a network with delay, loss, duplication, reordering and
 * partitions, crashes, restarts (a new id, as a restarted process) and
 * stalls. It plays the driver's part for every node: applies committed
 * entries to a list, proposes client commands and configuration changes
 * (reconfigure.ts, from an oracle of who is alive), compacts the log.
 * `check()` runs every invariant; a failure throws with the seed's story.
 */
import { SeededRandom } from "../../../mesh/sim/random.ts";
import { parseRaftMsg } from "../../../mesh/consensus/messages.ts";
import { RaftCore } from "../../../mesh/consensus/raft.ts";
import { nextConfiguration } from "../../../mesh/consensus/reconfigure.ts";
import { ENTRY_COMMAND, type Server } from "../../../mesh/consensus/types.ts";
import { Decoder } from "cbor-x/decode";
import { Encoder } from "cbor-x/encode";

const cbor = { useRecords: false, mapsAsObjects: true, structuredClone: false, tagUint8Array: false };
const encoder = new Encoder(cbor);
const decoder = new Decoder(cbor);

export const TICK_MS = 10;
const TRACE = process.env["RAFT_TRACE"];

interface SimServer {
  name: string;
  id: string;
  core: RaftCore;
  /** Commands applied, by index (the state machine). */
  applied: Map<number, string>;
  appliedIndex: number;
  stalledUntil: number;
  tickPhase: number;
}

interface InFlight {
  at: number;
  from: string;
  to: string;
  bytes: Uint8Array;
}

export interface WorldOptions {
  nodes: number;
  loss: number;
  duplicate: number;
  reorder: boolean;
  maxVoters: number;
  /** Compact after this many applied entries. */
  compactEvery: number;
  chunkBytes: number;
}

export class RaftWorld {
  readonly rng: SeededRandom;
  now = 0;
  readonly servers = new Map<string, SimServer>();
  readonly story: string[] = [];
  opts: WorldOptions;
  #queue: InFlight[] = [];
  #lastAt = new Map<string, number>();
  #groups: Map<string, number> | null = null;
  #restarts = 0;
  #cmd = 0;
  /** Globally committed commands by index: what every node must apply. */
  readonly committed = new Map<number, string>();
  /** term -> leader id (election safety). */
  readonly leaders = new Map<number, string>();
  /** (voter id, term) -> candidate (one vote per term). */
  readonly votes = new Map<string, string>();
  /** (index, term) -> entry payload (log matching). */
  readonly entries = new Map<string, string>();
  reads = 0;
  readsServed = 0;
  #readFloor = new Map<number, number>();

  constructor(seed: number, opts: Partial<WorldOptions> = {}) {
    this.rng = new SeededRandom(`raft-${seed}`);
    this.opts = { nodes: 5, loss: 0, duplicate: 0, reorder: false, maxVoters: 5, compactEvery: 50, chunkBytes: 64, ...opts };
    const names = Array.from({ length: this.opts.nodes }, (_, i) => `n${i + 1}`);
    const first = this.#start(names[0]!);
    first.core.bootstrap({ epoch: 1, voters: [this.#server(first)], learners: [] });
    for (const n of names.slice(1)) this.#start(n);
  }

  #server(s: SimServer): Server {
    return { id: s.id, name: s.name, address: s.name };
  }

  #start(name: string): SimServer {
    const id = `${name}#${this.#restarts++}`;
    const core = new RaftCore({
      id,
      random: this.rng.fork(id),
      electionTicks: 10,
      heartbeatTicks: 2,
      maxBatch: 8,
      maxInflight: 4,
      chunkBytes: this.opts.chunkBytes,
    });
    const s: SimServer = { name, id, core, applied: new Map(), appliedIndex: 0, stalledUntil: 0, tickPhase: this.rng.int(TICK_MS) };
    this.servers.set(name, s);
    return s;
  }

  byId(id: string): SimServer | undefined {
    for (const s of this.servers.values()) if (s.id === id) return s;
    return undefined;
  }

  alive(): SimServer[] {
    return [...this.servers.values()];
  }

  leader(): SimServer | undefined {
    let best: SimServer | undefined;
    for (const s of this.servers.values()) {
      if (s.core.state.role === "leader" && (best === undefined || s.core.term > best.core.term)) best = s;
    }
    return best;
  }

  // --- faults ---

  crash(name: string): void {
    this.servers.delete(name);
    this.story.push(`${this.now}: crash ${name}`);
  }

  restart(name: string): void {
    const s = this.#start(name);
    this.story.push(`${this.now}: restart ${name} as ${s.id}`);
  }

  partition(groups: string[][]): void {
    this.#groups = new Map();
    groups.forEach((g, i) => g.forEach((n) => this.#groups!.set(n, i)));
    this.story.push(`${this.now}: partition ${groups.map((g) => g.join(",")).join(" | ")}`);
  }

  heal(): void {
    this.#groups = null;
    this.story.push(`${this.now}: heal`);
  }

  stall(name: string, ms: number): void {
    const s = this.servers.get(name);
    if (s !== undefined) s.stalledUntil = this.now + ms;
    this.story.push(`${this.now}: stall ${name} ${ms}ms`);
  }

  #reach(a: string, b: string): boolean {
    return this.#groups === null || this.#groups.get(a) === this.#groups.get(b);
  }

  // --- running ---

  /** Propose a client command through the current leader. */
  propose(): void {
    const l = this.leader();
    if (l === undefined) return;
    const cmd = `c${this.#cmd++}`;
    l.core.propose(cmd, ENTRY_COMMAND);
    this.#flush(l);
  }

  /** Ask a linearizable read on `name`. */
  read(name: string): void {
    const s = this.servers.get(name);
    if (s === undefined) return;
    let floor = 0;
    for (const x of this.servers.values()) floor = Math.max(floor, x.core.commit);
    this.#readFloor.set(++this.reads, floor);
    s.core.readIndex(this.reads);
    this.#flush(s);
  }

  run(ms: number, each?: () => void): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now++;
      this.#deliver();
      for (const s of [...this.servers.values()]) {
        if (s.stalledUntil > this.now) continue;
        if ((this.now + s.tickPhase) % TICK_MS === 0) {
          s.core.tick();
          this.#manage(s);
          this.#flush(s);
        }
      }
      this.check();
      each?.();
    }
  }

  #deliver(): void {
    if (this.#queue.length === 0) return;
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const m of this.#queue) (m.at <= this.now ? due : later).push(m);
    this.#queue = later;
    for (const m of due) {
      const to = this.byId(m.to);
      if (to === undefined || !this.servers.has(to.name)) continue;
      if (to.stalledUntil > this.now) {
        this.#queue.push({ ...m, at: to.stalledUntil });
        continue;
      }
      const msg = parseRaftMsg(decoder.decode(m.bytes));
      if (msg === null) throw new Error(`malformed message from ${m.from}`);
      if (TRACE !== undefined && (m.to === TRACE || m.from === TRACE) && msg.t !== "hb" && msg.t !== "hbr") {
        console.log(this.now, m.from, "->", m.to, JSON.stringify(msg, (k, v) => (k === "chunk" ? v.length : k === "entries" ? v.length : v)));
      }
      to.core.step(m.from, msg);
      this.#flush(to);
    }
  }

  /** Drain a node's outputs: send, apply, record. */
  #flush(s: SimServer): void {
    const core = s.core;
    const snap = core.takeSnapshot();
    if (snap !== null) {
      const image = decoder.decode(snap.data) as [number, string][];
      s.applied = new Map(image);
      s.appliedIndex = snap.index;
      for (const [i, c] of image) this.#commitCheck(s, i, c);
    }
    for (const e of core.takeCommitted()) {
      if (e.index !== s.appliedIndex + 1) throw new Error(`${s.id} applied ${e.index} after ${s.appliedIndex}`);
      s.appliedIndex = e.index;
      if (e.kind === ENTRY_COMMAND) {
        s.applied.set(e.index, e.data as string);
        this.#commitCheck(s, e.index, e.data as string);
      }
    }
    if (s.appliedIndex - core.log.snapshotIndex() >= this.opts.compactEvery) {
      core.compact(s.appliedIndex, encoder.encode([...s.applied]));
    }
    for (const r of core.takeReads()) {
      const floor = this.#readFloor.get(r.ctx);
      this.#readFloor.delete(r.ctx);
      if (r.index < 0 || floor === undefined) continue;
      // ReadIndex safety: whatever was committed anywhere before the read was asked is at or below its index.
      if (r.index < floor) throw new Error(`read ${r.ctx} on ${s.id} at index ${r.index}, but ${floor} was committed before it was asked`);
      this.readsServed++;
    }
    for (const { to, msg } of core.takeMessages()) {
      if (msg.t === "rvr" && !msg.pre && msg.granted) {
        const key = `${s.id}@${msg.term}`;
        const prev = this.votes.get(key);
        if (prev !== undefined && prev !== to) throw new Error(`${s.id} voted twice in term ${msg.term}: ${prev} and ${to}`);
        this.votes.set(key, to);
      }
      const target = this.byId(to);
      if (target === undefined) continue;
      if (!this.#reach(s.name, target.name)) continue;
      if (this.rng.float() < this.opts.loss) continue;
      const bytes = encoder.encode(msg);
      const copies = this.rng.float() < this.opts.duplicate ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        let at = this.now + 1 + this.rng.int(4);
        const pair = `${s.id}>${to}`;
        if (!this.opts.reorder) at = Math.max(at, this.#lastAt.get(pair) ?? 0);
        this.#lastAt.set(pair, at);
        this.#queue.push({ at, from: s.id, to, bytes });
      }
    }
  }

  #commitCheck(s: SimServer, index: number, cmd: string): void {
    const known = this.committed.get(index);
    if (known === undefined) this.committed.set(index, cmd);
    else if (known !== cmd) throw new Error(`${s.id} applied ${cmd} at ${index}; committed there: ${known}`);
  }

  /** The driver's part on a leader: configuration changes from the oracle of who is alive. */
  #manage(s: SimServer): void {
    const core = s.core;
    if (core.state.role !== "leader" || !core.canChangeConfig()) return;
    const next = nextConfiguration({
      config: core.config,
      self: this.#server(s),
      live: this.alive().map((x) => this.#server(x)),
      match: (id) => core.progressOf(id)?.match ?? 0,
      commit: core.commit,
      maxVoters: this.opts.maxVoters,
    });
    if (next !== null) {
      core.propose(next, 2);
      this.story.push(`${this.now}: ${s.id} proposes epoch ${next.epoch}: voters ${next.voters.map((v) => v.id)} learners ${next.learners.map((v) => v.id)}`);
    }
  }

  /** Every invariant, after every step. */
  check(): void {
    for (const s of this.servers.values()) {
      const c = s.core;
      if (c.state.role === "leader") {
        const prev = this.leaders.get(c.term);
        if (prev !== undefined && prev !== s.id) throw new Error(`two leaders in term ${c.term}: ${prev} and ${s.id}`);
        if (prev === undefined) {
          this.leaders.set(c.term, s.id);
          // Leader completeness: every committed entry is in the new leader's log or snapshot.
          for (const [i, cmd] of this.committed) {
            if (i <= c.log.snapshotIndex()) {
              if (s.applied.get(i) !== undefined && s.applied.get(i) !== cmd) throw new Error(`leader ${s.id} snapshot differs at ${i}`);
              continue;
            }
            const e = c.log.entry(i);
            if (e === undefined || e.data !== cmd) throw new Error(`leader ${s.id} of term ${c.term} lacks committed ${cmd} at ${i}`);
          }
        }
      }
      // Log matching: one payload per (index, term).
      const last = c.log.lastIndex();
      for (let i = Math.max(c.log.first(), last - 3); i <= last; i++) {
        const e = c.log.entry(i)!;
        const key = `${i}/${e.term}`;
        const payload = JSON.stringify(e.data);
        const seen = this.entries.get(key);
        if (seen === undefined) this.entries.set(key, payload);
        else if (seen !== payload) throw new Error(`log matching: ${s.id} holds ${payload} at ${key}; another holds ${seen}`);
      }
      if (c.commit > c.log.lastIndex()) throw new Error(`${s.id} commit ${c.commit} beyond its log ${c.log.lastIndex()}`);
      if (c.log.size() > this.opts.compactEvery * 4 + 600) throw new Error(`${s.id} log not compacted: ${c.log.size()} entries`);
    }
  }

  describe(): string {
    return this.story.slice(-40).join("\n");
  }
}

/** For debugging a seed: each node's role, term, ids, commit and configuration. */
export function dump(w: RaftWorld): string {
  return [...w.servers.values()]
    .map((s) => `${s.id} prog ${JSON.stringify([...s.core.config.voters, ...s.core.config.learners].map((v) => [v.id, s.core.progressOf(v.id)]))} snap ${s.core.log.snapshotIndex()} ${s.core.state.role} t${s.core.term} commit ${s.core.commit} last ${s.core.log.lastIndex()} applied ${s.appliedIndex} leader ${s.core.leader()} voters ${s.core.config.voters.map((v) => v.id)} learners ${s.core.config.learners.map((v) => v.id)} epoch ${s.core.config.epoch}`)
    .join("\n");
}
