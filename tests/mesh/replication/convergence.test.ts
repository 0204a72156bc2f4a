import { expect, test } from "bun:test";
import { compareTs, type Timestamp } from "../../../core/crdt/hlc.ts";
import { SeededRandom } from "../../../mesh/sim/random.ts";
import { addr, converged, TestCluster, track } from "./harness.ts";

interface Issued {
  ts: Timestamp;
  value: number | undefined;
}

/**
 * Random sets and deletes on random nodes while the network loses,
 * duplicates and reorders, one node is cut off for a while, and tombstone
 * collection runs throughout. Every replica must end equal to the model:
 * per key, the write with the largest timestamp (absent if it was a delete).
 */
async function chaos(seed: number): Promise<void> {
  const c = new TestCluster({
    seed,
    concern: 2,
    net: { loss: 0.2, duplicate: 0.1, reorder: true, delayMinMs: 0.5, delayMaxMs: 30 },
    config: { ackTimeoutMs: 2000 },
  });
  const names = ["A", "B", "C"];
  for (const n of names) c.member(n);
  for (const n of names) c.start(n);
  const rng = new SeededRandom(`writes/${seed}`);
  const model = new Map<string, Issued>();
  const writes: ReturnType<typeof track>[] = [];
  const cut = names[rng.int(3)]!;
  for (let step = 0; step < 80; step++) {
    if (step === 25) c.net.isolate(addr(cut));
    if (step === 50) c.net.rejoin(addr(cut));
    const burst = 1 + rng.int(20);
    for (let k = 0; k < burst; k++) {
      const node = c.node(names[rng.int(3)]!);
      const key = `k${rng.int(120)}`;
      const ts = node.hlc.now(c.clock.now());
      const del = rng.float() < 0.3;
      const value = del ? undefined : rng.int(1000);
      writes.push(track(node.rep.write({ e: [del ? { k: key, ts, d: true } : { k: key, ts, v: value }] })));
      const cur = model.get(key);
      if (cur === undefined || compareTs(ts, cur.ts) > 0) model.set(key, { ts, value });
    }
    await c.run(rng.int(40));
  }
  await c.until("converged under loss", () => converged([...c.nodes.values()]), 60_000, 20);
  await c.until("writes settled", () => writes.every((w) => w.state !== "pending"), 10_000);
  const expected = new Map<string, number>();
  for (const [k, w] of model) if (w.value !== undefined) expected.set(k, w.value);
  for (const n of c.nodes.values()) expect(new Map(n.map.entries())).toEqual(expected);
  // Once quiet, equal digests prove every tombstone is everywhere: all are collected.
  await c.until("tombstones collected", () => [...c.nodes.values()].every((n) => n.map.tombstones === 0), 30_000, 20);
  expect([...c.nodes.values()].reduce((s, n) => s + n.rep.stats().tombstonesCollected, 0)).toBeGreaterThan(0);
  for (const n of c.nodes.values()) expect(new Map(n.map.entries())).toEqual(expected);
  c.stopAll();
}

for (const seed of [1, 2, 3, 4]) {
  test(`three replicas with random writes under loss, duplication, reordering and a partition converge to the LWW model (seed ${seed})`, async () => {
    await chaos(seed);
  });
}
