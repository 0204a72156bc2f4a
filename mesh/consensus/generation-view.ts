/**
 * Membership as the data layers see it: only the members in this node's
 * generation (generation.ts, `sides`). SWIM knows every node it
 * can reach, and two clusters meet there whenever one node is given seeds of
 * both (or a cold start split in two): before this view, each leader added
 * the other cluster's nodes as learners, their replicas merged both
 * clusters' rooms, and neither cluster could serve again (a majority of its
 * holders never answered its leases). The replicator, the registry and the
 * leader's configuration changes take this view; the generation rules,
 * failure detection and the members list take the whole membership.
 *
 * A member is hidden until its first hello says where it is, so no data
 * crosses before that. When a member's side changes, subscribers are told
 * as if it had joined (`up`) or died (`down`).
 */
import type { Member, MemberEvent, MembershipView } from "../membership/types.ts";
import type { Address } from "../types.ts";

export class GenerationView implements MembershipView {
  #raw: MembershipView;
  readonly #selfId: string;
  /** Makes the rule for one moment (this node's side worked out once for all the members it is asked of). */
  #judge: () => (id: string) => boolean = () => () => true;
  /** ids of the members shown here (self always): a member the whole membership just learned of is hidden until judged */
  #shownIds = new Set<string>();
  #subscribers = new Set<(ev: MemberEvent) => void>();
  readonly #unsubscribe: () => void;

  constructor(raw: MembershipView) {
    this.#raw = raw;
    this.#selfId = raw.self().id;
    this.#unsubscribe = raw.subscribe((ev) => this.#onRaw(ev));
    this.refresh();
  }

  /** The rule (made on each refresh and each member event); until bound, every member is shown. */
  bind(judge: () => (id: string) => boolean): void {
    this.#judge = judge;
    this.refresh();
  }

  #emit(ev: MemberEvent): void {
    for (const fn of [...this.#subscribers]) fn(ev);
  }

  #onRaw(ev: MemberEvent): void {
    const id = ev.member.id;
    const was = this.#shownIds.has(id);
    if (id === this.#selfId || this.#judge()(id)) {
      if (was) return this.#emit(ev);
      if (ev.type === "down" || ev.type === "left") return; // never shown here: its end is nobody's news
      this.#shownIds.add(id);
      this.#emit({ type: "up", member: ev.member }); // shown only now: it joins this view, whatever the raw event was
    } else if (was) {
      this.#shownIds.delete(id);
      this.#emit({ type: "down", member: ev.member }); // it was shown: it is gone from here
    }
  }

  /** Re-reads every member's side (after a hello, or when this node's generation changed); tells subscribers of each change. */
  refresh(): void {
    const events: MemberEvent[] = [];
    const known = new Set<string>();
    const same = this.#judge();
    for (const m of this.#raw.members()) {
      known.add(m.id);
      if (m.id === this.#selfId) continue;
      const shown = same(m.id);
      const was = this.#shownIds.has(m.id);
      if (shown === was) continue;
      const alive = m.state === "alive" || m.state === "suspect";
      if (shown && !alive) continue; // a dead one never shown stays out
      if (shown) this.#shownIds.add(m.id);
      else this.#shownIds.delete(m.id);
      events.push({ type: shown ? "up" : "down", member: m });
    }
    // Processes membership no longer lists (replaced, reaped) leave the set.
    if (this.#shownIds.size > known.size) for (const id of this.#shownIds) if (!known.has(id)) this.#shownIds.delete(id);
    for (const ev of events) this.#emit(ev);
  }

  #isShown = (m: Member): boolean => this.#shownIds.has(m.id) || m.id === this.#selfId;

  self(): Member {
    return this.#raw.self();
  }

  members(): Member[] {
    return this.#raw.members().filter(this.#isShown);
  }

  live(): Member[] {
    return this.#raw.live().filter(this.#isShown);
  }

  subscribe(fn: (ev: MemberEvent) => void): () => void {
    this.#subscribers.add(fn);
    return () => {
      this.#subscribers.delete(fn);
    };
  }

  clockCorrection(address: Address): number {
    return this.#raw.clockCorrection?.(address) ?? 0;
  }

  clockOffset(address: Address): number | undefined {
    return this.#raw.clockOffset?.(address);
  }

  supersededBy(): { id: string; address: Address } | null {
    return this.#raw.supersededBy?.() ?? null;
  }

  supersederGone(): { id: string; address: Address; inMs: number } | null {
    return this.#raw.supersederGone?.() ?? null;
  }

  stop(): void {
    this.#unsubscribe();
  }
}
