/**
 * A node started alone (no cluster factory: the library's default, the
 * single-node tests) runs the cluster's own parts, wired as a cluster is,
 * over a transport that reaches nobody: there is no second registry or
 * replicator for one node.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { type Node, startNode } from "../../../mesh/node/node.ts";
import { type ClusterFactory, isolatedTransport } from "../../../mesh/node/parts.ts";
import { wireCluster } from "../../../mesh/node/wiring.ts";
import type { ClusterRegistryStats } from "../../../mesh/registry/config.ts";
import type { ClusterReplicationStats } from "../../../mesh/replication/api.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import { DEFAULT_CLUSTER_REGISTRY_CONFIG } from "../../../mesh/registry/config.ts";

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function started(opts: Parameters<typeof startNode>[0] = {}): Promise<Node> {
  const n = await startNode({ name: "solo", ...opts });
  nodes.push(n);
  return n;
}

describe("the cluster of one", () => {
  test("runs the cluster registry and replicator: a one-voter configuration, an epoch, serving rights", async () => {
    const n = await started();
    const reg = n.registry.stats() as Partial<ClusterRegistryStats>;
    expect([reg.serving, reg.epoch, reg.lease]).toEqual(["serving", 1, true]);
    const rep = n.replicator.stats() as Partial<ClusterReplicationStats>;
    expect(rep.livePeers).toBe(0);
    expect(rep.ackLatency).toBeDefined();
    const cfg = n.consensus.committedConfig();
    expect([cfg.voters.map((v) => [v.name, v.id]), cfg.learners]).toEqual([[["solo", n.id]], []]);
    expect(n.consensus.generation()?.bootstrap).toBe(true);
    expect(n.membership.members().map((m) => [m.name, m.state])).toEqual([["solo", "alive"]]);
    expect(n.meshAddress()).toBeNull();
  });

  test("walks people in through the cluster registry: a write is held by the replicator at once", async () => {
    const n = await started();
    await n.app.addRooms(["kitchen"]);
    await n.app.walkInto("kitchen", ["ada", "bob"]);
    expect(await n.app.whoIsIn("kitchen")).toEqual(["ada", "bob"]);
    expect(n.registry.ownerOf("room:kitchen")).toBe("solo");
    const rep = n.replicator.stats() as Partial<ClusterReplicationStats>;
    expect([rep.pendingWrites, rep.writesUnavailable, rep.messagesSent]).toEqual([0, 0, 0]);
    expect((n.registry.stats() as Partial<ClusterRegistryStats>).callsRemote).toBe(0);
  });

  test("is ready the moment it started: no vouch window, on a clock that never moves", async () => {
    const clock = new SimClock();
    const n = await started({ clock });
    expect(n.isReady()).toBe(true);
    await n.app.addRooms(["attic"]);
    await n.app.walkInto("attic", ["cy"]);
    expect(await n.app.whoIsIn("attic")).toEqual(["cy"]);
  });

  // Why it may: the first node of a generation waits out a vouch window
  // since its own start, in case an earlier life of it (crashed, restarted
  // under its name) vouched for a node of the old generation that still
  // serves under that lease. A node no transport reaches shares its replica
  // with nobody: whatever any life under its name vouched, no lease covers a
  // name in this replica. A node alone on a reachable mesh (`roomy node`
  // without --join, which others may join, and which may be such a restart)
  // still waits: the same wiring without `isolated` below.
  test("the same parts on a reachable node alone wait out a vouch window before serving", async () => {
    const clock = new SimClock();
    const reachable: ClusterFactory = (ctx) =>
      Promise.resolve(wireCluster({ ctx, transport: isolatedTransport(ctx.self.address) }));
    const n = await startNode({ name: "alone", clock, cluster: reachable });
    nodes.push(n);
    expect(n.isReady()).toBe(false);
    const leaseMs = DEFAULT_CLUSTER_REGISTRY_CONFIG.leaseMs;
    const took = clock.runUntil(() => n.isReady(), 3 * leaseMs);
    expect(took).toBeGreaterThanOrEqual(leaseMs);
    expect(took).toBeLessThan(2 * leaseMs);
  });

  test("--join given without a cluster factory stays a cluster of one, ready at once", async () => {
    const n = await started({ join: ["10.0.0.1:4370"] });
    expect(n.isReady()).toBe(true);
    expect(n.consensus.committedConfig().voters.map((v) => v.name)).toEqual(["solo"]);
  });
});
