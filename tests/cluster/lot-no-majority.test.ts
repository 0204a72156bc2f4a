/**
 * With no leader and too few voters alive to elect one, the Raft lot says
 * so at once (`unavailable`, the reason; a read `no_effect` too): only the voters'
 * return can end it, and a read or a park used to wait the consensus
 * timeout (3 s) for the same answer (a lot probe on 54aae04: GET /v1/lot
 * 3.03 s, `roomy lot` 6.1 s).
 *
 * 3 real nodes, two killed (kill -9), ~10 s.
 */
import { afterAll, expect, test } from "bun:test";
import { Cluster, type RoomyProcess, waitFor } from "../support/cluster.ts";

let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.close();
}, 30_000);

test("a survivor of two kills answers lot reads and parks unavailable at once, naming the lost majority", async () => {
  const c = (cluster = await Cluster.start({ size: 3, deadlineMs: 60_000 }));
  const [n1, n2, n3] = c.nodes as [RoomyProcess, RoomyProcess, RoomyProcess];
  await n1.client.park(1, "BEFORE 1");
  await Promise.all([n2.kill(), n3.kill()]);
  await waitFor("n1 to see the majority gone", async () => {
    const s = (await (await fetch(`${n1.url}/v1/consensus`)).json()) as { unavailable: string | null };
    return s.unavailable?.startsWith("no majority of voters") === true;
  }, { timeoutMs: 20_000 });
  for (const [what, req] of [
    ["GET /v1/lot", () => fetch(`${n1.url}/v1/lot`)],
    ["park", () => fetch(`${n1.url}/v1/gates/1/park`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ plate: "AFTER 1" }) })],
  ] as const) {
    const t0 = performance.now();
    const res = await req();
    const ms = performance.now() - t0;
    const body = (await res.json()) as { error?: { code: string; message: string; no_effect?: boolean } };
    expect([what, res.status, body.error?.code]).toEqual([what, 503, "unavailable"]);
    expect(body.error!.message).toContain("no majority of voters");
    // Neither proposed anything: the read, and the park (its gate passes the log's refusal on as its own).
    expect(body.error!.no_effect).toBe(true);
    expect(ms).toBeLessThan(1_000);
  }
}, 120_000);
