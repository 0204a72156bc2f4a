/**
 * The membership double of every test that runs protocols without the real
 * membership: every node has its own view, changed by the test (so views can
 * disagree, as during a partition; setEverywhere is gossip that converged at
 * once), and emits the events the real membership would. A node always
 * counts itself live, as the real one does.
 */
import type { Member, MemberEvent, MemberEventType, MembershipView, MemberState } from "../../mesh/membership/types.ts";

class NodeView implements MembershipView {
  readonly known = new Map<string, Member>();
  private readonly subs = new Set<(ev: MemberEvent) => void>();
  constructor(readonly selfName: string) {}

  self(): Member {
    return { ...this.known.get(this.selfName)! };
  }
  members(): Member[] {
    return [...this.known.values()].map((m) => ({ ...m })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  live(): Member[] {
    return this.members().filter((m) => m.state === "alive" || m.state === "suspect" || m.name === this.selfName);
  }
  subscribe(fn: (ev: MemberEvent) => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }
  set(m: Member): void {
    const prev = this.known.get(m.name);
    this.known.set(m.name, { ...m });
    const type = eventType(prev, m);
    if (type !== undefined) for (const fn of [...this.subs]) fn({ type, member: { ...m } });
  }
}

function eventType(prev: Member | undefined, m: Member): MemberEventType | undefined {
  if (prev !== undefined && prev.state === m.state && prev.id === m.id) return undefined;
  switch (m.state) {
    case "alive":
      return prev === undefined || prev.id !== m.id || prev.state === "dead" || prev.state === "left" ? "up" : "alive";
    case "suspect":
      return "suspect";
    case "dead":
      return "down";
    case "left":
      return "left";
  }
}

export class MembershipWorld {
  private readonly views = new Map<string, NodeView>();
  private readonly truth = new Map<string, Member>();
  private gen = 0;

  /** A new node that sees every existing one and is seen by them (alive). */
  add(name: string, address: string): MembershipView {
    const me: Member = { name, id: `${name}#${this.gen++}`, address, state: "alive", incarnation: 0 };
    this.truth.set(name, me);
    const v = new NodeView(name);
    for (const m of this.truth.values()) v.known.set(m.name, { ...m });
    this.views.set(name, v);
    for (const [n, other] of this.views) if (n !== name) other.set(me);
    return v;
  }

  /** Like add, but only `name` knows itself; call `reveal` to let others see it. */
  addHidden(name: string, address: string, sees: string[]): MembershipView {
    const me: Member = { name, id: `${name}#${this.gen++}`, address, state: "alive", incarnation: 0 };
    this.truth.set(name, me);
    const v = new NodeView(name);
    v.known.set(name, me);
    for (const s of sees) v.known.set(s, { ...this.truth.get(s)! });
    this.views.set(name, v);
    return v;
  }

  /** `name`'s current process, alive. */
  get(name: string): Member {
    const m = this.truth.get(name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return { ...m };
  }

  /** The member id of `name`'s current process. */
  idOf(name: string): string {
    return this.get(name).id;
  }

  view(name: string): MembershipView {
    return this.views.get(name)!;
  }

  /** `observer` now holds `subject` in `state`. */
  set(observer: string, subject: string, state: MemberState): void {
    const m = this.truth.get(subject)!;
    this.views.get(observer)!.set({ ...m, state });
  }

  /** Every node but `subject` (and `except`) holds `subject` in `state`. */
  setEverywhere(subject: string, state: MemberState, except: string[] = []): void {
    for (const n of this.views.keys()) if (n !== subject && !except.includes(n)) this.set(n, subject, state);
  }

  /** A restarted process under `name`: new id, alive to itself. */
  restart(name: string): MembershipView {
    const old = this.truth.get(name)!;
    const me: Member = { ...old, id: `${name}#${this.gen++}`, state: "alive" };
    this.truth.set(name, me);
    const v = new NodeView(name);
    for (const m of this.truth.values()) v.known.set(m.name, { ...m });
    this.views.set(name, v);
    return v;
  }

  /** Everyone who runs learns `subject`'s current identity is alive. */
  announce(subject: string): void {
    const m = this.truth.get(subject)!;
    for (const [n, v] of this.views) if (n !== subject) v.set({ ...m, state: "alive" });
  }
}
