/**
 * The changes of a received batch merged piece by piece over turns
 * (data-inbox.ts), told to the listeners (the apps' indexes, which every
 * read goes through) only once all of it is merged: a read never sees part
 * of one write, e.g. some of a walk-into's people (hostile-torn-walk).
 * Anything else about to touch one of its keys first has the rest of it
 * merged (the replicator asks the inbox), so the listeners hear every key's
 * changes in the map's order; other keys' changes go on being told at once
 * (this node's own writes must reach its indexes in the same turn: a room
 * owner plans the next admission on them).
 */
import type { Change, Delta } from "../../core/crdt/lww-map.ts";
import type { DataMessage } from "./data-inbox.ts";

export class HeldBatch {
  private held: { m: DataMessage; changes: Change[]; keys: Set<string> } | null = null;

  constructor(private readonly notify: (changes: Change[]) => void) {}

  /** The batch held, if any. */
  get message(): DataMessage | null {
    return this.held?.m ?? null;
  }

  /** Hold `changes`, those of a piece `delta` of batch `m` (a different batch held before was given up: told first). */
  add(m: DataMessage, delta: Delta, changes: readonly Change[]): void {
    if (this.held !== null && this.held.m !== m) this.release();
    const h = (this.held ??= { m, changes: [], keys: new Set() });
    for (const c of changes) h.changes.push(c);
    for (const e of delta.e) h.keys.add(e.k);
  }

  /** Whether `delta` touches a key held. */
  touches(delta: Delta): boolean {
    const h = this.held;
    return h !== null && delta.e.some((e) => h.keys.has(e.k));
  }

  /** Tell the held changes (the batch is whole, or was given up midway). */
  release(): void {
    const h = this.held;
    if (h === null) return;
    this.held = null;
    this.notify(h.changes);
  }
}
