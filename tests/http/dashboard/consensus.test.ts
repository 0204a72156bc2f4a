/**
 * The dashboard shows the Raft log's leader, term and generation: /v1/overview
 * carries them, and the page has the side panel that draws them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApp } from "../../../http/app.ts";
import type { Overview } from "../../../http/overview.ts";
import { type Node, startNode } from "../../../mesh/node/node.ts";
import { waitFor } from "../../support/cluster.ts";

describe("consensus on the dashboard", () => {
  let node: Node;
  let app: Hono;
  beforeAll(async () => {
    node = await startNode({ name: "dash-c1" });
    app = createApp(node);
  });
  afterAll(() => node.stop());

  test("/v1/overview carries the leader, term and generation /v1/consensus answers", async () => {
    const o = await waitFor("a leader in the overview", async () => {
      const r = (await (await app.request("/v1/overview")).json()) as Overview;
      return r.consensus.leader !== null ? r : undefined;
    }, { timeoutMs: 10_000, intervalMs: 20 });
    const c = (await (await app.request("/v1/consensus")).json()) as { leader: string; term: number; generation: number };
    expect(o.consensus).toEqual({ leader: "dash-c1", term: c.term, generation: c.generation, lot: "raft", unavailable: null });
    expect(o.consensus.term).toBeGreaterThanOrEqual(1);
  });

  test("after roomy recover the overview shows the new generation", async () => {
    const before = ((await (await app.request("/v1/overview")).json()) as Overview).consensus.generation;
    node.consensus.recover();
    const after = ((await (await app.request("/v1/overview")).json()) as Overview).consensus.generation;
    expect(after).toBeGreaterThan(before);
  });

  test("the page has the consensus panel the script fills", async () => {
    const html = await (await app.request("/")).text();
    for (const id of ["cons-leader", "cons-state", "cons-sub"]) expect(html).toContain(`id="${id}"`);
    expect(html).toContain("generation");
  });
});
