/**
 * README, "Running a cluster": once every node of a new 3-node cluster
 * answers /readyz 200, every one of them votes, so losing any one leaves a
 * majority that elects a leader and serves.
 *
 * Seen before (6 of 6 starts as the README starts them, /readyz polled every
 * 5 ms): the moment all three first answered 200, the voters were {n1, n2}
 * with n3 a learner still to be promoted; a kill -9 of n1 then left n2 alone
 * of two voters, no majority, and nothing healed it until n1 came back.
 *
 * The same for a node restarted after a kill -9: ready means voting again.
 *
 * And for five: all five ready means five voters, so kill -9 of the leader
 * and one more leaves three of five. Seen before: the voters were n1-n4
 * with n5 a learner when all five first answered 200, and after that kill
 * no park was answered for 30 s (two of four voters).
 *
 * Real processes on loopback, ~15-30 s (HOSTILE_BIN=path runs that binary). Ports 28020-28025, 28040-28049.
 */
import { afterAll, expect, test } from "bun:test";
import { LoopbackNode, request, until } from "../support/procs.ts";
import { hostileBinary } from "./hostile-kit.ts";

const BASE = 28020;
const nodes = ["n1", "n2", "n3"].map((n, i) => new LoopbackNode(n, BASE + 2 * i, BASE + 2 * i + 1, ["--spaces", "5", "--gates", "2"]));
const [n1, n2, n3] = nodes as [LoopbackNode, LoopbackNode, LoopbackNode];

const five = Array.from({ length: 5 }, (_, i) => new LoopbackNode(`m${i + 1}`, 28040 + 2 * i, 28040 + 2 * i + 1, ["--spaces", "5", "--gates", "2"]));

afterAll(async () => {
  await Promise.all([...nodes, ...five].map((n) => n.kill()));
}, 30_000);

interface Consensus { leader: string | null; unavailable: string | null; voters: string[]; learners: string[] }
const consensus = (n: LoopbackNode) => request<Consensus>(`${n.url}/v1/consensus`, { timeoutMs: 2_000 });

test("the moment all three nodes of a new cluster are ready, all three vote, and so does a restarted one the moment it is ready: kill -9 of another then leaves a majority that serves", async () => {
  const bin = await hostileBinary();
  await n1.start(bin, []);
  await Promise.all([n2.start(bin, [n1.mesh]), n3.start(bin, [n1.mesh])]);
  // Polled fast: the window this pins was some hundreds of ms wide.
  await until("n1, n2 and n3 ready", async () => ((await Promise.all(nodes.map((n) => n.ready()))).every(Boolean) ? true : undefined), 30_000, 5);
  const seen = (await consensus(n2)).body;
  await n1.kill();
  expect(seen?.voters).toEqual(["n1", "n2", "n3"]);

  await until("n2 and n3 to agree on a leader other than n1", async () => {
    const [a, b] = await Promise.all([consensus(n2), consensus(n3)]);
    const l = a.body?.leader ?? null;
    return l !== null && l !== "n1" && b.body?.leader === l && a.body?.unavailable === null ? true : undefined;
  }, 15_000, 100);
  const parked = await until("a park through n2", async () => {
    const r = await request(`${n2.url}/v1/gates/1/park`, { body: { plate: "AFTER KILL" }, timeoutMs: 3_000 });
    return r.code === "ok" ? r : undefined;
  }, 15_000, 100);
  expect(parked.code).toBe("ok");

  // A rolling fault: n1 back (a new incarnation: a learner, promoted once caught
  // up), and the moment it is ready, kill -9 of n2. n1 and n3 are a majority of
  // the voters only if n1 votes by then.
  await n1.start(bin, [n2.mesh]);
  await until("n1 ready again", async () => ((await n1.ready()) ? true : undefined), 30_000, 5);
  const again = (await consensus(n3)).body;
  await n2.kill();
  expect(again?.voters).toEqual(["n1", "n2", "n3"]);
  await until("n1 and n3 to agree on a leader other than n2", async () => {
    const [a, b] = await Promise.all([consensus(n1), consensus(n3)]);
    const l = a.body?.leader ?? null;
    return l !== null && l !== "n2" && b.body?.leader === l && b.body?.unavailable === null ? true : undefined;
  }, 15_000, 100);
  const lot = await until("the lot through n3, with the car parked before", async () => {
    const r = await request<{ vehicles: Record<string, unknown> }>(`${n3.url}/v1/lot`, { timeoutMs: 3_000 });
    return r.code === "ok" ? r : undefined;
  }, 15_000, 100);
  expect(Object.keys(lot.body?.vehicles ?? {})).toContain("AFTER KILL");
}, 120_000);

test("the moment all five nodes of a new cluster are ready, all five vote: kill -9 of the leader and one more leaves three that serve", async () => {
  const bin = await hostileBinary();
  const [m1] = five as [LoopbackNode];
  await m1.start(bin, []);
  await Promise.all(five.slice(1).map((n) => n.start(bin, [m1.mesh])));
  await until("all five ready", async () => ((await Promise.all(five.map((n) => n.ready()))).every(Boolean) ? true : undefined), 40_000, 5);
  const seen = (await consensus(five[2]!)).body;
  const leader = five.find((n) => n.name === seen?.leader) ?? m1;
  const another = five.find((n) => n !== leader)!;
  await Promise.all([leader.kill(), another.kill()]);
  expect(seen?.voters).toEqual(["m1", "m2", "m3", "m4", "m5"]);
  const rest = five.filter((n) => n !== leader && n !== another);
  const parked = await until("a park through a survivor", async () => {
    const r = await request(`${rest[0]!.url}/v1/gates/1/park`, { body: { plate: "TWO DOWN" }, timeoutMs: 3_000 });
    return r.code === "ok" ? r : undefined;
  }, 15_000, 100);
  expect(parked.code).toBe("ok");
}, 120_000);
