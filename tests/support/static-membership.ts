/**
 * A membership double for tests: one shared table of members that the test
 * edits directly (down, up, restart, leave). Every node's view reads the same
 * table, and every change is announced to every view's subscribers, like
 * gossip that converged instantly.
 */
import type { Member, MemberEvent, MemberEventType, MembershipView, MemberState } from "../../mesh/membership/types.ts";
import type { Address } from "../../mesh/types.ts";

export class StaticMembership {
  private readonly table = new Map<string, Member>();
  private readonly subscribers = new Set<(ev: MemberEvent) => void>();
  private generation = 0;

  /** Add a member (alive) and return it. */
  add(name: string, address: Address): Member {
    const m: Member = { name, id: `${name}#${++this.generation}`, address, state: "alive", incarnation: 0 };
    this.table.set(name, m);
    this.emit("up", m);
    return m;
  }

  get(name: string): Member {
    const m = this.table.get(name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  /** Declare `name` dead (down), suspect, alive again, or gone (left). */
  set(name: string, state: MemberState): void {
    const m = this.get(name);
    const next: Member = { ...m, state };
    this.table.set(name, next);
    const type: MemberEventType = state === "dead" ? "down" : state === "alive" ? (m.state === "dead" ? "up" : "alive") : state;
    this.emit(type, next);
  }

  /** A new process under the same name: new identity, alive. */
  restart(name: string): Member {
    const m = this.get(name);
    const next: Member = { ...m, id: `${name}#${++this.generation}`, state: "alive", incarnation: 0 };
    this.table.set(name, next);
    this.emit("up", next);
    return next;
  }

  /** The view node `name` sees. */
  view(name: string): MembershipView {
    return {
      self: () => this.get(name),
      members: () => [...this.table.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
      live: () =>
        [...this.table.values()]
          .filter((m) => m.state === "alive" || m.state === "suspect" || m.name === name)
          .sort((a, b) => (a.name < b.name ? -1 : 1)),
      subscribe: (fn) => {
        this.subscribers.add(fn);
        return () => this.subscribers.delete(fn);
      },
    };
  }

  private emit(type: MemberEventType, member: Member): void {
    for (const fn of [...this.subscribers]) fn({ type, member });
  }
}
