/**
 * The read barrier's rules: a read is answered only after a pull round that
 * began after it, from enough holders (in the incarnations the
 * configuration holds) to make a majority with this node; reads of one
 * turn share a round, a read that comes while a round runs waits for the
 * next one.
 */
import { expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import type { HolderConfig } from "../../../mesh/registry/holders.ts";
import { ReadBarrier } from "../../../mesh/registry/read-barrier.ts";
import type { PulledFrom } from "../../../mesh/replication/api.ts";

const cfg = (n: number): HolderConfig =>
  ({ generation: 1, epoch: 1, holders: Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}`, id: `id${i + 1}` })) }) as unknown as HolderConfig;

function world(c: HolderConfig, ids: Record<string, string> = {}) {
  const pulls: { peers: readonly string[]; need: number; resolve: (p: PulledFrom[]) => void; reject: (e: unknown) => void }[] = [];
  const b = new ReadBarrier({
    self: { name: "n1", id: "id1" },
    config: () => c,
    idOf: (n) => ids[n] ?? `id${n.slice(1)}`,
    catchUpFrom: (peers, need) => new Promise<PulledFrom[]>((resolve, reject) => void pulls.push({ peers, need, resolve, reject })),
    timeoutMs: 1000,
  });
  return { b, pulls };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
function state(p: Promise<unknown>): { s: string; e?: unknown } {
  const o: { s: string; e?: unknown } = { s: "pending" };
  p.then(() => (o.s = "ok"), (e) => ((o.s = "failed"), (o.e = e)));
  return o;
}

test("a 3-holder node pulls from one other holder; reads of one turn share the round", async () => {
  const { b, pulls } = world(cfg(3));
  const r1 = state(b.wait());
  const r2 = state(b.wait());
  await settle();
  expect(pulls.length).toBe(1);
  expect(pulls[0]!.need).toBe(1);
  expect([...pulls[0]!.peers].sort()).toEqual(["n2", "n3"]);
  pulls[0]!.resolve([{ name: "n2", id: "id2" }]);
  await settle();
  expect([r1.s, r2.s]).toEqual(["ok", "ok"]);
  expect(pulls.length).toBe(1);
});

test("a read that comes while a round runs is not answered by that round, only by the next", async () => {
  const { b, pulls } = world(cfg(5));
  const first = state(b.wait());
  await settle();
  expect(pulls[0]!.need).toBe(2);
  const late = state(b.wait());
  const later = state(b.wait());
  pulls[0]!.resolve([{ name: "n2", id: "id2" }, { name: "n3", id: "id3" }]);
  await settle();
  expect(first.s).toBe("ok");
  expect([late.s, later.s]).toEqual(["pending", "pending"]);
  expect(pulls.length).toBe(2); // one round for both
  pulls[1]!.resolve([{ name: "n4", id: "id4" }, { name: "n5", id: "id5" }]);
  await settle();
  expect([late.s, later.s]).toEqual(["ok", "ok"]);
});

test("a pull answered by a restarted incarnation of a holder does not count: unavailable", async () => {
  const { b, pulls } = world(cfg(3));
  const r = state(b.wait());
  await settle();
  pulls[0]!.resolve([{ name: "n2", id: "id2-restarted" }]);
  await settle();
  expect(r.s).toBe("failed");
  expect((r.e as RoomyError).code).toBe("unavailable");
});

test("holders not live in their configured incarnation are not asked; too few left: unavailable at once", async () => {
  const { b, pulls } = world(cfg(3), { n2: "other", n3: "other" });
  const r = state(b.wait());
  await settle();
  expect(pulls.length).toBe(0);
  expect(r.s).toBe("failed");
  expect((r.e as RoomyError).code).toBe("unavailable");
});

test("a failed round fails its reads; the next read starts a new round", async () => {
  const { b, pulls } = world(cfg(3));
  const r = state(b.wait());
  await settle();
  pulls[0]!.reject(new RoomyError("unavailable", "timeout"));
  await settle();
  expect(r.s).toBe("failed");
  const again = state(b.wait());
  await settle();
  expect(pulls.length).toBe(2);
  pulls[1]!.resolve([{ name: "n2", id: "id2" }]);
  await settle();
  expect(again.s).toBe("ok");
});

test("a holder alone (a cluster of one) needs no pull", async () => {
  const { b, pulls } = world(cfg(1));
  const r = state(b.wait());
  await settle();
  expect(r.s).toBe("ok");
  expect(pulls.length).toBe(0);
});
