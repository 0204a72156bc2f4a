/**
 * A piece of a peer's writes merged here (the inbox's and anti-entropy's
 * merges): its newest stamp observed by our clock first (a stamp the clock
 * refuses stops it, unmerged), and a piece of a batch bigger than one held
 * back from the listeners until the batch is whole (held-batch.ts).
 */
import { compareTs, type Timestamp } from "../../core/crdt/hlc.ts";
import type { Change, Delta, LwwMap } from "../../core/crdt/lww-map.ts";
import type { Logger } from "../types.ts";
import type { DataMessage } from "./data-inbox.ts";
import type { HeldBatch } from "./held-batch.ts";
import type { Sender } from "./messages.ts";
import type { MessageCounts } from "./stats.ts";

export interface MergeHost {
  readonly map: LwwMap;
  readonly logger: Logger;
  readonly n: MessageCounts;
  readonly held: HeldBatch;
  observe(ts: Timestamp): void;
  /** merge into the map; the changes (listeners see them later or now) */
  mergeQuiet(delta: Delta): Change[];
  /** merge and tell the listeners now */
  apply(delta: Delta): void;
}

/** Merge `delta` from `from`; false: the clock refused its timestamps (nothing merged). */
export function mergeRemote(h: MergeHost, delta: Delta, from: Sender): boolean {
  if (delta.e.length === 0) return true;
  let max = delta.e[0]!.ts;
  for (const e of delta.e) if (compareTs(e.ts, max) > 0) max = e.ts;
  try {
    h.observe(max);
  } catch (err) {
    h.n.refused++;
    h.logger.warn("replication: refused a delta whose timestamp the clock refuses", { from: from.n, error: String(err) });
    return false;
  }
  // A piece of a batch bigger than one: held back until the batch is whole (merged()).
  if ((from as Partial<DataMessage>).t === "d" && (from as DataMessage).delta !== delta) {
    h.held.add(from as DataMessage, delta, h.mergeQuiet(delta));
    return true;
  }
  h.apply(delta);
  return true;
}
