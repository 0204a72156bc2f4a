/**
 * The transmit-limited broadcast queue (memberlist's TransmitLimitedQueue).
 * Each update is piggybacked on outgoing messages until it has been sent
 * `limit` times (about retransmitMult * log10(n + 1)); updates sent fewest
 * times go first, so fresh news overtakes old. A newer update about the same
 * member replaces the queued one: there is no point spreading stale news.
 *
 * Unlike memberlist, an update is never piggybacked twice to the same peer:
 * on a small cluster its few transmissions would otherwise be spent on acks
 * to whoever we happen to be talking to, and a refutation could miss the one
 * member whose suspicion timer is running.
 */
import type { Update } from "./messages.ts";
import { updateSize } from "./messages.ts";

/** Why a broadcast left the queue. */
export type DoneReason = "sent" | "replaced" | "dropped";

interface Item {
  key: string;
  update: Update;
  size: number;
  transmits: number;
  /** Peers (addresses) it was sent to. */
  sentTo: Set<string> | undefined;
  onDone: ((reason: DoneReason) => void) | undefined;
}

/** The smallest update we would still try to fit in a nearly full message. */
const MIN_UPDATE_SIZE = 40;

export class BroadcastQueue {
  readonly maxItems: number;
  #byKey = new Map<string, Item>();
  /** buckets[t]: items sent t times, in insertion order. */
  #buckets: Set<Item>[] = [];

  constructor(maxItems = 8192) {
    this.maxItems = maxItems;
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** How many times the update queued under `key` has been sent, if queued. */
  transmits(key: string): number | undefined {
    return this.#byKey.get(key)?.transmits;
  }

  /** The update queued under `key` (member name), if any. */
  peek(key: string): Update | undefined {
    return this.#byKey.get(key)?.update;
  }

  /** Queue `update` (keyed by member name), replacing older news about it. */
  enqueue(update: Update, onDone?: (reason: DoneReason) => void): void {
    const key = update.n;
    const old = this.#byKey.get(key);
    if (old) this.#remove(old, "replaced");
    const item: Item = { key, update, size: updateSize(update), transmits: 0, sentTo: undefined, onDone };
    this.#byKey.set(key, item);
    this.#bucket(0).add(item);
    if (this.#byKey.size > this.maxItems) this.#dropOne();
  }

  /**
   * Take updates for one message to `to`: fewest-sent first, within `budget`
   * estimated bytes, none already sent to `to`. Each one taken counts as one
   * transmission; those that reach `limit` leave the queue.
   */
  take(budget: number, limit: number, to: string): Update[] {
    if (this.#byKey.size === 0 || budget < MIN_UPDATE_SIZE) return [];
    // The limit shrinks when the cluster does: drop what is now over it.
    for (let t = Math.max(1, limit); t < this.#buckets.length; t++) {
      const b = this.#buckets[t];
      if (b) for (const it of [...b]) this.#remove(it, "sent");
    }
    const picked: Item[] = [];
    let used = 0;
    outer: for (let t = 0; t < this.#buckets.length; t++) {
      const b = this.#buckets[t];
      if (!b) continue;
      for (const it of b) {
        if (it.sentTo?.has(to)) continue;
        if (used + it.size > budget) {
          if (budget - used < MIN_UPDATE_SIZE) break outer;
          continue;
        }
        picked.push(it);
        used += it.size;
      }
    }
    const out: Update[] = new Array(picked.length);
    for (let i = 0; i < picked.length; i++) {
      const it = picked[i]!;
      out[i] = it.update;
      this.#buckets[it.transmits]!.delete(it);
      it.transmits++;
      (it.sentTo ??= new Set()).add(to);
      if (it.transmits >= limit) {
        this.#byKey.delete(it.key);
        it.onDone?.("sent");
      } else {
        this.#bucket(it.transmits).add(it);
      }
    }
    return out;
  }

  /** Forget everything (stop). */
  clear(): void {
    for (const it of [...this.#byKey.values()]) this.#remove(it, "dropped");
  }

  #bucket(t: number): Set<Item> {
    let b = this.#buckets[t];
    if (!b) {
      b = new Set();
      this.#buckets[t] = b;
    }
    return b;
  }

  #remove(it: Item, reason: DoneReason): void {
    this.#buckets[it.transmits]?.delete(it);
    if (this.#byKey.get(it.key) === it) this.#byKey.delete(it.key);
    it.onDone?.(reason);
  }

  /** Over capacity: drop the oldest of the most-sent updates. */
  #dropOne(): void {
    for (let t = this.#buckets.length - 1; t >= 0; t--) {
      const b = this.#buckets[t];
      if (!b || b.size === 0) continue;
      const first = b.values().next().value as Item;
      this.#remove(first, "dropped");
      return;
    }
  }
}
