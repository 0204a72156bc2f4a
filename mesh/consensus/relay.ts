/**
 * Relays for a node that cannot reach the leader while its peers can: a
 * "bridge", where only the link between it and the leader is cut. Its
 * proposals and reads wait on a leader it cannot hear from, and no election
 * replaces a leader the others still hear (pre-vote, check-quorum), so
 * without a relay they time out for as long as the cut lasts
 * (tests/cluster/hostile-lot-bridge.test.ts).
 *
 * So a proposal or read still unanswered after RELAY_TICKS is handed to a
 * peer, and to the next peer every RELAY_TICKS after that:
 *  - a proposal goes as its own log entry (the same origin and seq), so the
 *    log applies it once however many copies arrive (applied-table.ts). The
 *    peer hands it to its leader; once the peer applies that entry, it sends
 *    the entry's result back, which is the result the asker would have seen.
 *    A peer that had applied the entry before it was asked cannot know the
 *    result and stays silent: the asker answers `unavailable` at its
 *    deadline (may or may not have taken effect), as for any lost answer.
 *  - a read goes by name: the peer makes a read of its own (a ReadIndex,
 *    begun after the asker's read began) and answers with its state
 *    machine's answer, so the read is linearizable as a local one is.
 * A peer relays for others only, never onwards: one hop. A peer with no
 * leader says so at once, and the asker tries the next.
 */
import { ERROR_CODES, type ErrorCode, RoomyError } from "../../core/errors.ts";
import type { Clock, Message } from "../types.ts";
import type { Configuration, ServerId } from "./types.ts";

/**
 * Ticks of silence from the leader (two heartbeats missed) after which this
 * node's waiting proposals and reads go to a peer; and ticks between peers.
 */
export const RELAY_TICKS = 4;
/**
 * Ticks a proposal or read may wait, while the leader is heard from, before
 * it goes to a peer all the same (this node's messages to the leader may be
 * lost one way): the driver's resend interval on the lan profile. Before
 * that the leader itself answers slowness, and a relay would only add load.
 */
export const SLOW_TICKS = 10;
/** Relayed entries a node waits to apply for others, at most (the oldest go first). */
const MAX_RELAYED = 4096;

/** A log entry as the driver proposes it: origin, seq, the origin's lowest pending seq, the command. */
export interface RelayEntry {
  o: string;
  s: number;
  l: number;
  c: unknown;
}

export interface RelayHost {
  selfId: ServerId;
  generation(): number | null;
  /** This node's configuration (null: none yet): its voters and learners may be asked. */
  config(): Configuration | null;
  /** The leader this node last knew, which it cannot reach: never asked. */
  knownLeader(): ServerId | null;
  /** Whether process `id` said it takes relays (a node from before them closes the connection on one). */
  takesRelays(id: ServerId): boolean;
  /** Whether this node leads (it has nobody to hand its own proposals and reads to). */
  leads(): boolean;
  /** Ticks since this node last heard from its leader (0 when it leads; null with no leader known, as neither leader nor follower of one). */
  leaderQuietTicks(): number | null;
  /** the driver's tick (RELAY_TICKS of them) */
  tickMs: number;
  /** Hand `entry` to the log: propose it as the leader, or forward it to the leader; false with no leader known (or the send refused). */
  forward(entry: RelayEntry): boolean;
  /** Whether the log applied entry (origin, seq) already here. */
  appliedAlready(origin: string, seq: number): boolean;
  /** A read of this node's own, by name, never relayed. */
  queryLocal(name: string): Promise<unknown>;
  address(id: ServerId): string | undefined;
  send(address: string, msg: Message): void;
  clock: Clock;
  timeoutMs: number;
}

/** What the asker keeps per proposal or read it may relay. */
export interface Relayable {
  /** when it began */
  at: number;
  /** when it was last relayed (0: never) */
  relayedAt: number;
  /** how many peers were asked */
  relays: number;
}

export interface Settles {
  settle(id: number, out: RelayOutcome): void;
}

export type RelayOutcome = { ok: true; value: unknown } | { ok: false; error: RoomyError };

export interface RelayStats {
  proposalsRelayed: number;
  readsRelayed: number;
  /** entries or reads this node relayed for others */
  relayedForOthers: number;
}

const RELAY_TYPES = new Set(["rp", "ra", "rq", "rv"]);

export function isRelayMsg(t: unknown): boolean {
  return typeof t === "string" && RELAY_TYPES.has(t);
}

function errorToWire(err: unknown): [string, string] {
  return err instanceof RoomyError ? [err.code, err.message] : ["internal", String(err)];
}

function outcomeFromWire(m: Message): RelayOutcome | null {
  const err = m["err"];
  if (Array.isArray(err)) {
    const [code, message] = err as unknown[];
    if (typeof code !== "string" || typeof message !== "string") return null;
    const known = (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : "internal";
    return { ok: false, error: new RoomyError(known, message) };
  }
  const v = m["v"];
  if (typeof v !== "string") return null;
  try {
    // JSON text, not the transport's own encoding: a state machine's answer
    // may hold any key a client chose (a plate "__proto__"), and JSON.parse
    // keeps such keys as plain data.
    return { ok: true, value: JSON.parse(v) as unknown };
  } catch {
    return null;
  }
}

export class Relay {
  /** entries this node handed on for others, by origin:seq: who to answer once applied */
  #forOthers = new Map<string, { address: string; origin: string; at: number }>();

  /** `proposals` and `reads`: where this node's own waiting proposals (by seq) and reads (by ctx) take a peer's answer. */
  constructor(
    private readonly h: RelayHost,
    private readonly proposals: Settles,
    private readonly reads: Settles,
    /** counted into (the driver's ConsensusStats) */
    private readonly stats: RelayStats,
  ) {}

  /**
   * Whether `x`, unanswered, goes to a peer now: never from a leader, and
   * RELAY_TICKS after it last went; a tick after it began when the leader
   * has been silent RELAY_TICKS or none is known (cut off, or an election
   * on), else only once it waited SLOW_TICKS.
   */
  #due(x: Relayable): boolean {
    const tick = this.h.tickMs;
    const now = this.h.clock.now();
    if (now - x.relayedAt < RELAY_TICKS * tick || this.h.leads()) return false;
    const quiet = this.h.leaderQuietTicks();
    return now - x.at >= (quiet === null || quiet >= RELAY_TICKS ? 1 : SLOW_TICKS) * tick;
  }

  /** This node's proposal `seq`, unanswered: to the next peer, if due (`entry` makes its log entry). */
  proposal(x: Relayable, seq: number, entry: () => RelayEntry): void {
    if (this.#due(x) && this.#to(x, seq, { t: "rp", e: entry() })) this.stats.proposalsRelayed++;
  }

  /** This node's read `ctx` (query `name`), unanswered: to the next peer, if due. */
  read(x: Relayable, ctx: number, name: string): void {
    if (this.#due(x) && this.#to(x, ctx, { t: "rq", r: ctx, q: name })) this.stats.readsRelayed++;
  }

  /** Voters and learners that take relays, neither this node nor the leader it last knew. */
  #candidates(): ServerId[] {
    const c = this.h.config();
    const out: ServerId[] = [];
    if (c === null) return out;
    const leader = this.h.knownLeader();
    for (const s of [...c.voters, ...c.learners]) if (s.id !== this.h.selfId && s.id !== leader && this.h.takesRelays(s.id)) out.push(s.id);
    return out;
  }

  /** To the next peer in turn, from one that depends on `id` (a peer that cannot help is not the first for every proposal); whether it went. */
  #to(x: Relayable, id: number, body: Message): boolean {
    const g = this.h.generation();
    const peers = this.#candidates();
    if (g === null || peers.length === 0) return false;
    const to = peers[(id + x.relays) % peers.length]!;
    x.relays++;
    x.relayedAt = this.h.clock.now();
    const address = this.h.address(to);
    if (address === undefined) return false;
    this.h.send(address, { ...body, g, f: this.h.selfId, o: to });
    return true;
  }

  /** The log applied entry (origin, seq) here, for another node: answer it if this node relayed it. */
  applied(origin: string, seq: number, error: unknown, result: unknown): void {
    if (this.#forOthers.size === 0) return;
    const key = origin + ":" + seq;
    const w = this.#forOthers.get(key);
    if (w === undefined) return;
    this.#forOthers.delete(key);
    this.#answer(w.address, w.origin, { t: "ra", s: seq }, error, result);
  }

  /** Forget relayed entries past the timeout (their askers gave up); the map is in the order they came. */
  tick(): void {
    if (this.#forOthers.size === 0) return;
    const old = this.h.clock.now() - this.h.timeoutMs;
    for (const [k, w] of this.#forOthers) {
      if (w.at >= old) break;
      this.#forOthers.delete(k);
    }
  }

  /** A relay message, checked by the driver for its generation and addressee. */
  receive(from: string, m: Message): "ok" | "malformed" {
    const sender = m["f"] as string;
    switch (m.t) {
      case "rp": {
        const e = m["e"] as Partial<RelayEntry> | undefined;
        if (typeof e !== "object" || e === null || e.o !== sender || !Number.isSafeInteger(e.s) || !Number.isSafeInteger(e.l ?? 0)) return "malformed";
        const entry = { o: e.o, s: e.s!, l: e.l ?? 0, c: e.c };
        if (this.h.appliedAlready(entry.o, entry.s)) return "ok"; // its result is not known here: silence
        if (!this.h.forward(entry)) {
          this.#answer(from, sender, { t: "ra", s: entry.s }, new RoomyError("unavailable", "consensus: the relaying node knows no leader either"), null);
          return "ok";
        }
        this.stats.relayedForOthers++;
        const key = entry.o + ":" + entry.s;
        this.#forOthers.delete(key);
        this.#forOthers.set(key, { address: from, origin: sender, at: this.h.clock.now() });
        if (this.#forOthers.size > MAX_RELAYED) this.#forOthers.delete(this.#forOthers.keys().next().value!);
        return "ok";
      }
      case "rq": {
        const r = m["r"];
        const q = m["q"];
        if (!Number.isSafeInteger(r) || typeof q !== "string") return "malformed";
        const head = { t: "rv", r: r as number };
        if (this.h.leaderQuietTicks() === null) {
          this.#answer(from, sender, head, new RoomyError("unavailable", "consensus: the relaying node knows no leader either"), null);
          return "ok";
        }
        this.stats.relayedForOthers++;
        this.h.queryLocal(q).then(
          (v) => this.#answer(from, sender, head, null, v),
          (err: unknown) => this.#answer(from, sender, head, err, null),
        );
        return "ok";
      }
      case "ra":
      case "rv": {
        const id = m.t === "ra" ? m["s"] : m["r"];
        const out = outcomeFromWire(m);
        if (!Number.isSafeInteger(id) || out === null) return "malformed";
        (m.t === "ra" ? this.proposals : this.reads).settle(id as number, out);
        return "ok";
      }
      default:
        return "malformed";
    }
  }

  #answer(address: string, to: string, head: Message, error: unknown, value: unknown): void {
    const g = this.h.generation();
    if (g === null) return;
    let body: Message | { err: [string, string] } | { v: string };
    try {
      body = error !== null ? { err: errorToWire(error) } : { v: JSON.stringify(value ?? null) };
    } catch (err) {
      // A result JSON cannot carry (a BigInt, a cycle): the asker learns that much, and the apply loop this runs in goes on.
      body = { err: ["internal", `consensus: the relayed result could not be sent: ${String(err)}`] };
    }
    this.h.send(address, { ...head, ...body, g, f: this.h.selfId, o: to });
  }
}
