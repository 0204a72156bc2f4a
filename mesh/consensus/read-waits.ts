/**
 * Reads waiting on the log (driver.ts): each waits for the leader to confirm
 * a read index (ReadIndex) and for this node to apply up to it, then answers
 * with its named query run on the state machine (nothing, for a bare read).
 * A named read still unanswered after RELAY_TICKS may go to a peer instead
 * (relay.ts); whichever answer comes first settles it.
 */
import type { Relayable, RelayOutcome } from "./relay.ts";

export interface PendingRead extends Relayable {
  /** the named query to answer with, or null for a bare read */
  name: string | null;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  deadline: number;
  /** the read index the leader confirmed, -1 until then */
  index: number;
}

export class ReadWaits {
  readonly #reads = new Map<number, PendingRead>();
  readonly #queries = new Map<string, () => unknown>();
  #ctx = 0;

  /** `ask(ctx)`: asks the core for read `ctx`'s index. */
  constructor(private readonly ask: (ctx: number) => void) {}

  define(name: string, fn: () => unknown): void {
    this.#queries.set(name, fn);
  }

  has(name: string): boolean {
    return this.#queries.has(name);
  }

  /** A new read (`mayRelay`: a peer may answer it), its index asked for at once. */
  add(name: string | null, mayRelay: boolean, now: number, deadline: number): Promise<unknown> {
    const ctx = ++this.#ctx;
    return new Promise((resolve, reject) => {
      // A read that may not relay counts as relayed just now, for ever.
      this.#reads.set(ctx, { name, resolve, reject, deadline, index: -1, at: now, relayedAt: mayRelay ? 0 : Infinity, relays: 0 });
      this.ask(ctx);
    });
  }

  /** On the tick: reject those past their deadline, ask again for the index of those without one, and offer the rest to `relay`. */
  tick(now: number, late: () => Error, relay: (r: PendingRead, ctx: number, name: string) => void): void {
    for (const [ctx, r] of this.#reads) {
      if (now >= r.deadline) {
        this.#reads.delete(ctx);
        r.reject(late());
        continue;
      }
      if (r.index === -1) this.ask(ctx);
      if (r.name !== null) relay(r, ctx, r.name);
    }
  }

  /** The leader confirmed read `ctx` at log index `index`. */
  confirmed(ctx: number, index: number): void {
    const r = this.#reads.get(ctx);
    if (r !== undefined) r.index = index;
  }

  /** Answer every read whose index this node has applied. */
  applied(applied: number): void {
    if (this.#reads.size === 0) return;
    for (const [ctx, r] of this.#reads) {
      if (r.index < 0 || applied < r.index) continue;
      this.#reads.delete(ctx);
      if (r.name === null) {
        r.resolve(undefined);
        continue;
      }
      try {
        r.resolve(this.#queries.get(r.name)!());
      } catch (err) {
        r.reject(err);
      }
    }
  }

  /** A peer's answer to relayed read `ctx`: settles it, unless the peer could not help (`unavailable`: the next peer is asked in turn). */
  settle(ctx: number, out: RelayOutcome): void {
    const r = this.#reads.get(ctx);
    // Only for a named read handed to a peer: a bare read answers from this node's own machine.
    if (r === undefined || r.name === null || r.relays === 0 || (!out.ok && out.error.code === "unavailable")) return;
    this.#reads.delete(ctx);
    if (out.ok) r.resolve(out.value);
    else r.reject(out.error);
  }

  rejectAll(err: Error): void {
    for (const r of this.#reads.values()) r.reject(err);
    this.#reads.clear();
  }
}
