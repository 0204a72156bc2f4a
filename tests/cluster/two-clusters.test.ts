/**
 * Two clusters that meet: three nodes a1-a3 and three nodes b1-b3, each its
 * own generation with its own rooms (both have a room "shared"), then a
 * seventh node x started with seeds in both (a copied command line, a seed
 * list with one wrong entry). SWIM joins everyone into one membership.
 *
 * Seen before: each leader added the other cluster's nodes to its
 * configuration as learners, the replicas merged both clusters' rooms and
 * people, and neither cluster answered again (`no quorum lease` on all six,
 * for good; `roomy recover --force` on one made it worse). Now the data
 * layers see only the members of their own generation: both clusters keep
 * serving their own rooms, unmixed, x joins one of them only (the first it
 * heard of) and says in its log that its seeds reach two, and both go on
 * once x is gone.
 *
 * Real processes on loopback, ~15 s. Ports 28080-28093.
 */
import { afterAll, expect, test } from "bun:test";
import { LoopbackNode, request, until } from "../support/procs.ts";
import { ensureBinary } from "../ship/support/binary.ts";

const BASE = 28080;
const a = ["a1", "a2", "a3"].map((name, i) => new LoopbackNode(name, BASE + 2 * i, BASE + 2 * i + 1, ["--profile", "local"]));
const b = ["b1", "b2", "b3"].map((name, i) => new LoopbackNode(name, BASE + 6 + 2 * i, BASE + 7 + 2 * i, ["--profile", "local"]));
const x = new LoopbackNode("x", BASE + 12, BASE + 13, ["--profile", "local"]);
const all = [...a, ...b];

afterAll(async () => {
  await Promise.all([...all, x].map((n) => n.kill()));
}, 30_000);

const post = async (n: LoopbackNode, path: string, body: unknown): Promise<string> => (await request(`${n.url}${path}`, { body, timeoutMs: 5_000 })).code;
const dump = async (n: LoopbackNode): Promise<string> => {
  const r = await request<Record<string, string[]>>(`${n.url}/v1/dump`, { timeoutMs: 5_000 });
  return r.code === "ok" ? JSON.stringify(r.body) : r.code;
};
const generation = async (n: LoopbackNode): Promise<number> => (await request<{ generation: number }>(`${n.url}/v1/consensus`, { timeoutMs: 5_000 })).body?.generation ?? -1;

test("two clusters that meet through one node's seeds keep serving their own rooms, unmixed; that node joins one of them", async () => {
  const bin = await ensureBinary();
  await Promise.all(a.map((n) => n.start(bin, a.map((m) => m.mesh))));
  await Promise.all(b.map((n) => n.start(bin, b.map((m) => m.mesh))));
  await until("both clusters ready", async () => ((await Promise.all(all.map((n) => n.ready()))).every(Boolean) ? true : undefined), 40_000, 50);
  expect(await post(a[0]!, "/v1/rooms", { rooms: ["ra", "shared"] })).toBe("ok");
  expect(await post(b[0]!, "/v1/rooms", { rooms: ["rb", "shared"] })).toBe("ok");
  expect(await post(a[1]!, "/v1/walk-into", { room: "ra", people: ["alice"] })).toBe("ok");
  expect(await post(a[2]!, "/v1/walk-into", { room: "shared", people: ["carol"] })).toBe("ok");
  expect(await post(b[1]!, "/v1/walk-into", { room: "rb", people: ["bob"] })).toBe("ok");
  expect(await post(b[2]!, "/v1/walk-into", { room: "shared", people: ["dave"] })).toBe("ok");
  const A = JSON.stringify({ ra: ["alice"], shared: ["carol"] });
  const B = JSON.stringify({ rb: ["bob"], shared: ["dave"] });
  const ga = await generation(a[0]!);
  const gb = await generation(b[0]!);
  expect(ga).not.toBe(gb);

  await x.start(bin, [a[0]!.mesh, b[0]!.mesh]);
  await until("x ready", async () => ((await x.ready()) ? true : undefined), 20_000, 50);
  const gx = await generation(x);
  expect([ga, gb]).toContain(gx);
  // Everyone now knows everyone (one membership), and every answer stays its own cluster's.
  await until("a1 knows b1", async () => {
    const r = await request<{ name: string; state: string }[]>(`${a[0]!.url}/v1/cluster/members`, { timeoutMs: 5_000 });
    return r.body?.some((m) => m.name === "b1" && m.state === "alive") === true ? true : undefined;
  }, 20_000, 50);
  // A few rounds of anti-entropy and lease pings (every second and 100 ms) pass first.
  const t0 = performance.now();
  while (performance.now() - t0 < 4_000) {
    for (const n of a) expect({ node: n.name, dump: await dump(n) }).toEqual({ node: n.name, dump: A });
    for (const n of b) expect({ node: n.name, dump: await dump(n) }).toEqual({ node: n.name, dump: B });
    await Bun.sleep(250);
  }
  expect(await dump(x)).toBe(gx === ga ? A : B);
  for (const n of all) expect({ node: n.name, ready: await n.ready() }).toEqual({ node: n.name, ready: true });
  expect(x.logs()).toContain("in more than one generation");
  // Both take writes of their own, and each sees only its own.
  expect(await post(a[0]!, "/v1/walk-into", { room: "shared", people: ["erin"] })).toBe("ok");
  expect(await post(b[0]!, "/v1/walk-into", { room: "shared", people: ["frank"] })).toBe("ok");
  await x.kill();
  await until("each cluster holds its own write, and only it", async () => {
    const da = await Promise.all(a.map(dump));
    const db = await Promise.all(b.map(dump));
    const okA = da.every((d) => d === JSON.stringify({ ra: ["alice"], shared: ["carol", "erin"] }));
    const okB = db.every((d) => d === JSON.stringify({ rb: ["bob"], shared: ["dave", "frank"] }));
    return okA && okB ? true : undefined;
  }, 10_000, 100);
}, 120_000);
