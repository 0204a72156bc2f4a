/**
 * Urgent digests (`dg` with u) that came while this node was being filled
 * (a round of its own streaming entries to it), answered once that is over.
 * Answered at once, they compare a half-filled replica: a full initiator
 * then streams the prints of its whole map (leaves both sides fill: a node
 * filled room by room holds a few keys of every leaf) and this node keeps
 * them in a set, both while the transfer runs on the same cores; at 1.2M
 * keys each such round cost both sides hundreds of ms, and 2-4 came per
 * join (a peer coming up, a suspicion refuted, a new epoch's catch-up).
 * Later, the digests are (nearly) equal. The latest one per initiator is
 * kept (a new round replaces its earlier ones); an initiator that gives up
 * meanwhile (its round timeout) asks again, and its retry is kept instead.
 */
import type { Address } from "../types.ts";
import type { ReplMsg } from "./messages.ts";

type Digest = Extract<ReplMsg, { t: "dg" }>;

export class DeferredDigests {
  private readonly held = new Map<string, [Address, Digest]>();

  get size(): number {
    return this.held.size;
  }

  hold(from: Address, m: Digest): void {
    this.held.set(m.n, [from, m]);
  }

  drop(name: string): void {
    this.held.delete(name);
  }

  /** Hand every held digest to `answer`, oldest initiator first, and forget them. */
  release(answer: (from: Address, m: Digest) => void): void {
    if (this.held.size === 0) return;
    const all = [...this.held.values()];
    this.held.clear();
    for (const [from, m] of all) answer(from, m);
  }
}
