/**
 * Fencing by the committed configuration's epoch. A node that starts owning
 * names under epoch E tells a majority of holders to adopt fence E, then
 * catches up from a majority. A replica refuses (merges nothing of, does not
 * ack) any write stamped below its fence, so an old owner's write still in
 * flight can no longer reach a majority once the new owner has caught up:
 * write concern "majority" of holders and catch-up from a majority intersect.
 *
 * Anti-entropy is not fenced: it carries entries whatever their epoch, and
 * the LWW merge decides. The fence is about which writes may be
 * acknowledged, not about which values exist.
 */

export class EpochFence {
  /** The stamp of new writes: the committed epoch (0 until set). */
  epoch = 0;
  /** Writes stamped below this are refused here; never falls. */
  fence = 0;
  /** The committed configuration's data holders (null until set). */
  holders: ReadonlySet<string> | null = null;
  /** Each holder's process (member id), when the configuration said: an ack from another process under its name does not count. */
  ids: ReadonlyMap<string, string> | null = null;
  /** Data messages this node refused as fenced. */
  refusedHere = 0;

  /**
   * The committed configuration: stamp `epoch`. The fence is NOT raised
   * here: a new owner first waits out the old owner's lease and only then
   * asks the holders to adopt the fence (registry/serving.ts), so a write the
   * old owner made inside its lease is accepted, not refused and left as an
   * orphan on its own replica. An epoch below the one already set is stale
   * news and ignored. Returns whether the holders changed (pending writes
   * need another look).
   */
  set(epoch: number, holders: readonly string[], ids?: ReadonlyMap<string, string>): boolean {
    check(epoch);
    if (epoch < this.epoch) return false;
    this.epoch = epoch;
    const next = new Set(holders);
    const sameIds = ids === undefined ? this.ids === null : this.ids !== null && sameMap(this.ids, ids);
    if (this.holders !== null && sameSet(this.holders, next) && sameIds) return false;
    this.holders = next;
    this.ids = ids ?? null;
    return true;
  }

  /** Another log (a new generation) numbers its epochs anew: stamp and fence start over at `epoch`. */
  reset(epoch: number): void {
    check(epoch);
    this.epoch = epoch;
    this.fence = epoch;
  }

  /** Raise the fence only (a peer told us a newer epoch exists). */
  adopt(epoch: number): void {
    check(epoch);
    if (epoch > this.fence) this.fence = epoch;
  }

  /** Whether a write stamped `stamp` must be refused here (and count it if so). */
  refuses(stamp: number): boolean {
    if (stamp >= this.fence) return false;
    this.refusedHere++;
    return true;
  }
}

function check(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`replication: epoch must be a non-negative integer, got ${epoch}`);
}

function sameMap(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

export function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
