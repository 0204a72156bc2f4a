/**
 * "Swept": a previous owner's word that it handed over everything it ran for
 * the asker's epoch (nothing leaving, no handoff in flight to the asker). A
 * new owner asks ({sq}) before it counts a name as free of its old owner.
 */
import type { Stamp } from "./lease.ts";
import type { SweptMsg } from "./messages.ts";

/** Which previous owners said they are swept, at which stamp. */
export class SweptMarks {
  private readonly by = new Map<string, Stamp>();
  constructor(private readonly stamp: () => Stamp) {}

  isSwept(node: string): boolean {
    const s = this.by.get(node);
    const mine = this.stamp();
    return s !== undefined && s.g === mine.g && s.e >= mine.e;
  }

  /** Note `node`'s answer; true when it now counts as swept. */
  record(node: string, m: Stamp): boolean {
    const prev = this.by.get(node);
    if (prev === undefined || prev.g !== m.g || prev.e < m.e) this.by.set(node, { g: m.g, e: m.e });
    return this.isSwept(node);
  }
}

/**
 * Our answer to a sweep question at `asked`, or null while we are not done
 * (or at another stamp). `empty`: this process never served and runs
 * nothing (a node restarted under a previous owner's name, outside the log):
 * it has nothing to hand over at any stamp, and says so at the asker's.
 */
export function sweptAnswer(mine: Stamp, asked: Stamp, leaving: number, inFlightToAsker: number, empty = false): SweptMsg | null {
  if (leaving > 0 || inFlightToAsker > 0) return null;
  if (empty) return { t: "sw", g: asked.g, e: asked.e };
  if (mine.g !== asked.g || mine.e < asked.e) return null;
  return { t: "sw", g: mine.g, e: mine.e };
}
