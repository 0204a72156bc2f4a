/**
 * A read barrier for answers read from this node's own replica (the room
 * list, where-is, the rooms of a dump): before answering, pull once from
 * enough holders of the configuration that they and this node are a
 * majority. A write acknowledged before the read began is on a majority of
 * the holders (write concern majority), so on this node or on one of those
 * it pulls from, and a pull started after the read began brings it here.
 * Without it a node whose copy of an acknowledged write was still on its
 * way (lost once and re-sent, or only slow) answered a 200 room list or dump
 * without that room (tests/cluster/hostile-stale-list.test.ts).
 *
 * Reads share rounds: a read joins the next round to start, never one that
 * began before it (that one may have compared digests before the write was
 * acknowledged). So reads in a burst cost one or two rounds between them.
 * Only the holders' configured incarnations count (a restarted node under
 * the same name may hold nothing yet), as for serving's catch-up.
 */
import { RoomyError } from "../../core/errors.ts";
import type { PulledFrom } from "../replication/api.ts";
import { type HolderConfig, isHolder, majorityOf } from "./holders.ts";

export interface BarrierHost {
  self: { name: string; id: string };
  /** The configuration this node serves under (null: none yet). */
  config(): HolderConfig | null;
  /** A holder's live incarnation, if any. */
  idOf(name: string): string | undefined;
  catchUpFrom(peers: readonly string[], need: number, timeoutMs: number): Promise<readonly PulledFrom[]>;
  timeoutMs: number;
}

export class ReadBarrier {
  #running: Promise<void> | null = null;
  #next: Promise<void> | null = null;
  /** Whether the running round has asked its peers yet. */
  #begun = false;

  constructor(private readonly h: BarrierHost) {}

  /** Resolves once this replica holds every write acknowledged (on a majority) before the call; else rejects unavailable. */
  wait(): Promise<void> {
    if (this.#running === null) return (this.#running = this.#start());
    // Not yet asking anyone (it starts on a later microtask): this read joins it.
    if (!this.#begun) return this.#running;
    // The round under way may have compared before the caller's write was acknowledged: the next one.
    this.#next ??= this.#running.then(
      () => this.#promote(),
      () => this.#promote(),
    );
    return this.#next;
  }

  #promote(): Promise<void> {
    this.#next = null;
    return (this.#running = this.#start());
  }

  #start(): Promise<void> {
    const p = this.#round();
    const clear = (): void => {
      if (this.#running === p) this.#running = null;
    };
    p.then(clear, clear);
    return p;
  }

  async #round(): Promise<void> {
    this.#begun = false;
    // Start on a later microtask, so the reads of this turn join it as one.
    await Promise.resolve();
    this.#begun = true;
    const c = this.h.config();
    if (c === null) throw new RoomyError("unavailable", "this node has no committed configuration yet; retry");
    const { name, id } = this.h.self;
    const need = majorityOf(c) - (isHolder(c, name, id) ? 1 : 0);
    if (need <= 0) return;
    const peers = c.holders.filter((x) => x.name !== name && this.h.idOf(x.name) === x.id).map((x) => x.name);
    if (peers.length < need) throw new RoomyError("unavailable", `a read needs ${need} more holders of the configuration reachable, ${peers.length} are; retry`);
    const pulled = await this.h.catchUpFrom(peers, need, this.h.timeoutMs);
    const counted = pulled.filter((p) => isHolder(c, p.name, p.id)).length;
    if (counted < need) throw new RoomyError("unavailable", "a holder restarted during the read; retry");
  }
}
