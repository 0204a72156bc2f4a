/**
 * The simulator's in-memory network, for whole-cluster runs and protocol
 * tests alike. Every message goes through a CBOR round trip (as on the wire:
 * a message CBOR cannot carry fails here too), then is delivered on the
 * receiver's NodeClock after a delay, so a paused process receives its
 * backlog late and a killed one receives nothing.
 *
 * Knobs: loss and duplicate rates, delay bounds, reordering, partitions into
 * groups, directed link blocks, isolation of one address, dropping the next
 * messages of a kind, injected messages, crashes and restarts. All randomness
 * comes from the seeded Random given, so one seed gives one run. With
 * `keepLog`, every message handed to send() is logged and counted by kind,
 * with the number of delta entries it carries (protocol tests count them).
 */
// The pure-JS entries of cbor-x: the package root loads the optional native
// string extractor (cbor-extract), which crashes Bun 1.4 and fails under Deno.
import { Decoder } from "cbor-x/decode";
import { Encoder } from "cbor-x/encode";
import { decodeDelta, deltaFromWire } from "../../core/crdt/lww-codec.ts";
import type { Address, Message, Random, Transport } from "../types.ts";
import type { NodeClock, SimClock } from "./clock.ts";

export interface NetworkOptions {
  /** Probability in [0, 1) that a message is silently dropped. */
  loss: number;
  /** Probability that a delivered message is delivered twice. */
  duplicate: number;
  /** One-way delay bounds, ms; each message draws uniformly between them. */
  delayMinMs: number;
  delayMaxMs: number;
  /**
   * When false (default), messages between one pair arrive in the order sent,
   * like the TCP transport; when true each keeps its own random delay.
   */
  reorder: boolean;
}

export const defaultNetworkOptions: NetworkOptions = {
  loss: 0,
  duplicate: 0,
  delayMinMs: 0.2,
  delayMaxMs: 1,
  reorder: false,
};

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  bytes: number;
}

/** One message handed to send() (logged with `keepLog`). */
export interface Sent {
  from: Address;
  to: Address;
  t: string;
  /** Delta entries it carries (0 for a message without a delta). */
  entries: number;
  msg: Message;
}

// The options of the TCP wire codec (mesh/wire/codec.ts): plain CBOR maps.
const cborOptions = { useRecords: false, mapsAsObjects: true, structuredClone: false, tagUint8Array: false };
const encoder = new Encoder(cborOptions);
const decoder = new Decoder(cborOptions);

type Handler = (from: Address, msg: Message) => void;

interface Endpoint {
  address: Address;
  clock: NodeClock;
  handler: Handler | undefined;
  up: boolean;
}

export class SimNetwork {
  readonly clock: SimClock;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, bytes: 0 };
  /** Observer of every delivered message (tests, debugging). */
  tap: ((from: Address, to: Address, msg: Message) => void) | undefined;
  /** Log every message handed to send() in `log` (off by default: long runs send millions). */
  keepLog = false;
  readonly log: Sent[] = [];
  #random: Random;
  #opts: NetworkOptions;
  #endpoints = new Map<Address, Endpoint>();
  /** address -> partition group; undefined when the network is whole. */
  #groups: Map<Address, number> | undefined;
  /** Directed links ("from>to") that lose everything, and addresses cut off both ways. */
  #blocked = new Set<string>();
  #isolated = new Set<Address>();
  /** Drop the next n messages matching (from, to, t). */
  #dropNext: { from: Address; to: Address; t: string; n: number }[] = [];
  /** Last delivery time per directed pair, to keep FIFO order. */
  #lastAt = new Map<string, number>();

  constructor(clock: SimClock, random: Random, opts: Partial<NetworkOptions> = {}) {
    this.clock = clock;
    this.#random = random;
    this.#opts = { ...defaultNetworkOptions, ...opts };
  }

  get options(): Readonly<NetworkOptions> {
    return this.#opts;
  }

  /** Change knobs mid-run (e.g. start dropping 10% of messages). */
  configure(opts: Partial<NetworkOptions>): void {
    this.#opts = { ...this.#opts, ...opts };
  }

  /** The endpoint for `address`, on a fresh NodeClock unless one is given. */
  transport(address: Address, clock?: NodeClock): Transport {
    const existing = this.#endpoints.get(address);
    if (existing?.up) throw new Error(`sim: ${address} is already attached`);
    const ep: Endpoint = { address, clock: clock ?? this.clock.view(), handler: undefined, up: true };
    this.#endpoints.set(address, ep);
    return {
      local: address,
      send: (to, msg) => this.#send(ep, to, msg),
      onMessage: (handler) => {
        ep.handler = handler;
      },
      close: async () => {
        ep.up = false;
        ep.handler = undefined;
      },
    };
  }

  /** The clock of the process at `address`. */
  clockOf(address: Address): NodeClock {
    const ep = this.#endpoints.get(address);
    if (!ep) throw new Error(`sim: no endpoint ${address}`);
    return ep.clock;
  }

  isUp(address: Address): boolean {
    return this.#endpoints.get(address)?.up === true;
  }

  /** kill -9: the process stops, its messages and timers are gone. */
  crash(address: Address): void {
    const ep = this.#endpoints.get(address);
    if (!ep) return;
    ep.up = false;
    ep.handler = undefined;
    ep.clock.kill();
  }

  /** A new process at the same address: a fresh endpoint and clock. */
  restart(address: Address): { transport: Transport; clock: NodeClock } {
    this.crash(address);
    const clock = this.clock.view();
    return { transport: this.transport(address, clock), clock };
  }

  /** SIGSTOP for `ms`: the process runs its backlog when it resumes. */
  stall(address: Address, ms: number): void {
    this.clockOf(address).stall(ms);
  }

  /**
   * Cut the network into groups that cannot reach each other. Addresses not
   * listed form one more group together.
   */
  partition(groups: Address[][]): void {
    const m = new Map<Address, number>();
    groups.forEach((g, i) => {
      for (const a of g) m.set(a, i + 1);
    });
    this.#groups = m;
  }

  /** Messages from `from` to `to` are lost until unblock (one direction only). */
  block(from: Address, to: Address): void {
    this.#blocked.add(from + ">" + to);
  }

  unblock(from: Address, to: Address): void {
    this.#blocked.delete(from + ">" + to);
  }

  /** Cut `a` off from everyone, both ways, until rejoin. */
  isolate(a: Address): void {
    this.#isolated.add(a);
  }

  rejoin(a: Address): void {
    this.#isolated.delete(a);
  }

  /** Undo every partition, block and isolation. */
  heal(): void {
    this.#groups = undefined;
    this.#blocked.clear();
    this.#isolated.clear();
  }

  canReach(from: Address, to: Address): boolean {
    // Sizes first: a long run sends millions of messages, mostly with nothing cut.
    if (this.#isolated.size > 0 && (this.#isolated.has(from) || this.#isolated.has(to))) return false;
    if (this.#blocked.size > 0 && this.#blocked.has(from + ">" + to)) return false;
    if (this.#groups === undefined) return true;
    return (this.#groups.get(from) ?? 0) === (this.#groups.get(to) ?? 0);
  }

  /** Lose the next `n` messages of kind `t` from `from` to `to`. */
  dropNextMatching(from: Address, to: Address, t: string, n = 1): void {
    this.#dropNext.push({ from, to, t, n });
  }

  /** Stop losing what dropNextMatching(from, to, t) still would. */
  stopDropping(from: Address, to: Address, t: string): void {
    for (const d of this.#dropNext) if (d.from === from && d.to === to && d.t === t) d.n = 0;
  }

  /**
   * Deliver `msg` to `to` as if `from` had sent it, after the usual delay:
   * past every partition, loss and duplication (a forged or late copy).
   */
  inject(from: Address, to: Address, msg: Message): void {
    const bytes = this.#encode(from, to, msg);
    const dst = this.#endpoints.get(to);
    if (dst?.up) this.#schedule(from, dst, bytes, true);
  }

  /** Logged messages of kind `t` (optionally from/to), and the delta entries they carried. */
  count(t: string, from?: Address, to?: Address): { messages: number; entries: number } {
    let messages = 0;
    let entries = 0;
    for (const s of this.log) {
      if (s.t !== t || (from !== undefined && s.from !== from) || (to !== undefined && s.to !== to)) continue;
      messages++;
      entries += s.entries;
    }
    return { messages, entries };
  }

  #encode(from: Address, to: Address, msg: Message): Uint8Array {
    // Encoding errors are bugs in the caller: throw so the test fails loudly.
    // cbor-x returns a view of its reused buffer: copy before holding on.
    const bytes = new Uint8Array(encoder.encode(msg));
    this.stats.sent++;
    this.stats.bytes += bytes.length;
    if (this.keepLog) this.log.push({ from, to, t: String(msg.t), entries: entriesOf(msg), msg });
    return bytes;
  }

  #send(src: Endpoint, to: Address, msg: Message): boolean {
    if (!src.up || src.clock.dead) return false;
    const bytes = this.#encode(src.address, to, msg);
    const dst = this.#endpoints.get(to);
    if (!dst || !dst.up || !this.canReach(src.address, to)) {
      this.stats.dropped++;
      return dst !== undefined && dst.up;
    }
    const o = this.#opts;
    const k = this.#dropNext.findIndex((d) => d.from === src.address && d.to === to && d.t === msg.t && d.n > 0);
    if (k >= 0) {
      this.#dropNext[k]!.n--;
      this.stats.dropped++;
      return true;
    }
    if (o.loss > 0 && this.#random.float() < o.loss) {
      this.stats.dropped++;
      return true;
    }
    const copies = o.duplicate > 0 && this.#random.float() < o.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) this.#schedule(src.address, dst, bytes, false);
    return true;
  }

  #schedule(from: Address, dst: Endpoint, bytes: Uint8Array, forced: boolean): void {
    const o = this.#opts;
    const now = this.clock.now();
    let at = now + o.delayMinMs + this.#random.float() * (o.delayMaxMs - o.delayMinMs);
    if (!o.reorder) {
      const key = from + ">" + dst.address;
      const last = this.#lastAt.get(key) ?? 0;
      if (at < last) at = last;
      this.#lastAt.set(key, at);
    }
    dst.clock.setTimer(at - now, () => {
      if (!dst.up || !dst.handler || (!forced && !this.canReach(from, dst.address))) {
        this.stats.dropped++;
        return;
      }
      this.stats.delivered++;
      const msg = decoder.decode(bytes) as Message;
      this.tap?.(from, dst.address, msg);
      dst.handler(from, msg);
    });
  }
}

/** The delta entries a message carries (replication's `d`: CBOR bytes or wire form). */
function entriesOf(msg: Message): number {
  if (msg["d"] === undefined) return 0;
  try {
    const d = msg["d"];
    return (d instanceof Uint8Array ? decodeDelta(d) : deltaFromWire(d)).e.length;
  } catch {
    return 0;
  }
}
