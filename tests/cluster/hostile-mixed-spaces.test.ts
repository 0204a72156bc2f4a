/**
 * README, Consensus: "each park carries the proposing node's --spaces, and
 * every replica applies it with the park, so nodes started with different
 * --spaces still decide lot_full alike (a rolling change of the setting
 * takes effect with the first park through a node that has the new value)".
 *
 * Seen (hostB, 3 nodes, n1 and n2 --spaces 5, n3 --spaces 2, gates 1-2 run
 * on n1 and 3-4 on n3): 4 cars parked through n1 at gate 1; a fifth sent
 * to n3 (the node with the new value) at gate 1 answered ok and the lot
 * stayed at 5 spaces; the same car sent to n1 at gate 3 (run on n3) was
 * refused "the lot is full: 4 of 2 spaces taken", and `roomy lot` then
 * printed `spaces: 2, occupied: 4, available: 0`; the next park at gate 1
 * put the lot back to 5 spaces. So the size is that of the node running the
 * gate's process (mesh/apps/parking-raft.ts: the gate process proposes
 * with its own node's config.spaces), not of the node a park is sent
 * through, and it flips with the gate used while the setting differs.
 *
 * Real processes, ~20 s:
 * `HOSTILE=1 npx bun test --timeout 120000 tests/cluster/hostile-mixed-spaces.test.ts`
 * (HOSTILE_BIN=path runs that binary). Ports 28010-28015.
 */
import { afterAll, expect, test } from "bun:test";
import { LoopbackNode, request, until } from "../support/procs.ts";
import { hostileBinary } from "./hostile-kit.ts";

const RUN = process.env["HOSTILE"] === "1" || process.env["HOSTILE_MIXED_SPACES"] === "1";
const BASE = 28010;
const spaces = [5, 5, 2];
const nodes = ["n1", "n2", "n3"].map((n, i) => new LoopbackNode(n, BASE + 2 * i, BASE + 2 * i + 1, ["--profile", "local", "--gates", "4", "--spaces", String(spaces[i])]));
const [n1, , n3] = nodes as [LoopbackNode, LoopbackNode, LoopbackNode];

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
}, 30_000);

interface Lot { spaces: number; occupied: number }
interface Gate { gate: number; owner: string }

const park = (n: LoopbackNode, gate: number, plate: string) =>
  until(`park ${plate} at gate ${gate} through ${n.name}`, async () => {
    const a = await request(`${n.url}/v1/gates/${gate}/park`, { body: { plate }, timeoutMs: 6_000 });
    return a.code === "unavailable" || a.code === "timeout" ? undefined : a;
  }, 20_000, 100);
const lot = (n: LoopbackNode) =>
  until(`${n.name}'s lot`, async () => {
    const a = await request<Lot>(`${n.url}/v1/lot`, { timeoutMs: 6_000 });
    return a.code === "ok" ? a.body! : undefined;
  }, 20_000, 100);

test.skipIf(!RUN)("a park sent through the node with the new --spaces applies that size, whichever node runs the gate", async () => {
  const bin = await hostileBinary();
  try {
    await Promise.all(nodes.map((n) => n.start(bin, nodes.filter((x) => x !== n).map((x) => x.mesh))));
    await until("n1,n2,n3 ready", async () => ((await Promise.all(nodes.map((n) => n.ready()))).every(Boolean) ? true : undefined), 30_000, 100);
    // A gate whose process runs on a node with 5 spaces.
    const gates = await until("gate owners", async () => {
      const a = await request<Gate[]>(`${n1.url}/v1/gates`, { timeoutMs: 6_000 });
      return a.code === "ok" && a.body!.some((g) => g.owner !== "n3") ? a.body! : undefined;
    }, 20_000, 200);
    const elsewhere = gates.find((g) => g.owner !== "n3")!.gate;

    for (const car of ["A", "B", "C", "D"]) expect((await park(n1, elsewhere, car)).code).toBe("ok");
    expect((await lot(n1)).occupied).toBe(4);

    // Sent through n3 (--spaces 2): "takes effect with the first park through a node that has the new value".
    const fifth = await park(n3, elsewhere, "E");
    const after = await lot(n3);
    console.info(`[hostile-mixed-spaces] gates ${JSON.stringify(gates)}; park E through n3 at gate ${elsewhere} (run on ${gates.find((g) => g.gate === elsewhere)!.owner}): ${fifth.code}; lot then spaces ${after.spaces}, occupied ${after.occupied}`);
    expect({ park: fifth.code, spaces: after.spaces }).toEqual({ park: "lot_full", spaces: 2 });
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
  }
}, 90_000);
