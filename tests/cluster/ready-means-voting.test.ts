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
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsensusCluster, type Node, until } from "./consensus-procs.ts";
import { hostileBinary } from "./hostile-kit.ts";

const ARGS = ["--spaces", "5", "--gates", "2"];
const three = new ConsensusCluster({ names: ["n1", "n2", "n3"], basePort: 28020, profile: "lan", args: ARGS });
const [n1, n2, n3] = three.nodes as [Node, Node, Node];
const fives = new ConsensusCluster({ names: ["m1", "m2", "m3", "m4", "m5"], basePort: 28040, profile: "lan", args: ARGS });

afterAll(async () => {
  await Promise.all([three.close(), fives.close()]);
}, 30_000);

/** As the README starts them: the first alone, the others joining it; then until every one answers /readyz 200, polled fast (the window this pins was some hundreds of ms wide). */
async function startAsReadme(c: ConsensusCluster, bin: string): Promise<void> {
  const [first, ...rest] = c.nodes as [Node, ...Node[]];
  await first.start(bin, []);
  await Promise.all(rest.map((n) => n.start(bin, [first.mesh])));
  await until("all ready", async () => ((await Promise.all(c.nodes.map((n) => n.ready()))).every(Boolean) ? true : undefined), 40_000, 5);
}

/**
 * On a failure, every node's log goes to a file, and each one's end to
 * stderr (CI keeps only the output): the five-node case once missed its
 * 15 s park in one CI run of many, and no log said why.
 */
async function keepingLogs(c: ConsensusCluster, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const dir = mkdtempSync(join(tmpdir(), "roomy-ready-voting-"));
    for (const n of c.nodes) writeFileSync(join(dir, `${n.name}.log`), n.logs());
    console.error(`[ready-means-voting] failure; node logs in ${dir}; their ends:\n${c.nodes.map((n) => `--- ${n.name}\n${n.logs().slice(-3_000)}`).join("\n")}`);
    throw err;
  }
}

/** Until the lot read through `n` answers. */
const lotThrough = (n: Node) =>
  until(`the lot through ${n.name}`, async () => {
    const r = await n.lot(3_000);
    return r.ok ? r.body : undefined;
  }, 15_000, 100);

/** Until a park through `n` is acknowledged. */
const parkThrough = (n: Node, plate: string) =>
  until(`a park through ${n.name}`, async () => {
    const r = await n.park(1, plate, 3_000);
    return r.ok ? r : undefined;
  }, 15_000, 100);

test("the moment all three nodes of a new cluster are ready, all three vote, and so does a restarted one the moment it is ready: kill -9 of another then leaves a majority that serves", () =>
  keepingLogs(three, async () => {
    const bin = await hostileBinary();
    await startAsReadme(three, bin);
    const seen = await n2.consensus();
    await n1.kill();
    expect(seen.voters).toEqual(["n1", "n2", "n3"]);

    await three.agreedLeader([n2, n3], 15_000);
    expect((await parkThrough(n2, "AFTER KILL")).ok).toBe(true);

    // A rolling fault: n1 back (a new incarnation: a learner, promoted once caught
    // up), and the moment it is ready, kill -9 of n2. n1 and n3 are a majority of
    // the voters only if n1 votes by then.
    await n1.start(bin, [n2.mesh]);
    await until("n1 ready again", async () => ((await n1.ready()) ? true : undefined), 30_000, 5);
    const again = await n3.consensus();
    await n2.kill();
    expect(again.voters).toEqual(["n1", "n2", "n3"]);
    await three.agreedLeader([n1, n3], 15_000);
    expect(Object.keys((await lotThrough(n3)).vehicles)).toContain("AFTER KILL");
}), 120_000);

test("the moment all five nodes of a new cluster are ready, all five vote: kill -9 of the leader and one more leaves three that serve; both restarted at once join that cluster's generation and vote again", () =>
  keepingLogs(fives, async () => {
    const bin = await hostileBinary();
    await startAsReadme(fives, bin);
    const asked = await fives.nodes[2]!.consensus();
    const leader = fives.nodes.find((n) => n.name === asked.leader) ?? fives.nodes[0]!;
    // The configuration as committed is the leader's view: a follower learns a commit a heartbeat later
    // (m3 once still listed four voters while m5, promoted, already answered ready: one CI run).
    const seen = await leader.consensus();
    const another = fives.nodes.find((n) => n !== leader)!;
    await Promise.all([leader.kill(), another.kill()]);
    expect(seen.voters).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    const rest = fives.nodes.filter((n) => n !== leader && n !== another);
    expect((await parkThrough(rest[0]!, "TWO DOWN")).ok).toBe(true);

    // Both back at once, each told of the four others: they must join the
    // survivors' generation (two restarted together once started their own
    // beside it in the simulator), so the car parked while they were down is
    // in the lot they read, and all five vote again.
    const { generation } = await rest[0]!.consensus();
    await Promise.all([leader, another].map((n) => n.start(bin, fives.joinFor(n))));
    await until("all five ready again", async () => ((await Promise.all(fives.nodes.map((n) => n.ready()))).every(Boolean) ? true : undefined), 40_000, 50);
    const back = await until("five voters again", async () => {
      const v = await another.consensus();
      return v.voters.length === 5 ? v : undefined;
    }, 20_000, 100);
    expect(back.generation).toBe(generation);
    expect(Object.keys((await lotThrough(another)).vehicles)).toContain("TWO DOWN");
}), 120_000);
