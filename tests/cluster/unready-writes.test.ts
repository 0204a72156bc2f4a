/**
 * A node that is not ready (its seeds never answer: no committed
 * configuration) refuses a leave at once with `unavailable` and
 * `"no_effect": true` (CONTRACT: "no committed configuration yet" is a
 * no-effect case): nothing was written anywhere, so a client may send it
 * elsewhere without wondering. Before, the same refusal came without
 * `no_effect` (a newcomer's walkthrough). Reads of the rooms answer
 * `unavailable` too (README: a node not yet ready answers no read of them).
 *
 * Real process on loopback, ~3 s. Ports 28050-28051 (28052: a seed nobody listens on).
 */
import { afterAll, expect, test } from "bun:test";
import { LoopbackNode, request } from "../support/procs.ts";
import { ensureBinary } from "../ship/support/binary.ts";

const lonely = new LoopbackNode("lonely", 28050, 28051, ["--profile", "local"]);

afterAll(async () => {
  await lonely.kill();
}, 30_000);

test("a node with no committed configuration refuses a leave at once with no_effect, and answers no read of the rooms", async () => {
  await lonely.start(await ensureBinary(), ["127.0.0.1:28052"]);
  const t0 = Date.now();
  const res = await fetch(`${lonely.url}/v1/leave`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ people: ["ada"] }), signal: AbortSignal.timeout(8_000) });
  const body = (await res.json()) as { error: { code: string; no_effect?: boolean } };
  expect({ status: res.status, code: body.error.code, noEffect: body.error.no_effect }).toEqual({ status: 503, code: "unavailable", noEffect: true });
  expect(Date.now() - t0).toBeLessThan(3_000);
  for (const path of ["/v1/where-is?person=ada", "/v1/rooms", "/v1/dump"]) {
    const r = await request(`${lonely.url}${path}`, { timeoutMs: 8_000 });
    expect({ path, status: r.status, code: r.code }).toEqual({ path, status: 503, code: "unavailable" });
  }
  expect(await lonely.ready()).toBe(false);
}, 30_000);
