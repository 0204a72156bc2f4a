/**
 * What the transport knows per peer address: the committed connection, the
 * connections still in handshake, the bounded send queue, reconnect backoff,
 * and the epochs that decide which connection of a pair survives.
 */
import type { Address } from "../types.ts";
import { fallbackEncoder } from "../wire/codec.ts";
import { FrameQueue, type PushResult } from "../wire/frame-queue.ts";
import type { Session } from "./session.ts";
import { parseAddress } from "./address.ts";
import { LostHooks } from "./lost-hooks.ts";

/** Encoding buffer per peer; grows for bigger messages or queues. */
const QUEUE_CHUNK_BYTES = 16 * 1024;

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

  /** Frames not yet written, encoded in place (see FrameQueue). */
  private readonly queue = new FrameQueue(QUEUE_CHUNK_BYTES, fallbackEncoder);
  /** What to tell the senders of queued frames that asked, if their frame is dropped unwritten. */
  private readonly hooks = new LostHooks();

  constructor(readonly address: Address) {}

  /** Body bytes queued and not yet written. */
  get queuedBytes(): number {
    return this.queue.queuedBytes;
  }

  get queuedFrames(): number {
    return this.queue.queuedFrames;
  }

  /** Body size of the message last passed to enqueue(), queued or not. */
  get lastBodyBytes(): number {
    return this.queue.lastBodyBytes;
  }

  /** No connection, and the last dial failed (backing off). */
  get failing(): boolean {
    return this.conn === null && this.failures > 0;
  }

  /** True when nothing connects us to the peer and nothing is on the way. */
  get idle(): boolean {
    return this.conn === null && this.pending.size === 0;
  }

  /**
   * Encode `msg` as a frame at the end of the queue unless its body exceeds
   * `maxBody` or the queue would exceed `maxBytes` (then nothing is queued).
   * Throws, queuing nothing, if it cannot be encoded. `onLost` runs if the
   * frame is then dropped before it was written (clear()).
   */
  enqueue(msg: unknown, maxBody: number, maxBytes: number, onLost?: () => void): PushResult {
    const r = this.queue.push(msg, maxBody, maxBytes);
    if (r === "queued") this.hooks.add(onLost);
    return r;
  }

  /** Take back the message enqueue() just queued. */
  dropLast(): void {
    this.queue.dropLast();
    this.hooks.dropLast();
  }

  /** Dequeue frames, about `maxBytes` on the wire (always at least one if any), as one view; `count[0]` gets how many. */
  take(maxBytes: number, count: Uint32Array): Uint8Array {
    const out = this.queue.take(maxBytes, count);
    this.hooks.taken(count[0]!);
    return out;
  }

  /** Drop everything queued, telling the senders that asked (nothing of it was written); returns how many frames were dropped. */
  clear(): number {
    const n = this.queue.clear();
    this.hooks.dropAll();
    return n;
  }

  /** Move `other`'s queue behind ours (used when two addresses turn out to be one peer). */
  absorb(other: Link): void {
    this.queue.absorb(other.queue);
    this.hooks.absorb(other.hooks);
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

  /** The link for `address`, made if new; null for what is no address (send() drops it). */
  forSend(address: Address): Link | null {
    const link = this.get(address);
    if (link) return link;
    try {
      parseAddress(address);
    } catch {
      return null;
    }
    return this.getOrCreate(address);
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
