import { expect, test } from "bun:test";
import { deltaToWire, encodeDelta } from "../../../core/crdt/lww-codec.ts";
import type { DeltaEntry } from "../../../core/crdt/lww-map.ts";
import { STREAM_WINDOW } from "../../../mesh/replication/stream.ts";
import type { Message } from "../../../mesh/types.ts";
import { addr, converged, type TestCluster as Cluster, TestCluster, type TestNode, track } from "./harness.ts";

const CHUNK = 500;

function entries(n: number, prefix: string, w: number, writer = "A#1"): DeltaEntry[] {
  const e: DeltaEntry[] = [];
  for (let i = 0; i < n; i++) e.push({ k: `${prefix}${i}`, ts: { w, c: i, n: writer }, v: { room: `r${i % 97}` } });
  return e;
}

function printBytes(c: Cluster): number {
  return c.net.log.filter((s) => s.t === "ls").reduce((k, s) => k + (s.msg["p"] as Uint8Array).length, 0);
}

function aeEntries(c: Cluster): number {
  return c.net.count("ae").entries + c.net.count("ap").entries;
}

/** A and B hold the same `n` keys and have settled (their startup rounds are over). */
async function twoFull(n: number, config = {}, buckets?: number): Promise<{ c: TestCluster; a: TestNode; b: TestNode }> {
  const c = new TestCluster({ concern: 1, buckets, config: { chunkEntries: CHUNK, antiEntropyMs: 60_000, ...config } });
  for (const name of ["A", "B", "X"]) c.member(name);
  const data = entries(n, "person/p", c.clock.now() - 1000);
  const a = c.start("A");
  const b = c.start("B");
  a.map.absorb({ e: data });
  b.map.absorb({ e: data });
  await c.run(200);
  expect(converged([a, b])).toBe(true);
  return { c, a, b };
}

// 4 buckets x 256 leaves and 50,000 keys: ~49 keys per leaf, ~12,500 per
// bucket, as crowded as 1.2M keys in the default 256 x 256.
test("a differing key costs about one entry, not a bucket's worth nor a leaf's", async () => {
  const { c, a, b } = await twoFull(50_000, {}, 4);
  const ts = { w: c.clock.now(), c: 0, n: "B#2" };
  // Changed behind the replicator's back: only anti-entropy can repair it.
  b.map.absorb({ e: [{ k: "person/p123", ts, v: { room: "elsewhere" } }] });
  const before = aeEntries(c);
  const t = track(a.rep.catchUpFrom(["B"], 1, 10_000).then(() => {}));
  await c.until("pulled", () => t.state !== "pending");
  expect(t.state).toBe("resolved");
  expect(a.map.get("person/p123")).toEqual({ room: "elsewhere" });
  expect(converged([a, b])).toBe(true);
  // The changed entry, once (its leaf holds ~49 keys, its bucket ~12,500).
  expect(aeEntries(c) - before).toBe(1);
  c.stopAll();
});

test("k differing keys cost about k entries, each way", async () => {
  const { c, a, b } = await twoFull(50_000, {}, 4);
  const ts = { w: c.clock.now(), c: 0, n: "B#2" };
  const changed: DeltaEntry[] = [];
  for (let i = 0; i < 200; i++) changed.push({ k: `person/p${i * 241}`, ts, v: { room: "moved" } });
  b.map.absorb({ e: changed });
  // And 100 keys only A holds: its push back brings them to B.
  a.map.absorb({ e: entries(100, "room/r", c.clock.now(), "A#1") });
  const before = { ae: c.net.count("ae").entries, ap: c.net.count("ap").entries, lsBytes: printBytes(c) };
  const t = track(a.rep.catchUpFrom(["B"], 1, 10_000).then(() => {}));
  await c.until("pulled and pushed back", () => t.state !== "pending" && converged([a, b]));
  expect(c.net.count("ae").entries - before.ae).toBe(200);
  expect(c.net.count("ap").entries - before.ap).toBe(100);
  // The price: 8 bytes of print per key A holds in the ~300 differing leaves (~49 each).
  expect(printBytes(c) - before.lsBytes).toBeLessThan(300 * 60 * 8);
  c.stopAll();
});

test("an empty node catching up from two peers fetches the map once, in chunks, at most a window in flight", async () => {
  const n = 30_000;
  const { c, a, b } = await twoFull(n);
  // Turns: the simulator runs one timer (a message delivery, a stream step) per step.
  const turnOf: number[] = [];
  const push = c.net.log.push.bind(c.net.log);
  c.net.log.push = (...items) => {
    for (let k = 0; k < items.length; k++) turnOf.push(c.clock.fired);
    return push(...items);
  };
  const logFrom = c.net.log.length;
  const x = c.start("X");
  let mergedInTurn = 0;
  let maxMerged = 0;
  let lastTurn = -1;
  x.rep.onChange((changes) => {
    if (c.clock.fired !== lastTurn) (lastTurn = c.clock.fired), (mergedInTurn = 0);
    mergedInTurn += changes.length;
    maxMerged = Math.max(maxMerged, mergedInTurn);
  });
  const t = track(x.rep.catchUpFrom(["A", "B"], 2, 60_000).then(() => {}));
  await c.until("caught up", () => t.state !== "pending", 60_000);
  expect(t.state).toBe("resolved");
  expect(x.map.size).toBe(n);
  expect(converged([a, b, x])).toBe(true);

  const sent = c.net.log.slice(logFrom);
  const chunks = sent.filter((s) => s.t === "ae" && s.to === addr("X"));
  // Once, not once per peer (nor pushed back at it as well).
  expect(chunks.reduce((k, s) => k + s.entries, 0) + c.net.count("ap").entries).toBe(n);
  expect(chunks.length).toBeGreaterThanOrEqual(n / CHUNK);
  for (const s of chunks) expect(s.entries).toBeLessThanOrEqual(CHUNK);
  // Window: chunk c leaves only once X acked all but W-1 of the chunks before it.
  const acked = new Map<string, Set<number>>();
  for (const s of sent) {
    const r = `${s.to}/${String(s.msg["r"])}`;
    if (s.t === "ak") {
      const k = `${s.from}/${String(s.msg["r"])}`;
      if (!acked.has(k)) acked.set(k, new Set());
      acked.get(k)!.add(s.msg["c"] as number);
    } else if (s.t === "ae" && s.to === addr("X")) {
      expect(acked.get(r)?.size ?? 0).toBeGreaterThanOrEqual((s.msg["c"] as number) + 1 - STREAM_WINDOW);
    }
  }
  // No turn encodes more than one chunk, nor merges more than one.
  const perTurn = new Map<number, number>();
  sent.forEach((s, k) => {
    if (s.t !== "ae") return;
    const turn = turnOf[k]!;
    perTurn.set(turn, (perTurn.get(turn) ?? 0) + s.entries);
  });
  expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(CHUNK);
  expect(maxMerged).toBeLessThanOrEqual(CHUNK);
  c.stopAll();
});

test("a pull while writes are in flight completes, and the writes reach the new node too", async () => {
  const { c, a, b } = await twoFull(20_000);
  const x = c.start("X");
  let n = 0;
  const writes: ReturnType<typeof track>[] = [];
  const writer = (): void => {
    for (let k = 0; k < 20; k++) writes.push(track(a.set(`person/p${(n++ * 7919) % 20_000}`, { room: `moved${n}` })));
    if (t.state === "pending") c.clock.setTimer(2, writer);
  };
  const t = track(x.rep.catchUpFrom(["A", "B"], 2, 60_000).then(() => {}));
  writer();
  await c.until("caught up", () => t.state !== "pending", 60_000);
  expect(t.state).toBe("resolved");
  expect(n).toBeGreaterThan(20);
  await c.until("writes everywhere", () => writes.every((w) => w.state === "resolved") && converged([a, b, x]), 10_000);
  expect(x.map.size).toBe(20_000);
  c.stopAll();
});

test("a lost chunk and a lost ack are sent again, and the transfer completes", async () => {
  const { c, a } = await twoFull(5_000);
  const x = c.start("X");
  c.net.dropNextMatching(addr("A"), addr("X"), "ae", 1);
  c.net.dropNextMatching(addr("X"), addr("A"), "ak", 1);
  const t = track(x.rep.catchUpFrom(["A"], 1, 60_000).then(() => {}));
  await c.until("caught up", () => t.state !== "pending", 60_000);
  expect(t.state).toBe("resolved");
  expect(x.map.size).toBe(5_000);
  expect(converged([a, x])).toBe(true);
  const chunks = c.net.log.filter((s) => s.t === "ae" && s.from === addr("A") && s.to === addr("X"));
  const distinct = new Set(chunks.map((s) => `${String(s.msg["r"])}/${String(s.msg["c"])}`));
  expect(chunks.length).toBeGreaterThan(distinct.size);
  c.stopAll();
});

test("a responder that goes silent mid-transfer fails the round, and the next pull completes it", async () => {
  const { c, a } = await twoFull(20_000, { roundTimeoutMs: 1000 });
  c.net.isolate(addr("B")); // X has only A to fetch from
  const x = c.start("X");
  const first = track(x.rep.catchUpFrom(["A"], 1, 3000).then(() => {}));
  await c.until("transfer under way", () => x.map.size > 0, 10_000, 0.2);
  expect(x.map.size).toBeLessThan(20_000);
  c.net.block(addr("A"), addr("X"));
  await c.until("first attempt over", () => first.state !== "pending", 10_000);
  expect(first.state).toBe("rejected");
  expect(x.map.size).toBeLessThan(20_000);
  c.net.unblock(addr("A"), addr("X"));
  const again = track(x.rep.catchUpFrom(["A"], 1, 60_000).then(() => {}));
  await c.until("second attempt", () => again.state !== "pending", 60_000);
  expect(again.state).toBe("resolved");
  expect(converged([a, x])).toBe(true);
  c.stopAll();
});

test("malformed leaf digests, asks and chunks are refused whole and counted", async () => {
  const { c, a, b } = await twoFull(100);
  const from = { n: "A", i: c.membership.get("A").id };
  const ts = { w: c.clock.now(), c: 0, n: from.i };
  const good = encodeDelta({ e: [{ k: "injected", ts, v: 1 }] });
  const garbage: Message[] = [
    { t: "ae", ...from, r: 1, c: 0, d: good, hz: null }, // no last flag
    { t: "ae", ...from, r: 1, c: -1, l: true, d: good, hz: null },
    { t: "ae", ...from, r: 1, c: 0, l: "yes", d: good, hz: null },
    { t: "ae", ...from, r: 1, c: 0, l: true, d: "nope", hz: null },
    { t: "ae", ...from, r: 1, c: 0, l: true, d: good, hz: [1, 2] },
    { t: "ap", ...from, r: 1, c: 1 << 30, l: true, d: deltaToWire({ e: [{ k: "injected", ts, v: 1 }] }) },
    { t: "ak", ...from, r: 1, c: "0" },
    { t: "lf", ...from, r: 1, b: [3], h: new Uint8Array(8), e: [], hz: null },
    { t: "lf", ...from, r: 1, b: [3], h: new Uint8Array(256 * 8), e: [3], hz: null },
    { t: "lf", ...from, r: 1, b: [], h: new Uint8Array(0), e: [], hz: null },
    { t: "lw", ...from, r: 1, m: new Uint8Array(5), z: 10 },
    { t: "lw", ...from, r: 1, m: new Uint8Array(256 * 32), z: 0 },
    { t: "lw", ...from, r: 1, m: new Uint8Array(256 * 32), z: 10 }, // no print bitmap
    { t: "ls", ...from, r: 1, c: 0, l: true, p: new Uint8Array(7) },
    { t: "ls", ...from, r: 1, c: 0, l: true, p: new Uint8Array(new Float64Array([-1]).buffer) },
    { t: "ls", ...from, r: 1, c: 0, l: true, p: new Uint8Array(new Float64Array([0.5]).buffer) },
    { t: "lk", ...from, r: 1, c: -1 },
    { t: "ae", ...from, r: 1, c: 0, l: true, d: good, hz: null, u: new Uint8Array(3) },
  ];
  for (const m of garbage) c.net.inject(addr("A"), addr("B"), m);
  await c.run(100);
  expect(b.rep.stats().malformedDropped).toBe(garbage.length);
  expect(b.map.has("injected")).toBe(false);
  // A well-formed chunk of the same content is merged (and acked).
  c.net.inject(addr("A"), addr("B"), { t: "ae", ...from, r: 1, c: 0, l: true, d: good, hz: null });
  await c.run(100);
  expect(b.map.get("injected")).toBe(1);
  expect(c.net.count("ak", addr("B"), addr("A")).messages).toBeGreaterThanOrEqual(1);
  void a;
  c.stopAll();
});
