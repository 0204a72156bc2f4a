/**
 * The consensus surface over HTTP: GET /v1/consensus, POST /v1/recover
 * (only with {"force":true}, behind the admin token), /readyz of the Raft
 * lot (503 with the reason while writes cannot be served), and the
 * roomy_consensus_* families of /metrics.
 */
import { CONSENSUS_FAMILIES } from "../support/consensus-metrics.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApp } from "../../http/app.ts";
import { type ConsensusInfo, createClient } from "../../http/client.ts";
import { type Node, startNode } from "../../mesh/node/node.ts";
import { killAll, type SpawnedNode, spawnNode } from "../cli/helpers.ts";
import { waitFor } from "../support/cluster.ts";
import { parseProm, value } from "../ship/support/prom-parse.ts";

const post = (app: Hono, path: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

async function consensusOf(app: Hono): Promise<ConsensusInfo> {
  const res = await app.request("/v1/consensus");
  expect(res.status).toBe(200);
  return (await res.json()) as ConsensusInfo;
}

describe("one node of the Raft lot", () => {
  let node: Node;
  let app: Hono;
  beforeAll(async () => {
    node = await startNode({ name: "c1", gates: 2, spaces: 5 });
    app = createApp(node);
  });
  afterAll(() => node.stop());

  test("becomes ready once it leads itself, and /v1/consensus says so", async () => {
    await waitFor("c1 ready", async () => (await app.request("/readyz")).status === 200, { timeoutMs: 10_000, intervalMs: 20 });
    expect(await (await app.request("/readyz")).json()).toEqual({ ready: true, node: "c1" });
    const c = await consensusOf(app);
    expect(c).toMatchObject({ leader: "c1", voters: ["c1"], learners: [], role: "leader", lot: "raft", unavailable: null });
    expect(c.term).toBeGreaterThanOrEqual(1);
    expect(c.generation).toBeGreaterThan(0);
  });

  test("/metrics carries the consensus families, and proposals move with parking", async () => {
    const before = parseProm(await (await app.request("/metrics")).text());
    expect((await post(app, "/v1/gates/1/park", { plate: "M 1" })).status).toBe(200);
    const f = parseProm(await (await app.request("/metrics")).text());
    const types: Record<string, string> = {
      ...CONSENSUS_FAMILIES,
    };
    for (const [name, type] of Object.entries(types)) expect({ name, type: f.get(name)?.type }).toEqual({ name, type });
    const c = await consensusOf(app);
    expect(value(f, "roomy_consensus_is_leader")).toBe(1);
    expect(value(f, "roomy_consensus_available")).toBe(1);
    expect(value(f, "roomy_consensus_voters")).toBe(1);
    expect(value(f, "roomy_consensus_term")).toBe(c.term);
    expect(value(f, "roomy_consensus_generation")).toBe(c.generation);
    expect(value(f, "roomy_consensus_commit_index")!).toBeGreaterThan(value(before, "roomy_consensus_commit_index")!);
    expect(value(f, "roomy_consensus_apply_lag")).toBe(value(f, "roomy_consensus_commit_index")! - value(f, "roomy_consensus_applied_index")!);
    expect(value(f, "roomy_consensus_proposals_total")!).toBeGreaterThan(value(before, "roomy_consensus_proposals_total")!);
    expect(value(f, "roomy_consensus_generations_started_total")!).toBeGreaterThanOrEqual(1);
  });

  test("POST /v1/recover refuses without force:true and changes nothing", async () => {
    const c0 = await consensusOf(app);
    for (const body of [{}, { force: "yes" }, { force: false }]) {
      const res = await post(app, "/v1/recover", body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "bad_request", message: expect.stringContaining("force") });
    }
    expect((await consensusOf(app)).generation).toBe(c0.generation);
    expect(node.consensus.stats.generationsEnded).toBe(0);
  });

  test("POST /v1/recover with force:true starts a new generation from this node's lot and answers its status", async () => {
    const c0 = await consensusOf(app);
    const ended0 = node.consensus.stats.generationsEnded;
    const res = await post(app, "/v1/recover", { force: true });
    expect(res.status).toBe(200);
    const c1 = (await res.json()) as ConsensusInfo;
    expect(c1.generation).toBeGreaterThan(c0.generation);
    expect(c1.voters).toEqual(["c1"]);
    // The state came along: the car parked before is still in the lot.
    const lot = await waitFor("the lot readable in the new generation", async () => {
      const r = await app.request("/v1/lot");
      return r.status === 200 ? ((await r.json()) as { vehicles: Record<string, unknown> }) : undefined;
    }, { timeoutMs: 10_000, intervalMs: 20 });
    expect(Object.keys(lot.vehicles)).toEqual(["M 1"]);
    expect(node.consensus.stats.generationsEnded).toBeGreaterThanOrEqual(ended0);
    await waitFor("ready again", async () => (await app.request("/readyz")).status === 200, { timeoutMs: 10_000, intervalMs: 20 });
  });

  test("POST /v1/recover is behind the admin token like every /v1 route", async () => {
    const guarded = createApp(node, { adminToken: "s3cret" });
    const g0 = (await consensusOf(app)).generation;
    expect((await post(guarded, "/v1/recover", { force: true })).status).toBe(401);
    expect((await consensusOf(app)).generation).toBe(g0);
    expect((await post(guarded, "/v1/recover", { force: true }, { authorization: "Bearer s3cret" })).status).toBe(200);
  });
});

describe("a crdt-lot node", () => {
  test("is ready without consensus, and /v1/consensus names its lot", async () => {
    const node = await startNode({ name: "d1", lot: "crdt" });
    try {
      const app = createApp(node);
      await waitFor("d1 ready", async () => (await app.request("/readyz")).status === 200, { timeoutMs: 10_000, intervalMs: 20 });
      expect((await consensusOf(app)).lot).toBe("crdt");
    } finally {
      await node.stop();
    }
  });
});

describe("three nodes, two killed", () => {
  const nodes: SpawnedNode[] = [];
  afterAll(() => killAll());

  test("every node of a healthy cluster becomes ready; the survivor of a lost majority answers 503 naming it", async () => {
    const common = ["--profile", "local", "--gates", "2", "--spaces", "5"];
    nodes.push(await spawnNode(["--name", "r1", ...common]));
    for (const name of ["r2", "r3"]) nodes.push(await spawnNode(["--name", name, "--join", nodes[0]!.mesh, ...common]));
    const clients = nodes.map((n) => createClient(n.url, { retryForMs: 0 }));
    await waitFor("three voters and a leader seen by every node", async () => {
      for (const c of clients) {
        const s = await c.consensus();
        if (s.voters.length !== 3 || s.leader === null) return false;
      }
      return true;
    }, { timeoutMs: 30_000 });
    await waitFor("every node ready", async () => (await Promise.all(clients.map((c) => c.ready()))).every((r) => r), { timeoutMs: 15_000 });

    for (const n of nodes.slice(1)) n.proc.kill("SIGKILL");
    const body = await waitFor("r1 unready for the lost majority", async () => {
      const res = await fetch(`${nodes[0]!.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
      const b = (await res.json()) as { ready: boolean; node: string; reason?: string };
      if (res.status !== 503 || b.reason === undefined || !/majority/.test(b.reason)) throw new Error(`${res.status} ${JSON.stringify(b)}`);
      return b;
    }, { timeoutMs: 30_000 });
    expect(body).toEqual({ ready: false, node: "r1", reason: expect.stringMatching(/no majority of voters: 1 of 3 alive/) });
    // ... and its log says why, at WARN.
    await waitFor("r1's log to say why", async () => /WARN.*consensus: unavailable.*no majority of voters: 1 of 3 alive/.test(nodes[0]!.logs()), { timeoutMs: 5_000 });
    const s = await clients[0]!.consensus();
    expect(s.unavailable).toBe(body.reason!);
    // /metrics still answers without a majority (the gates' counters need one; they are left out).
    const res = await fetch(`${nodes[0]!.url}/metrics`);
    expect(res.status).toBe(200);
    const f = parseProm(await res.text());
    expect(value(f, "roomy_consensus_available")).toBe(0);
    expect(value(f, "roomy_consensus_voters")).toBe(3);
  }, 90_000);
});
