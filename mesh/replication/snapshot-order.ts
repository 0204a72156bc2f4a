/**
 * A whole map sent to a node that holds nothing (a joiner, a restarted
 * node), in an order an app chose: the receiver's app index then takes the
 * entries grouped (the rooms app: room by room), not in hash order. At 1.2M
 * keys the rooms index took ~3.4 s of the receiver's ~5 s in hash order and
 * ~0.3 s room by room: a person in a room just touched is in cache.
 *
 * Two phases, every entry at least once (a merge is idempotent, so twice is
 * only a cost):
 *   1. the app's walk: keys in its order, each sent as the map holds it then;
 *   2. the map in bucket order, skipping a key only if the walk covers it
 *      (says it sent it, for the key as the map holds it now) and it did not
 *      change (visibly, by the replicator's change listeners) since the walk
 *      began. A key unchanged since then was sent by the walk as it is; one
 *      that changed goes here, as it is now. If more keys change than
 *      MAX_CHANGED, phase 2 skips nothing. If no key changed, the map holds
 *      no tombstone and the walk sent as many live keys as it holds, the
 *      walk sent them all: no phase 2.
 * Memory: the changed keys (at most MAX_CHANGED) and what the walk keeps
 * (the rooms app: the room names, one room's keys at a time); both phases
 * look at a bounded number of keys per turn, as every chunk source does.
 * A node filled this way holds a few keys of every leaf until it is done:
 * another holder's round with it meanwhile finds it lacking most of what
 * that holder has there, and pushes it no second copy (ae-push.ts).
 */
import type { Change, DeltaEntry, LwwMap } from "../../core/crdt/lww-map.ts";
import { type ChunkSource, leafSource } from "./stream.ts";

const orders = new WeakMap<LwwMap, SnapshotOrder>();

/** Give (or, with null, take back) the order whole-map transfers of `map` go in: an app does, for its node's replica. */
export function setSnapshotOrder(map: LwwMap, order: SnapshotOrder | null): void {
  if (order === null) orders.delete(map);
  else orders.set(map, order);
}

/** The order set for `map`, if any. */
export function snapshotOrderOf(map: LwwMap): SnapshotOrder | undefined {
  return orders.get(map);
}

/** An app's order for whole-map transfers (setSnapshotOrder). */
export interface SnapshotOrder {
  /** A new walk, from the map as it is now. */
  begin(): SnapshotWalk;
}

export interface SnapshotWalk {
  /**
   * Append up to `max` more keys (a bounded amount of work); true once the
   * walk is over. While the map does not change, no key is given twice.
   */
  next(out: string[], max: number): boolean;
  /**
   * Asked once the walk is over: whether it sent `key` if the key held `e`
   * (as now) without a break since begin(). False is always safe (the key
   * goes in phase 2).
   */
  covers(key: string, e: DeltaEntry): boolean;
}

/** Keys changed during a transfer noted at most; past it, phase 2 sends every key. */
export const MAX_CHANGED = 262_144;

/** Scans of phase 2 per call of next() at most (each looks at up to a chunk's keys). */
const PHASE2_CALLS = 8;
/** Walk steps (keys looked up) per call of next() at most. */
const KEYS_PER_TURN = 16_384;
/** Walk steps between looks at the caller's time budget. */
const WALK_PIECE = 512;

export interface OrderedHost {
  readonly map: LwwMap;
  onChange(fn: (changes: Change[]) => void): () => void;
}

/** The entry the map holds for `key`, as a delta entry (undefined: none). */
function entryOf(map: LwwMap, key: string): DeltaEntry | undefined {
  const e = map.entry(key);
  if (e === undefined) return undefined;
  return e.d ? { k: key, ts: e.ts, d: true } : { k: key, ts: e.ts, v: e.v };
}

/**
 * The ChunkSource of a whole-map transfer in `order`'s order. `want` flags
 * the leaves asked for: phase 2 looks only there; the walk sends its keys
 * wherever they are (a key of a leaf not asked for is one the receiver
 * holds: merging it changes nothing). `stop()` must be called once the
 * stream ends (it stops noting changes).
 */
export function orderedSource(h: OrderedHost, order: SnapshotOrder, want: Uint8Array): ChunkSource & { stop(): void } {
  let changed: Set<string> | null = new Set();
  const unsubscribe = h.onChange((changes) => {
    if (changed === null) return;
    for (const c of changes) changed.add(c.key);
    if (changed.size > MAX_CHANGED) changed = null;
  });
  const walk = order.begin();
  const keys: string[] = [];
  let walking = true;
  /** live entries the walk sent */
  let live = 0;
  // Phase 2: what the walk did not send as it is now.
  const rest = leafSource(h.map, want, (e) => (changed === null || changed.has(e.k) || !walk.covers(e.k, e) ? e : undefined));
  return {
    next(out, max, overBudget) {
      if (walking) {
        // With a time budget, WALK_PIECE keys at a time until it runs out (a chunk's 4,000 took
        // 20-40 ms of an owner's turn in the scale run); without, one step of up to a chunk.
        let left = Math.min(max, KEYS_PER_TURN);
        do {
          keys.length = 0;
          walking = !walk.next(keys, overBudget === undefined ? left : Math.min(left, WALK_PIECE));
          left -= Math.max(1, keys.length);
          for (const k of keys) {
            const e = entryOf(h.map, k);
            if (e === undefined) continue;
            out.push(e);
            if (e.d !== true) live++;
          }
        } while (walking && left > 0 && overBudget !== undefined && !overBudget());
        // Nothing changed and no tombstone: the walk's keys (never one twice) are every key
        // there is (a live key leaves only by a visible change), as they are. Phase 2 would
        // look at every key (~1 s of this node's time at 1.2M) to send none.
        return !walking && changed !== null && changed.size === 0 && h.map.tombstones === 0 && live === h.map.size;
      }
      // Most keys are skipped here: look at up to PHASE2_CALLS scans' worth per turn, not one
      // (a scan takes at most `max` keys, before the skipping). `out` may hold some already.
      const target = out.length + max;
      // Within the caller's time budget, if it gives one (stream.ts: a loaded owner took 100-240 ms a turn here).
      for (let k = 0; k < PHASE2_CALLS && out.length < target; k++) {
        if (rest.next(out, target - out.length, overBudget)) return true;
        if (overBudget?.() === true) break;
      }
      return false;
    },
    stop: unsubscribe,
  };
}
