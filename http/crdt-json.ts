/**
 * GET /v1/crdt's body: every key of the replica (tombstones too) with its
 * stamp, sorted by key, as { node, keys, tombstones, entries }. At 1.2M keys
 * making it in one turn (copy, sort, one object, one JSON text) held the
 * node's event loop 9-12 s: its peers suspected it and a leader lost its
 * term (tests/cluster/hostile-churn). Here each step goes a slice per turn:
 * the entries are read by the map's bounded scan (started over should a
 * compaction renumber them meanwhile), sorted as runs of CRDT_SLICE merged
 * pairwise a slice at a time, and written as bytes into one buffer, freed
 * once the server wrote it. A key written while the body is made is given
 * as it was when read: the view of a replica under writes, as any read of
 * it is.
 */
import { runtimeDefer } from "../adapter/defer.ts";
import { LEAVES } from "../core/crdt/lww-digest.ts";
import type { DeltaEntry, LwwMap } from "../core/crdt/lww-map.ts";
import { orderedJson } from "./json.ts";
import { JsonBytes, releasedJsonResponse } from "./json-bytes.ts";

/** Entries read, sorted, merged or written per turn. */
export const CRDT_SLICE = 20_000;
/** A walk started over this often (compactions under a write storm) ends in one go. */
const MAX_RESTARTS = 3;

const turn = (): Promise<void> => new Promise<void>((resolve) => runtimeDefer(resolve));

/** The replica's entries, read CRDT_SLICE a turn. */
async function readEntries(map: LwwMap, slice: number): Promise<DeltaEntry[]> {
  const want = new Uint8Array(map.buckets * LEAVES).fill(1);
  for (let restarts = 0; ; restarts++) {
    const out: DeltaEntry[] = [];
    const layout = map.layout;
    const budget = restarts >= MAX_RESTARTS ? Infinity : slice;
    let at = 0;
    while (at >= 0) {
      at = map.scan(want, at, budget, budget, out);
      if (at < 0) break;
      await turn();
      if (map.layout !== layout) break;
    }
    if (at < 0) return out;
  }
}

const byKey = (a: DeltaEntry, b: DeltaEntry): number => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0);

/** `all` sorted by key: runs of `slice` sorted one a turn, then merged pairwise, `slice` entries a turn. */
async function sortEntries(all: DeltaEntry[], slice: number): Promise<DeltaEntry[]> {
  let runs: DeltaEntry[][] = [];
  for (let i = 0; i < all.length; i += slice) {
    runs.push(all.slice(i, i + slice).sort(byKey));
    if (i + slice < all.length) await turn();
  }
  if (runs.length === 0) return [];
  let done = 0;
  while (runs.length > 1) {
    const next: DeltaEntry[][] = [];
    for (let r = 0; r < runs.length; r += 2) {
      const a = runs[r]!;
      const b = runs[r + 1];
      if (b === undefined) {
        next.push(a);
        continue;
      }
      const out = new Array<DeltaEntry>(a.length + b.length);
      let i = 0;
      let j = 0;
      let k = 0;
      while (i < a.length || j < b.length) {
        out[k++] = j >= b.length || (i < a.length && byKey(a[i]!, b[j]!) <= 0) ? a[i++]! : b[j++]!;
        if (++done % slice === 0) await turn();
      }
      next.push(out);
    }
    runs = next;
  }
  return runs[0]!;
}

/** The response, made a slice per turn (see the top of this file). */
export async function crdtResponse(node: { name: string; map: LwwMap }, slice = CRDT_SLICE): Promise<Response> {
  const { map } = node;
  const sorted = await sortEntries(await readEntries(map, slice), slice);
  const out = new JsonBytes(sorted.length);
  out.text(`{"node":${JSON.stringify(node.name)},"keys":${map.size},"tombstones":${map.tombstones},"entries":{`);
  let prev: string | undefined;
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    // A key read twice (moved by a compaction during the walk's last pass) is given once.
    if (e.k !== prev) {
      const ts = { w: e.ts.w, c: e.ts.c, n: e.ts.n };
      out.text((prev === undefined ? "" : ",") + JSON.stringify(e.k) + ":" + orderedJson(e.d === true ? { d: true, ts } : { v: e.v, ts }));
      prev = e.k;
    }
    out.done = i + 1;
    if ((i + 1) % slice === 0) await turn();
  }
  out.text("}}");
  return releasedJsonResponse(out.bytes());
}
