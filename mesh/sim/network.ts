/**
 * An in-memory network for the simulator. Every message goes through a CBOR
 * round trip (as on the wire: a message CBOR cannot carry fails here too),
 * then is delivered on the receiver's NodeClock after a delay, so a paused
 * process receives its backlog late and a killed one receives nothing.
 *
 * Knobs: loss and duplicate rates, delay bounds, reordering, partitions,
 * crashes and restarts. All randomness comes from the seeded Random given,
 * so one seed gives one run.
 */
// The pure-JS entries of cbor-x: the package root loads the optional native
// string extractor (cbor-extract), which crashes Bun 1.4 and fails under Deno.
import { Decoder } from "cbor-x/decode";
import { Encoder } from "cbor-x/encode";
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
  #random: Random;
  #opts: NetworkOptions;
  #endpoints = new Map<Address, Endpoint>();
  /** address -> partition group; undefined when the network is whole. */
  #groups: Map<Address, number> | undefined;
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

  heal(): void {
    this.#groups = undefined;
  }

  canReach(from: Address, to: Address): boolean {
    if (this.#groups === undefined) return true;
    return (this.#groups.get(from) ?? 0) === (this.#groups.get(to) ?? 0);
  }

  #send(src: Endpoint, to: Address, msg: Message): boolean {
    if (!src.up || src.clock.dead) return false;
    // Encoding errors are bugs in the caller: throw so the test fails loudly.
    // cbor-x returns a view of its reused buffer: copy before holding on.
    const bytes = new Uint8Array(encoder.encode(msg));
    this.stats.sent++;
    this.stats.bytes += bytes.length;
    const dst = this.#endpoints.get(to);
    if (!dst || !dst.up || !this.canReach(src.address, to)) {
      this.stats.dropped++;
      return dst !== undefined && dst.up;
    }
    const o = this.#opts;
    if (o.loss > 0 && this.#random.float() < o.loss) {
      this.stats.dropped++;
      return true;
    }
    const copies = o.duplicate > 0 && this.#random.float() < o.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) this.#schedule(src.address, dst, bytes);
    return true;
  }

  #schedule(from: Address, dst: Endpoint, bytes: Uint8Array): void {
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
      if (!dst.up || !dst.handler || !this.canReach(from, dst.address)) {
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
