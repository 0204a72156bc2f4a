/**
 * An anti-entropy round whose ask {lw} is lost (or overtaken by the prints
 * {ls} that follow it) still completes promptly: the responder does not ack
 * prints of a round it has no ask for, so the initiator sends them again
 * after the ask. Acked and dropped, they were never sent again and the
 * answer waited for them until the round timed out (soak seed 47: a
 * restarted node's catch-up stuck behind such rounds, never ready).
 *
 * Also: a fresh pull (read-barrier.ts) never joins a round begun before it.
 */
import { expect, test } from "bun:test";
import { addr, converged, TestCluster, track } from "./harness.ts";

async function twoReplicasThatDifferInSharedLeaves(): Promise<TestCluster> {
  // No routine rounds: the catch-up below is the only round.
  const c = new TestCluster({ concern: 1, config: { antiEntropyMs: 600_000 } });
  for (const n of ["A", "B"]) c.member(n);
  for (const n of ["A", "B"]) c.start(n);
  await c.run(50);
  const first = Array.from({ length: 2000 }, (_, i) => track(c.node("A").set(`k/${i}`, i)));
  await c.until("both hold the first writes", () => first.every((w) => w.state === "resolved") && converged([...c.nodes.values()]));
  // A changes keys B holds too, unseen by B: the differing leaves are filled on both sides, so B sends prints.
  c.membership.setEverywhere("B", "dead");
  c.net.isolate(addr("B"));
  for (let i = 0; i < 2000; i += 40) await c.node("A").set(`k/${i}`, -i);
  await c.run(2000); // A's outbox retires these: only a pull can bring them
  expect(c.node("B").map.get("k/40")).toBe(40);
  c.net.rejoin(addr("B"));
  return c;
}

for (const lost of [false, true]) {
  test(`a pull whose ask ${lost ? "is lost" : "arrives"} completes well within one round timeout, with prints sent`, async () => {
    const c = await twoReplicasThatDifferInSharedLeaves();
    if (lost) c.net.dropNextMatching(addr("B"), addr("A"), "lw");
    const printsBefore = c.net.count("ls", addr("B"), addr("A")).messages;
    const startedAt = c.clock.now();
    // B comes back (a link-up round may start first: the pull joins it).
    c.membership.setEverywhere("B", "alive");
    const t = track(c.node("B").rep.catchUp(10_000));
    await c.until("catch-up done", () => t.state !== "pending", 10_000, 10);
    expect(t.state).toBe("resolved");
    // The round timeout is 3 s; an ask resent after 250 ms brings the prints again.
    expect(c.clock.now() - startedAt).toBeLessThan(1500);
    expect(c.node("B").rep.stats().antiEntropyTimeouts).toBe(0);
    expect(c.net.count("ls", addr("B"), addr("A")).messages).toBeGreaterThan(printsBefore);
    for (let i = 0; i < 2000; i += 40) expect(c.node("B").map.get(`k/${i}`)).toBe(-i);
    c.stopAll();
  });
}

test("a fresh pull (a read barrier) sends its own digest, never joining a round begun before it", async () => {
  const c = new TestCluster({ concern: 1, config: { antiEntropyMs: 600_000 } });
  for (const n of ["A", "B"]) c.member(n);
  for (const n of ["A", "B"]) c.start(n);
  await c.run(200);
  c.net.block(addr("A"), addr("B")); // A's answers are lost: B's round stays open
  const first = track(c.node("B").rep.catchUpFrom(["A"], 1, 5_000).then(() => {}));
  await c.run(20);
  const digests = c.net.count("dg", addr("B"), addr("A")).messages;
  const joined = track(c.node("B").rep.catchUpFrom(["A"], 1, 5_000).then(() => {}));
  await c.run(20);
  expect(c.net.count("dg", addr("B"), addr("A")).messages).toBe(digests); // a plain pull joins it
  const fresh = track(c.node("B").rep.catchUpFrom(["A"], 1, 5_000, true).then(() => {}));
  await c.run(20);
  expect(c.net.count("dg", addr("B"), addr("A")).messages).toBe(digests + 1);
  c.net.heal();
  await c.until("all three pulls done", () => [first, joined, fresh].every((t) => t.state !== "pending"), 10_000);
  expect([first.state, joined.state, fresh.state]).toEqual(["resolved", "resolved", "resolved"]);
  c.stopAll();
});
