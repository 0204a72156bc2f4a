/**
 * GET /v1/crdt is made a slice per turn (http/crdt-json.ts): the text is
 * what the one-turn version wrote (orderedJson of the sorted entries), and
 * other work runs between the slices.
 */
import { turnsDuring } from "../support/turns.ts";
import { expect, test } from "bun:test";
import { LwwMap } from "../../core/crdt/lww-map.ts";
import { CRDT_SLICE, crdtResponse } from "../../http/crdt-json.ts";
import { orderedJson } from "../../http/json.ts";

/** The body as the route made it in one turn before. */
function oneTurn(name: string, map: LwwMap): string {
  const raw = [...map.raw()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const entries = Object.create(null) as Record<string, unknown>;
  for (const [k, e] of raw) entries[k] = e.d ? { d: true, ts: e.ts } : { v: e.v, ts: e.ts };
  return orderedJson({ node: name, keys: map.size, tombstones: map.tombstones, entries });
}

function filled(n: number): LwwMap {
  const map = new LwwMap();
  const odd = ["7", "10", "__proto__", "constructor", "toJSON", "é😀", 'q"uote', "back\\slash", "\u2028", ""];
  odd.forEach((k, i) => map.set(k, { capacity: i, "3": "x" }, { w: 500 + i, c: i, n: "a" }));
  for (let i = 0; i < n; i++) {
    if (i % 7 === 3) map.delete(`person/p${i}`, { w: 2000 + i, c: 0, n: "b" });
    else map.set(`person/p${i}`, `room-${i % 13}`, { w: 1000 + i, c: 1, n: "c" });
  }
  return map;
}

test("the body equals the one-turn text, tombstones, odd keys and integer-like keys included, whatever the slice", async () => {
  const map = filled(3_000);
  const want = oneTurn("n1", map);
  for (const slice of [1, 7, 1000, CRDT_SLICE]) {
    const res = await crdtResponse({ name: "n1", map }, slice);
    expect({ slice, text: await res.text() }).toEqual({ slice, text: want });
    expect(res.headers.get("content-type")).toContain("application/json");
  }
  expect(await (await crdtResponse({ name: "n0", map: new LwwMap() })).text()).toBe(oneTurn("n0", new LwwMap()));
});

test("other work runs between the slices", async () => {
  const map = filled(6 * 1000);
  const { value: text, turns } = await turnsDuring(async () => (await crdtResponse({ name: "n1", map }, 1000)).text());
  expect(text).toBe(oneTurn("n1", map));
  // Read, sort (runs and each merge level) and write each take several turns.
  expect(turns).toBeGreaterThanOrEqual(15);
});
