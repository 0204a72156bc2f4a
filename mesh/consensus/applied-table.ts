/**
 * Exactly-once application of proposals. A proposal may reach the log twice
 * (a forward resent after a lost answer, or duplicated by the network):
 * each entry carries its proposer's id, its sequence number, and the lowest
 * sequence number the proposer still waits for. Every node applies only the
 * first copy and forgets sequence numbers below that floor. The table goes
 * into snapshots with the state machine, so every node drops the same copies.
 */
import type { StateMachine } from "./driver-types.ts";
import type { RaftLog } from "./log.ts";
import { ENTRY_COMMAND } from "./types.ts";

export class AppliedTable {
  #byOrigin = new Map<string, { floor: number; seen: Set<number> }>();

  /** Whether entry (origin, seq) is applied for the first time (and records it); `floor`: the proposer's lowest pending seq. */
  firstCopy(origin: string, seq: number, floor: number): boolean {
    let a = this.#byOrigin.get(origin);
    if (a === undefined) this.#byOrigin.set(origin, (a = { floor: 0, seen: new Set() }));
    if (floor > a.floor) {
      a.floor = floor;
      for (const x of a.seen) if (x < floor) a.seen.delete(x);
    }
    if (seq < a.floor || a.seen.has(seq)) return false;
    a.seen.add(seq);
    return true;
  }

  /** Apply a command entry's data (origin o, seq s, floor l, command c) to `machine` if it is the first copy: who proposed it and the outcome; null for a later copy. */
  applyFirst(data: unknown, machine: StateMachine): { o: string; s: number; error: unknown; result: unknown } | null {
    const { o, s, l, c } = data as { o: string; s: number; l?: number; c: unknown };
    if (!this.firstCopy(o, s, l ?? 0)) return null;
    try {
      return { o, s, error: null, result: machine.apply(c) };
    } catch (err) {
      return { o, s, error: err, result: undefined };
    }
  }

  /** Whether entry (origin, seq) was applied already (or lies below its proposer's floor). */
  has(origin: string, seq: number): boolean {
    const a = this.#byOrigin.get(origin);
    return a !== undefined && (seq < a.floor || a.seen.has(seq));
  }

  /** The machine's snapshot with this table: [4-byte length][table JSON][machine bytes]. */
  snapshot(machine: StateMachine): Uint8Array {
    const table = new TextEncoder().encode(JSON.stringify([...this.#byOrigin].map(([o, a]) => [o, a.floor, [...a.seen]])));
    const m = machine.snapshot();
    const out = new Uint8Array(4 + table.length + m.length);
    new DataView(out.buffer).setUint32(0, table.length);
    out.set(table, 4);
    out.set(m, 4 + table.length);
    return out;
  }

  /** Load a snapshot made by `snapshot()` into `machine`; the table it carried. */
  static restore(data: Uint8Array, machine: StateMachine): AppliedTable {
    const n = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
    const rows = JSON.parse(new TextDecoder().decode(data.subarray(4, 4 + n))) as [string, number, number[]][];
    const t = new AppliedTable();
    for (const [o, floor, seen] of rows) t.#byOrigin.set(o, { floor, seen: new Set(seen) });
    machine.restore(data.subarray(4 + n));
    return t;
  }
}

/**
 * Before a recovery (driver.ts recover()): applies every entry `log` holds
 * past `applied`, answering nobody; the last index applied. A leader may have
 * committed one with this node's ack and died before saying so (with two
 * voters a majority is both): a committed entry was acknowledged and must be
 * in the next generation. One never committed was never acknowledged
 * (`unavailable` means "not known to have happened"), so applying it is
 * allowed. Without it an acknowledged park was missing from the next
 * generation's lot (tests/sim-apps/recover-tail.test.ts).
 */
export function applyTail(table: AppliedTable, log: RaftLog, applied: number, machine: StateMachine): number {
  for (const e of log.slice(applied + 1, log.lastIndex(), Number.MAX_SAFE_INTEGER)) {
    applied = e.index;
    if (e.kind === ENTRY_COMMAND) table.applyFirst(e.data, machine);
  }
  return applied;
}
