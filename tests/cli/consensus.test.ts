/** `roomy consensus [--json]` and `roomy recover --force` against a real node. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "../support/cluster.ts";
import { cli, killAll, type SpawnedNode, spawnReadyNode } from "./helpers.ts";

let n: SpawnedNode;
const roomy = (...args: string[]) => cli([...args, "--node", n.url]);

beforeAll(async () => {
  n = await spawnReadyNode(["--name", "cons1"]);
  await waitFor("cons1 leads", async () => JSON.parse((await roomy("consensus", "--json")).stdout).leader === "cons1", { timeoutMs: 15_000 });
});
afterAll(() => killAll());

describe("roomy consensus", () => {
  test("--json prints GET /v1/consensus", async () => {
    const r = await roomy("consensus", "--json");
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(c).sort()).toEqual(["applied", "commit", "epoch", "generation", "leader", "learners", "lot", "role", "term", "unavailable", "voters"]);
    expect(c).toMatchObject({ leader: "cons1", voters: ["cons1"], learners: [], lot: "raft", unavailable: null });
    const api = (await (await fetch(`${n.url}/v1/consensus`)).json()) as Record<string, unknown>;
    expect({ ...api, commit: 0, applied: 0 }).toEqual({ ...c, commit: 0, applied: 0 });
  });

  test("prints one field a line, aligned, without an unavailable line when writes are served", async () => {
    const r = await roomy("consensus");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(["leader", "term", "epoch", "generation", "commit", "applied", "voters", "learners", "role", "lot"]);
    expect(lines[0]).toMatch(/^leader\s+cons1$/);
    expect(lines[7]).toMatch(/^learners\s+-$/);
    expect(new Set(lines.map((l) => /^\S+\s+/.exec(l)![0].length)).size).toBe(1);
  });
});

describe("roomy recover", () => {
  test("without --force: a usage error (exit 2) saying what it ends and what may be lost, and nothing changes", async () => {
    const g0 = JSON.parse((await roomy("consensus", "--json")).stdout).generation as number;
    const r = await roomy("recover");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("ends the current consensus generation");
    expect(r.stderr).toContain("lost");
    expect(r.stderr).toContain("--force");
    expect(JSON.parse((await roomy("consensus", "--json")).stdout).generation).toBe(g0);
  });

  test("--force starts a new generation from the node's state and prints it", async () => {
    expect((await roomy("park", "1", "KEEP 1")).code).toBe(0);
    const g0 = JSON.parse((await roomy("consensus", "--json")).stdout).generation as number;
    const r = await roomy("recover", "--force", "--json");
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout) as { generation: number; voters: string[] };
    expect(c.generation).toBeGreaterThan(g0);
    expect(c.voters).toEqual(["cons1"]);
    await waitFor("the car still in the lot", async () => {
      const lot = await roomy("lot", "--json");
      return lot.code === 0 && "KEEP 1" in (JSON.parse(lot.stdout) as { vehicles: Record<string, unknown> }).vehicles;
    }, { timeoutMs: 10_000 });
    expect(n.logs()).toContain("generation ended by the operator");
  });
});
