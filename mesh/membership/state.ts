/**
 * The member table and the precedence rules that decide whether a piece of
 * news about a member replaces what we hold.
 *
 * Same identity (same id), SWIM rules with incarnation numbers:
 *
 *   held \ news   alive(u)    suspect(u)    dead(u)     left(u)
 *   alive(c)      u > c       u >= c        u >= c      u >= c
 *   suspect(c)    u > c       confirm*      u >= c      u >= c
 *   dead(c)       u > c       -             -           u >= c
 *   left(c)       -           -             -           -
 *
 *   * a suspicion from another member confirms ours (Lifeguard), u >= c.
 *   dead can be undone only by the member itself (a higher incarnation):
 *   a process that was paused comes back; left is final for an identity.
 *
 * Another identity with the same name (a restart): news about a newer id
 * replaces the record only if it says the new process is alive or suspect,
 * or if the record it replaces is already dead/left; news about an older id
 * is ignored. So stale suspect/dead messages about a previous process never
 * touch its successor. Unknown names: any news is recorded (dead/left ones
 * as tombstones, so a stale alive cannot resurrect them).
 */
import type { Random } from "../types.ts";
import { compareIds } from "./identity.ts";
import { ALIVE, DEAD, LEFT, SUSPECT, type Update } from "./messages.ts";
import type { Member, MemberState } from "./types.ts";

/** What the table holds about one name. Mutated only through MemberTable. */
export interface MemberRecord {
  name: string;
  id: string;
  address: string;
  state: MemberState;
  incarnation: number;
  /** Time of the last state change (for tombstone expiry and gossip to the dead). */
  since: number;
}

export type Verdict =
  /** no effect */
  | "ignore"
  /** an unknown name: record it */
  | "new"
  /** a newer identity of the name: the old record goes */
  | "replace"
  /** same identity, newer state or incarnation */
  | "update"
  /** same identity already suspect: a further, possibly independent, suspicion */
  | "confirm";

export function isLive(state: MemberState): boolean {
  return state === "alive" || state === "suspect";
}

/** The precedence rule (see the table above). Does not handle our own name. */
export function judge(held: MemberRecord | undefined, u: Update): Verdict {
  if (held === undefined) return "new";
  if (u.i !== held.id) {
    if (compareIds(u.i, held.id) < 0) return "ignore";
    if (u.k === ALIVE || u.k === SUSPECT) return "replace";
    return isLive(held.state) ? "ignore" : "replace";
  }
  const c = held.incarnation;
  switch (held.state) {
    case "alive":
      if (u.k === ALIVE) return u.c > c ? "update" : "ignore";
      return u.c >= c ? "update" : "ignore";
    case "suspect":
      if (u.k === ALIVE) return u.c > c ? "update" : "ignore";
      if (u.k === SUSPECT) return u.c >= c ? "confirm" : "ignore";
      return u.c >= c ? "update" : "ignore";
    case "dead":
      if (u.k === ALIVE) return u.c > c ? "update" : "ignore";
      if (u.k === LEFT) return u.c >= c ? "update" : "ignore";
      return "ignore";
    case "left":
      return "ignore";
  }
}

/** A frozen snapshot of a record (safe to share between readers). */
export function toMember(r: MemberRecord): Member {
  return Object.freeze({ name: r.name, id: r.id, address: r.address, state: r.state, incarnation: r.incarnation });
}

/** An array with O(1) add, delete and uniform random pick. */
class IndexedList {
  readonly items: MemberRecord[] = [];
  #pos = new Map<string, number>();

  add(r: MemberRecord): void {
    const at = this.#pos.get(r.name);
    if (at !== undefined) {
      this.items[at] = r;
      return;
    }
    this.#pos.set(r.name, this.items.length);
    this.items.push(r);
  }

  delete(name: string): void {
    const at = this.#pos.get(name);
    if (at === undefined) return;
    const last = this.items.pop()!;
    this.#pos.delete(name);
    if (last.name !== name) {
      this.items[at] = last;
      this.#pos.set(last.name, at);
    }
  }
}

/**
 * Every member known by name, self included, with indexes of the live ones
 * and the dead ones (not left) for random sampling.
 */
export class MemberTable {
  readonly selfName: string;
  #byName = new Map<string, MemberRecord>();
  #live = new IndexedList();
  #dead = new IndexedList();
  #counts: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
  #version = 0;

  constructor(self: MemberRecord) {
    this.selfName = self.name;
    this.set(self);
  }

  get(name: string): MemberRecord | undefined {
    return this.#byName.get(name);
  }

  get self(): MemberRecord {
    return this.#byName.get(this.selfName)!;
  }

  get size(): number {
    return this.#byName.size;
  }

  /** Bumped by every change: lets readers cache derived views. */
  get version(): number {
    return this.#version;
  }

  /** Live members, self included. */
  get liveCount(): number {
    return this.#counts.alive + this.#counts.suspect;
  }

  count(state: MemberState): number {
    return this.#counts[state];
  }

  values(): IterableIterator<MemberRecord> {
    return this.#byName.values();
  }

  /** Live members other than self (do not mutate). */
  get others(): readonly MemberRecord[] {
    return this.#live.items;
  }

  /** Dead (not left) members (do not mutate). */
  get dead(): readonly MemberRecord[] {
    return this.#dead.items;
  }

  /** Insert or replace the record for `r.name`. */
  set(r: MemberRecord): void {
    const old = this.#byName.get(r.name);
    if (old) this.#unindex(old);
    this.#byName.set(r.name, r);
    this.#index(r);
  }

  /** Change a held record's state/incarnation in place. */
  change(r: MemberRecord, state: MemberState, incarnation: number, now: number): void {
    this.#unindex(r);
    if (r.state !== state) r.since = now;
    r.state = state;
    r.incarnation = incarnation;
    this.#index(r);
  }

  delete(name: string): void {
    const old = this.#byName.get(name);
    if (!old || name === this.selfName) return;
    this.#version++;
    this.#unindex(old);
    this.#byName.delete(name);
  }

  #index(r: MemberRecord): void {
    this.#version++;
    this.#counts[r.state]++;
    if (r.name === this.selfName) return;
    if (isLive(r.state)) this.#live.add(r);
    else if (r.state === "dead") this.#dead.add(r);
  }

  #unindex(r: MemberRecord): void {
    this.#version++;
    this.#counts[r.state]--;
    if (r.name === this.selfName) return;
    this.#live.delete(r.name);
    this.#dead.delete(r.name);
  }

  /**
   * Up to `k` distinct random live members (not self) passing `accept`, plus,
   * when `deadSince` is given, dead members that died after it. Sampling by
   * rejection keeps it O(k) for large tables.
   */
  sample(random: Random, k: number, accept?: (r: MemberRecord) => boolean, deadSince?: number): MemberRecord[] {
    const live = this.#live.items;
    const dead = deadSince === undefined ? [] : this.#dead.items;
    const total = live.length + dead.length;
    const out: MemberRecord[] = [];
    if (k <= 0 || total === 0) return out;
    const ok = (r: MemberRecord): boolean =>
      (r.state !== "dead" || r.since >= deadSince!) && (accept === undefined || accept(r));
    if (total <= k * 3) {
      // Small: filter all, then take a random k.
      const pool = live.filter(ok).concat(dead.filter(ok));
      for (let i = 0; i < k && pool.length > 0; i++) {
        const j = Math.floor(random.float() * pool.length);
        out.push(pool[j]!);
        pool[j] = pool[pool.length - 1]!;
        pool.pop();
      }
      return out;
    }
    const seen = new Set<string>();
    for (let tries = 0; tries < k * 8 && out.length < k; tries++) {
      const j = Math.floor(random.float() * total);
      const r = j < live.length ? live[j]! : dead[j - live.length]!;
      if (seen.has(r.name)) continue;
      seen.add(r.name);
      if (ok(r)) out.push(r);
    }
    return out;
  }
}
