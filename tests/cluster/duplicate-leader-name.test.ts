/**
 * A second node started under the Raft leader's --name (a copied unit file
 * on a second machine): the members take the later process as that node,
 * so the first, still running and still leading, would never add it. Seen
 * (an outside probe, 2026-12-06): the twin answered "waiting to be added to
 * generation ..." for as long as the first ran, while the first kept
 * leading. Now a leader whose name another process took hands the
 * leadership over (driver.ts), and the new leader adds the twin.
 *
 * Real processes on loopback, ~5 s. Ports 28100-28107.
 */
import { afterAll, expect, test } from "bun:test";
import { LoopbackNode, request, until } from "../support/procs.ts";
import { ensureBinary } from "../ship/support/binary.ts";

const BASE = 28100;
const nodes = ["n1", "n2", "n3"].map((name, i) => new LoopbackNode(name, BASE + 2 * i, BASE + 2 * i + 1, ["--profile", "lan"]));
const [n1, n2, n3] = nodes as [LoopbackNode, LoopbackNode, LoopbackNode];
let twin: LoopbackNode | undefined;

afterAll(async () => {
  await Promise.all([...nodes, ...(twin === undefined ? [] : [twin])].map((n) => n.kill()));
}, 30_000);

test("a second node under the Raft leader's name: the first hands the leadership over, and the twin is added and ready while the first still runs", async () => {
  const bin = await ensureBinary();
  await n1.start(bin, []);
  await Promise.all([n2, n3].map((n) => n.start(bin, [n1.mesh])));
  await until("all ready", async () => ((await Promise.all(nodes.map((n) => n.ready()))).every(Boolean) ? true : undefined), 40_000, 20);
  expect((await request(`${n1.url}/v1/rooms`, { body: { rooms: ["hall"] }, timeoutMs: 5_000 })).code).toBe("ok");
  const leaderName = await until("a leader", async () => {
    const r = await request<{ leader: string | null }>(`${n1.url}/v1/consensus`, { timeoutMs: 2_000 });
    return r.code === "ok" && typeof r.body?.leader === "string" ? r.body.leader : undefined;
  }, 20_000, 50);
  const leader = nodes.find((n) => n.name === leaderName)!;
  const other = nodes.find((n) => n !== leader)!;
  twin = new LoopbackNode(leader.name, BASE + 6, BASE + 7, ["--profile", "lan"]);
  await twin.start(bin, [other.mesh]);

  await until("the leader's twin ready", async () => ((await twin!.ready()) ? true : undefined), 20_000, 50);
  // The first says its name was taken; another node leads; the twin serves.
  expect(await leader.ready()).toBe(false);
  const view = await request<{ leader: string | null }>(`${other.url}/v1/consensus`, { timeoutMs: 2_000 });
  expect(view.code).toBe("ok");
  expect(view.body?.leader === null || view.body?.leader === leader.name).toBe(false);
  expect((await request(`${twin.url}/v1/walk-into`, { body: { room: "hall", people: ["after-twin"] }, timeoutMs: 5_000 })).code).toBe("ok");
}, 90_000);
