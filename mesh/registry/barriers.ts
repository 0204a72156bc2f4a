/**
 * The registry's read and write barriers (read-barrier.ts sharing and holder
 * rules; the replicator's pulls by covers and by clocks), and the clock
 * reading a call carries so that a call forwarded by another holder has
 * done the write barrier's work (callVouched).
 */
import type { Hlc } from "../../core/crdt/hlc.ts";
import type { Clock } from "../types.ts";
import { type HolderConfig, isHolder, majorityOf } from "./holders.ts";
import { ReadBarrier } from "./read-barrier.ts";
import type { FencingReplicator } from "./serving.ts";

export interface BarrierDeps {
  self: { name: string; id: string };
  config(): HolderConfig | null;
  idOf(name: string): string | undefined;
  replicator: FencingReplicator;
  hlc: Hlc;
  clock: Clock;
  timeoutMs: number;
}

const LEASED = Promise.resolve();

export function createBarriers(d: BarrierDeps) {
  const { replicator: r, hlc, clock, self } = d;
  const pullFresh = (p: readonly string[], n: number, t: number) => (r.barrierFrom !== undefined ? r.barrierFrom(p, n, t) : r.catchUpFrom(p, n, t, true));
  const reads = new ReadBarrier({ self, config: d.config, idOf: d.idOf, catchUpFrom: pullFresh, timeoutMs: d.timeoutMs });
  // The same sharing and holder rules, asking clocks instead of data (clock-barrier.ts).
  const writes = new ReadBarrier({ self, config: d.config, idOf: d.idOf, catchUpFrom: (p, n, t) => (r.clockFrom !== undefined ? r.clockFrom(p, n, t) : pullFresh(p, n, t)), timeoutMs: d.timeoutMs });
  return {
    // A read lease from every other holder: every write acknowledged before now is here already (read-lease.ts).
    readBarrier: (): Promise<void> => {
      const c = d.config();
      return c !== null && r.readLease?.(c.holders) === true ? LEASED : reads.wait();
    },
    // Under concern 1, 2 or all no majority orders acknowledged writes (README, Write concern): no barrier.
    writeBarrier: (): Promise<void> => (r.ordersWrites?.() === false ? Promise.resolve() : writes.wait()),
    /** This node's clock reading, sent with every call. */
    reading(): [number, number, string] {
      const ts = hlc.last();
      return [ts.w, ts.c, ts.n];
    },
    /** The clock reading a call carried, observed: the sender's process id, or undefined (none, malformed, or refused as too far ahead). */
    vouchOf(k: unknown): string | undefined {
      if (!Array.isArray(k) || k.length !== 3 || !Number.isSafeInteger(k[0]) || !Number.isSafeInteger(k[1]) || typeof k[2] !== "string") return undefined;
      try {
        hlc.observe({ w: k[0] as number, c: k[1] as number, n: k[2] as string }, clock.now());
      } catch {
        return undefined;
      }
      return k[2] as string;
    },
    /** Whether a call vouched by process `id` did the write barrier's work: another holder that with this one makes a majority (three holders). */
    vouched(id: string | null): boolean {
      const c = d.config();
      if (id === null || c === null || id === self.id) return false;
      const need = majorityOf(c) - (isHolder(c, self.name, self.id) ? 1 : 0);
      return need <= 1 && c.holders.some((h) => h.id === id && h.name !== self.name);
    },
  };
}
