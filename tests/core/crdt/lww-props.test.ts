/**
 * Property tests of the LWW map: replicas converge whatever the delivery
 * order, duplication, batching (joinDeltas) or wire round trips, and
 * anti-entropy by digest converges two arbitrary replicas.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type Delta, diffBuckets, joinDeltas, LwwMap } from "../../../core/crdt/lww-map.ts";
import { decodeDelta, encodeDelta } from "../../../core/crdt/lww-codec.ts";
import { compareTs, Hlc, type Timestamp } from "../../../core/crdt/hlc.ts";

const KEYS = ["person/alan", "person/jess", "person/lucy", "room/den", "room/kitchen", "vehicle/ABC 123"];
const START = 1_700_000_000_000;

const valueArb = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constant(null),
  fc.constantFrom("den", "kitchen", "é\u{1F600}"),
  fc.record({ room: fc.constantFrom("a", "b"), n: fc.nat(3) }),
);

const opArb = fc.record({
  writer: fc.nat(2),
  del: fc.boolean(),
  key: fc.constantFrom(...KEYS),
  value: valueArb,
  // the writer's wall clock moves by this much first; negative = stepped back
  step: fc.integer({ min: -40, max: 40 }),
});

/** One delivery of a delta: through the wire or not, and how many times. */
const deliveryArb = fc.record({ wire: fc.boolean(), copies: fc.integer({ min: 1, max: 2 }) });

interface Writer {
  hlc: Hlc;
  wall: number;
  map: LwwMap;
}

function snapshot(m: LwwMap): unknown {
  return [...m.raw()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function expectSame(a: LwwMap, b: LwwMap): void {
  expect(snapshot(a)).toEqual(snapshot(b));
  expect(a.size).toBe(b.size);
  expect(a.tombstones).toBe(b.tombstones);
  expect(diffBuckets(a.digest(), b.digest())).toEqual([]);
}

const viaWire = (d: Delta): Delta => decodeDelta(encodeDelta(d));

function maxTsOf(d: Delta): Timestamp {
  let m = d.e[0]!.ts;
  for (const e of d.e) if (compareTs(e.ts, m) > 0) m = e.ts;
  return m;
}

/** Run ops on three writer replicas; returns every delta with its origin. */
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

function runOps(ops: Op[], sharedIdentity: boolean, buckets: number, prefix = "w") {
  const writers: Writer[] = [0, 1, 2].map((i) => ({
    // With sharedIdentity two writers reuse one id, so equal timestamps with
    // different values happen and the tie-break must still converge.
    hlc: new Hlc(sharedIdentity && i === 2 ? `${prefix}1` : `${prefix}${i}`),
    wall: START,
    map: new LwwMap({ buckets }),
  }));
  const deltas: { from: number; d: Delta }[] = [];
  for (const op of ops) {
    const w = writers[op.writer]!;
    w.wall += op.step;
    const ts = w.hlc.now(w.wall);
    deltas.push({ from: op.writer, d: op.del ? w.map.delete(op.key, ts) : w.map.set(op.key, op.value, ts) });
  }
  return { writers, deltas };
}

describe("LWW map convergence (properties)", () => {
  test("three replicas converge under any delivery order, duplicates, batching and wire round trips", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.array(fc.nat(), { minLength: 60, maxLength: 60 }), fc.array(deliveryArb, { minLength: 60, maxLength: 60 }), fc.nat(4)), {
          minLength: 3,
          maxLength: 3,
        }),
        (ops, shared, plans) => {
          const { writers, deltas } = runOps(ops, shared, 8);
          writers.forEach((w, r) => {
            const [keys, deliveries, batch] = plans[r]!;
            // Every delta (its own ones echoed back too), in a random order.
            const incoming = deltas
              .map((x, i) => ({ ...x, rank: keys[i % keys.length]! * 100 + i }))
              .sort((a, b) => a.rank - b.rank);
            let pending: Delta[] = [];
            incoming.forEach((x, i) => {
              const how = deliveries[i % deliveries.length]!;
              const d = how.wire ? viaWire(x.d) : x.d;
              for (let c = 0; c < how.copies; c++) pending.push(d);
              // Sometimes deliver in batches joined into one delta.
              if (batch === 0 || pending.length >= batch) {
                const joined = batch % 2 === 0 ? pending : [joinDeltas(pending)];
                for (const p of joined) {
                  w.hlc.observe(maxTsOf(p), w.wall);
                  w.map.merge(p);
                }
                pending = [];
              }
            });
            for (const p of pending) w.map.merge(p);
          });
          expectSame(writers[0]!.map, writers[1]!.map);
          expectSame(writers[1]!.map, writers[2]!.map);
        },
      ),
      { numRuns: 150 },
    );
  });

  test("merging the deltas equals merging the full states", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.boolean(), fc.boolean(), (ops, shared, reverse) => {
        const { writers, deltas } = runOps(ops, shared, 16);
        const fromDeltas = new LwwMap({ buckets: 16 });
        const list = reverse ? [...deltas].reverse() : deltas;
        for (const { d } of list) fromDeltas.merge(d);
        const fromStates = new LwwMap({ buckets: 16 });
        for (const w of reverse ? [...writers].reverse() : writers) fromStates.merge(w.map.state());
        expectSame(fromDeltas, fromStates);
        // and one joined delta of everything is the same again
        const joined = new LwwMap({ buckets: 16 });
        joined.merge(joinDeltas(deltas.map((x) => x.d)));
        expectSame(joined, fromStates);
      }),
      { numRuns: 200 },
    );
  });

  test("encoding then decoding preserves what a merge produces", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const { writers, deltas } = runOps(ops, false, 16);
        const direct = new LwwMap({ buckets: 16 });
        const wired = new LwwMap({ buckets: 16 });
        for (const { d } of deltas) {
          const a = direct.merge(d);
          const b = wired.merge(viaWire(d));
          expect(b).toEqual(a);
        }
        expectSame(direct, wired);
        const fromState = new LwwMap({ buckets: 16 });
        for (const w of writers) fromState.merge(viaWire(w.map.state()));
        expectSame(direct, fromState);
      }),
      { numRuns: 200 },
    );
  });

  test("anti-entropy by digest converges two arbitrary replicas", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 40 }),
        fc.array(opArb, { maxLength: 40 }),
        fc.constantFrom(1, 4, 16, 256),
        fc.boolean(),
        (opsA, opsB, buckets, wire) => {
          // Two replicas that saw everything of two unrelated histories by
          // different writers. (The digest covers key, timestamp and writer,
          // not the value: writer ids are unique per process, so one
          // timestamp never carries two values.)
          const a = new LwwMap({ buckets });
          for (const { d } of runOps(opsA, false, buckets, "a").deltas) a.merge(d);
          const b = new LwwMap({ buckets });
          for (const { d } of runOps(opsB, false, buckets, "b").deltas) b.merge(d);
          const send = (d: Delta) => (wire ? viaWire(d) : d);
          // One round: compare digests, swap the entries of differing buckets.
          const diff = diffBuckets(a.digest(), b.digest());
          const toA = b.entriesIn(diff);
          const toB = a.entriesIn(diff);
          a.merge(send(toA));
          b.merge(send(toB));
          expectSame(a, b);
          // Only differing buckets travelled.
          for (const e of [...toA.e, ...toB.e]) expect(diff).toContain(a.bucketOf(e.k));
        },
      ),
      { numRuns: 200 },
    );
  });

  test("replicas that collect at the same horizon stay identical", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.nat(), (ops, pick) => {
        const { writers, deltas } = runOps(ops, false, 8);
        for (const w of writers) for (const { d } of deltas) w.map.merge(d);
        const all = deltas.flatMap((x) => x.d.e.map((e) => e.ts));
        const horizon = all[pick % all.length]!;
        for (const w of writers) w.map.collect(horizon);
        expectSame(writers[0]!.map, writers[1]!.map);
        expectSame(writers[0]!.map, writers[2]!.map);
        for (const [, en] of writers[0]!.map.raw()) expect(en.d && compareTs(en.ts, horizon) < 0).toBe(false);
        // and a fresh replica built from the collected state agrees
        const fresh = new LwwMap({ buckets: 8 });
        fresh.merge(writers[0]!.map.state());
        expectSame(fresh, writers[0]!.map);
      }),
      { numRuns: 150 },
    );
  });
});
