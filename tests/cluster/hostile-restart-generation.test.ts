/**
 * README, "What survives what": one node crashes (of 3+), nothing lost; a
 * restarted node "joins as a learner and catches up before it may vote";
 * "One failure at a time, each repaired (the node back, or dropped) before
 * the next, is what roomy survives". And a new generation starts only "when
 * every voter of the configuration is back under a new incarnation".
 *
 * Seen (hostile harness, 3 nodes, lan profile, parking and rooms load, one
 * fault at a time, each node back and ready before the next): after every
 * node had restarted at least once, a node restarted once more logged
 *   WARN consensus: every voter of this generation restarted: nothing
 *   acknowledged survived; leaving it for a new one
 *   voters=[n1/<first id>, n2/<first id>, n3/<first id>] live=[n1, n2, n3 current ids]
 * twice (the second time with a later, also dead, voter set), while n2 led
 * the current configuration (voters n1, n2 at their current ids, n3 a
 * learner), and it never became ready again (2 minutes, until stopped).
 * This test: n3's restart (the third) failed at 04:28 UTC; at 04:34 the
 * third passed and the fourth (n2) failed, and meanwhile 8 of 12 room
 * creations through n1 got no answer within 5 s (names placed on the stuck
 * holder, which is alive to the others, so the configuration keeps it).
 * Fixed by c8017a8 (generation.ts: not judged while a live leader of the
 * generation feeds the learner, nor in its first 2 s); passes at 2903898.
 * Left, as read: a node that drops its Raft core and adopts the same
 * generation again under the same id is fed from the leader's old
 * progress (progress.ts refused()/rewind() never go below match + 1, a
 * match the dropped core acknowledged), so its empty log refuses every
 * append: the third adoption above logged no WARN and stayed not ready.
 *
 * The cause, as read: mesh/consensus/generation.ts tick() tests
 * `core.committedConfig().voters` of a learner that is still replaying the
 * leader's log from its start (the log is compacted only every 10,000
 * entries, and parking puts one entry per park in it): its committed
 * configuration is then one of the first ones, whose voters are all
 * earlier incarnations, so "every voter restarted" holds although the
 * generation's current voters are alive. The node leaves the generation it
 * was being added to. The check would need the configuration the leader
 * says is current (or to wait until the learner caught up), not the one a
 * replay reached so far.
 *
 * This test makes a long log (parks), restarts every node in turn, then
 * some more, one at a time, each waited for. Real processes, < 60 s:
 * `HOSTILE_RESTART_GEN=1 npx bun test --timeout 120000 tests/cluster/hostile-restart-generation.test.ts`
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createClient } from "../../http/client.ts";
import { Cluster, sleep, waitFor } from "../support/cluster.ts";

const RUN = process.env["HOSTILE_RESTART_GEN"] === "1";
const PARKS = Number(process.env["HOSTILE_RESTART_GEN_PARKS"] ?? 3_000);
const WARN = "every voter of this generation restarted";

let cluster: Cluster | undefined;

beforeAll(async () => {
  if (RUN) cluster = await Cluster.start({ size: 3, profile: "local", args: ["--spaces", "40"], deadlineMs: 40_000 });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
}, 30_000);

/** `count` parks and unparks through every running node, 16 at a time (each one entry of the Raft log). */
async function lotTraffic(count: number): Promise<void> {
  const clients = cluster!.running().map((p) => createClient(p.url, { timeoutMs: 3_000, retryForMs: 0 }));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      while (next < count) {
        const i = next++;
        const c = clients[i % clients.length]!;
        const plate = `P${w}-${i % 5}`;
        await (i % 2 === 0 ? c.park(1 + (i % 4), plate) : c.unpark(1 + (i % 4), plate)).catch(() => {});
      }
    }),
  );
}

test.skipIf(!RUN)("a node restarted after every node has restarted once rejoins its generation and is ready again", async () => {
  const c = cluster!;
  await lotTraffic(PARKS);
  const order = ["n1", "n2", "n3", "n1", "n2"];
  const seen: string[] = [];
  for (const name of order) {
    await c.node(name).kill();
    await sleep(500);
    const p = await c.restart(name);
    const t0 = Date.now();
    let ready = true;
    try {
      await waitFor(`${name} ready after its restart`, async () => (await fetch(`${p.url}/readyz`)).status === 200, { timeoutMs: 15_000 });
    } catch {
      ready = false;
    }
    const warned = p.logs().includes(WARN);
    seen.push(`${name}: ${ready ? `ready in ${Date.now() - t0} ms` : "NOT READY in 15 s"}${warned ? ", WARNED every voter restarted" : ""}`);
    if (!ready || warned) {
      // What the rest of the cluster does meanwhile: rooms placed on the stuck holder.
      const n1 = c.nodes.find((q) => q.name !== name)!;
      const probe = createClient(n1.url, { timeoutMs: 5_000, retryForMs: 2_000 });
      const outcomes: Record<string, number> = {};
      await Promise.all(
        Array.from({ length: 12 }, async (_, k) => {
          const code = await probe.addRooms([`after-${name}-${k}`]).then(() => "ok", (e: unknown) => (e as { code?: string }).code ?? "no answer");
          outcomes[code] = (outcomes[code] ?? 0) + 1;
        }),
      );
      seen.push(`  meanwhile 12 room creations through ${n1.name}: ${JSON.stringify(outcomes)}; ${name} is ${(await n1.probe.members()).find((m) => m.name === name)?.state} to ${n1.name}`);
      console.log(seen.join("\n"));
      console.log(`${name}'s log:\n${p.logs().split("\n").filter((l) => !l.includes("DEBUG")).slice(0, 40).join("\n")}`);
    }
    expect({ name, ready, warned }).toEqual({ name, ready: true, warned: false });
    await c.waitConverged({ timeoutMs: 15_000 });
    await lotTraffic(300);
  }
  console.log(seen.join("\n"));
}, 120_000);
