/**
 * A small in-memory network for protocol tests, on the simulator's virtual
 * clock: messages go through a CBOR round trip (what cannot cross the wire
 * fails here too), then arrive after a delay. Loss, duplication, reordering,
 * directed link blocks and isolation are knobs; randomness comes from the
 * seeded Random given, so one seed gives one run. Every message is counted
 * by kind, with the number of delta entries it carries.
 */
import { Encoder } from "cbor-x/encode";
import { Decoder } from "cbor-x/decode";
import { decodeDelta, deltaFromWire } from "../../core/crdt/lww-codec.ts";
import type { SimClock } from "../../mesh/sim/clock.ts";
import type { Address, Message, Random, Transport } from "../../mesh/types.ts";

export interface LoopOptions {
  loss: number;
  duplicate: number;
  delayMinMs: number;
  delayMaxMs: number;
  /** When false, one sender's messages to one receiver keep their order. */
  reorder: boolean;
}

export interface Sent {
  from: Address;
  to: Address;
  t: string;
  entries: number;
  msg: Message;
}

const codecOptions = { useRecords: false, mapsAsObjects: true, tagUint8Array: false } as const;
const encoder = new Encoder(codecOptions);
const decoder = new Decoder(codecOptions);

type Handler = (from: Address, msg: Message) => void;

export class LoopNetwork {
  /** Every message handed to send(), delivered or not. */
  readonly log: Sent[] = [];
  private opts: LoopOptions;
  private readonly handlers = new Map<Address, Handler | undefined>();
  private readonly blocked = new Set<string>();
  private readonly isolated = new Set<Address>();
  private readonly lastAt = new Map<string, number>();
  /** Drop the next n messages matching (from, to, t). */
  private readonly dropNext: { from: Address; to: Address; t: string; n: number }[] = [];
  keepLog = true;

  constructor(
    readonly clock: SimClock,
    private readonly random: Random,
    opts: Partial<LoopOptions> = {},
  ) {
    this.opts = { loss: 0, duplicate: 0, delayMinMs: 0.2, delayMaxMs: 1, reorder: false, ...opts };
  }

  configure(opts: Partial<LoopOptions>): void {
    this.opts = { ...this.opts, ...opts };
  }

  transport(address: Address): Transport {
    this.handlers.set(address, undefined);
    return {
      local: address,
      send: (to, msg) => this.send(address, to, msg),
      onMessage: (h) => {
        this.handlers.set(address, h);
      },
      close: async () => {
        this.handlers.delete(address);
      },
    };
  }

  /** Messages from `from` to `to` are lost until unblock. */
  block(from: Address, to: Address): void {
    this.blocked.add(from + ">" + to);
  }

  unblock(from: Address, to: Address): void {
    this.blocked.delete(from + ">" + to);
  }

  /** Cut `a` off from everyone, both ways. */
  isolate(a: Address): void {
    this.isolated.add(a);
  }

  rejoin(a: Address): void {
    this.isolated.delete(a);
  }

  heal(): void {
    this.blocked.clear();
    this.isolated.clear();
  }

  dropNextMatching(from: Address, to: Address, t: string, n = 1): void {
    this.dropNext.push({ from, to, t, n });
  }

  /** Deliver `msg` to `to` as if `from` had sent it (after the usual delay). */
  inject(from: Address, to: Address, msg: Message): void {
    this.send(from, to, msg, true);
  }

  /** Messages of kind `t` (optionally from/to), and the entries they carried. */
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

  private reachable(from: Address, to: Address): boolean {
    return !this.isolated.has(from) && !this.isolated.has(to) && !this.blocked.has(from + ">" + to);
  }

  private send(from: Address, to: Address, msg: Message, forced = false): boolean {
    const bytes = encoder.encode(msg);
    if (this.keepLog) this.log.push({ from, to, t: String(msg.t), entries: entriesOf(msg), msg });
    if (!this.handlers.has(to)) return false;
    if (!forced) {
      if (!this.reachable(from, to)) return true;
      const k = this.dropNext.findIndex((d) => d.from === from && d.to === to && d.t === msg.t && d.n > 0);
      if (k >= 0) {
        this.dropNext[k]!.n--;
        return true;
      }
      if (this.opts.loss > 0 && this.random.float() < this.opts.loss) return true;
    }
    const copies = !forced && this.opts.duplicate > 0 && this.random.float() < this.opts.duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) this.schedule(from, to, bytes, forced);
    return true;
  }

  private schedule(from: Address, to: Address, bytes: Uint8Array, forced: boolean): void {
    const o = this.opts;
    const now = this.clock.now();
    let at = now + o.delayMinMs + this.random.float() * (o.delayMaxMs - o.delayMinMs);
    if (!o.reorder) {
      const key = from + ">" + to;
      at = Math.max(at, this.lastAt.get(key) ?? 0);
      this.lastAt.set(key, at);
    }
    this.clock.setTimer(at - now, () => {
      const h = this.handlers.get(to);
      if (h === undefined || (!forced && !this.reachable(from, to))) return;
      h(from, decoder.decode(bytes) as Message);
    });
  }
}

function entriesOf(msg: Message): number {
  if (msg["d"] === undefined) return 0;
  try {
    const d = msg["d"];
    return (d instanceof Uint8Array ? decodeDelta(d) : deltaFromWire(d)).e.length;
  } catch {
    return 0;
  }
}
