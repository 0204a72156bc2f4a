/**
 * Settings every node must share (--lot, --gates): each node says its own
 * in its generation hellos, and a peer that runs with another value is
 * warned of once per peer process and setting. They are not exchanged
 * otherwise, so nodes with different ones answer differently (a park
 * refused on one, taken on another) and nothing else would say so.
 */
import type { Logger } from "../types.ts";

export class SharedSettings {
  #warned = new Set<string>();

  constructor(
    private readonly ours: Readonly<Record<string, string | number>> | undefined,
    private readonly logger: Logger,
  ) {}

  /** Peer `name` (process `id`) said `theirs` (a hello's `sh`; anything else from a node before it is ignored). */
  heard(name: string, id: string, theirs: unknown): void {
    if (this.ours === undefined || typeof theirs !== "object" || theirs === null) return;
    for (const [k, v] of Object.entries(this.ours)) {
      const t = (theirs as Record<string, unknown>)[k];
      const key = `${id} ${k}`;
      if (t === undefined || t === v || this.#warned.has(key)) continue;
      if (this.#warned.size >= 256) this.#warned.clear();
      this.#warned.add(key);
      this.logger.warn(`consensus: a peer runs with another --${k} than this node: every node must run the same --lot and --gates, else they answer differently`, { peer: name, setting: k, theirs: t, ours: v });
    }
  }
}
