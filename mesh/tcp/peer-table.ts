/**
 * What the transport knows per peer address: the committed connection, the
 * connections still in handshake, the bounded send queue, reconnect backoff,
 * and the epochs that decide which connection of a pair survives.
 */
import type { Address } from "../types.ts";
import type { Session } from "./session.ts";

export class Link {
  /** The one committed connection to this peer, if any. */
  conn: Session | null = null;
  /** Our dial in progress, and authenticated connections awaiting the chooser's commit. */
  readonly pending = new Set<Session>();
  /** Consecutive failed dials, and when the next may start (clock ms). */
  failures = 0;
  retryAt = 0;
  /** Identity of the peer last committed here, and the epochs seen with it. */
  peerId = "";
  /** Highest commit epoch with peerId. */
  epoch = 0;
  /** Epoch of the last committed connection with peerId that closed here. */
  lost = 0;
  flushScheduled = false;

  private queue: Uint8Array[] = [];
  private head = 0;
  private bytes = 0;

  constructor(readonly address: Address) {}

  /** Bytes queued and not yet written. */
  get queuedBytes(): number {
    return this.bytes;
  }

  get queuedFrames(): number {
    return this.queue.length - this.head;
  }

  /** True when nothing connects us to the peer and nothing is on the way. */
  get idle(): boolean {
    return this.conn === null && this.pending.size === 0;
  }

  /** Queue one frame body unless it would exceed `maxBytes`. */
  enqueue(body: Uint8Array, maxBytes: number): boolean {
    if (this.bytes + body.length > maxBytes) return false;
    this.queue.push(body);
    this.bytes += body.length;
    return true;
  }

  /** Dequeue frames totalling about `maxBytes` (always at least one if any). */
  take(maxBytes: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let size = 0;
    while (this.head < this.queue.length) {
      const b = this.queue[this.head]!;
      if (out.length > 0 && size + b.length > maxBytes) break;
      out.push(b);
      size += b.length;
      this.head++;
    }
    this.bytes -= size;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** Drop everything queued; returns how many frames were dropped. */
  clear(): number {
    const n = this.queuedFrames;
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
    return n;
  }

  /** Move `other`'s queue behind ours (used when two addresses turn out to be one peer). */
  absorb(other: Link): void {
    for (const b of other.take(Infinity)) {
      this.queue.push(b);
      this.bytes += b.length;
    }
  }

  /** A (possibly new) identity is at this address: epochs restart with it. */
  identify(peerId: string): void {
    if (this.peerId === peerId) return;
    this.peerId = peerId;
    this.epoch = 0;
    this.lost = 0;
  }
}

/** Links by peer address; a dialed address that reached a peer advertising another one is an alias. */
export class PeerTable {
  private readonly links = new Map<Address, Link>();
  private readonly aliases = new Map<Address, Address>();

  get(address: Address): Link | undefined {
    return this.links.get(this.aliases.get(address) ?? address);
  }

  getOrCreate(address: Address): Link {
    const key = this.aliases.get(address) ?? address;
    let link = this.links.get(key);
    if (!link) {
      link = new Link(key);
      this.links.set(key, link);
    }
    return link;
  }

  /**
   * `dialed` reached the peer that advertises `advertised`: send() to either
   * now uses the advertised link, which takes over the dialed one's queue.
   */
  alias(dialed: Address, advertised: Address): Link {
    const target = this.getOrCreate(advertised);
    if (dialed === advertised) return target;
    const old = this.links.get(dialed);
    if (old && old !== target) {
      target.absorb(old);
      for (const s of old.pending) target.pending.add(s);
      if (old.conn === null) this.links.delete(dialed);
    }
    this.aliases.set(dialed, advertised);
    return target;
  }

  all(): IterableIterator<Link> {
    return this.links.values();
  }
}
