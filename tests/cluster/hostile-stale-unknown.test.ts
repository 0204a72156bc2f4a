/**
 * README, "What roomy promises": never a wrong answer, `unknown_room` for a
 * room that exists. A node that missed a room's creation for a moment (it
 * was frozen while the creation was acknowledged by the two others, a
 * majority) still holds its lease when it wakes, and answers a who-is-in
 * that waited in its socket from its own replica, before the creation's
 * delta is merged: `unknown_room` for a room whose creation was acknowledged.
 *
 * Seen with a binary built before 0c0e8b9 (tmp harness, --profile local,
 * the first freeze right after the cluster was ready: who-is-in answered
 * unknown_room while the walk-into queued with it was ok). The cause:
 * mesh/apps/rooms.ts known() trusted the local index whenever the node was
 * authoritative, though writes after its epoch's catch-up reach it only by
 * replication, which a majority acknowledgement does not wait for. 0c0e8b9
 * sends such calls to the room's owner; this test passed 32 freezes from
 * source with that change. It is a race on wake-up (the HTTP request against
 * the delta), so a pass is not proof: it pins the promise.
 *
 * Real processes, ~30 s: `HOSTILE_STALE=1 npx bun test --timeout 120000 tests/cluster/hostile-stale-unknown.test.ts`
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Cluster, sleep, waitFor, type RoomyProcess } from "../support/cluster.ts";
import { createdWhileFrozen } from "../support/frozen.ts";

const RUN = process.env["HOSTILE_STALE"] === "1";
const FREEZE_MS = 1_000;
const TRIES = 20;

let cluster: Cluster | undefined;

beforeAll(async () => {
  if (RUN) cluster = await Cluster.start({ size: 3, profile: "local", deadlineMs: 60_000 });
}, 90_000);

afterAll(async () => {
  await cluster?.close();
}, 30_000);

async function answer(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(8_000) });
    const body = (await res.json()) as { error?: { code?: string } };
    return res.status === 200 ? "ok" : (body.error?.code ?? `http_${res.status}`);
  } catch {
    return "no-answer";
  }
}

test.skipIf(!RUN)("a who-is-in answered by a node that woke after a room's acknowledged creation is never unknown_room", async () => {
  const [n1, , n3] = cluster!.nodes as [RoomyProcess, RoomyProcess, RoomyProcess];
  const seen: string[] = [];
  for (let i = 0; i < TRIES; i++) {
    const room = `stale-${i}`;
    n3.pause();
    const t0 = Date.now();
    // Acknowledged by n1 and n2 (a majority) unless n3 owns the room (then it waits for n3: skip).
    const created = await createdWhileFrozen(n1.probe, room, t0, FREEZE_MS);
    // Three requests wait in n3's sockets, as in the run that saw it (race2: who-is-in, walk-into and the room list at once).
    const who = created ? answer(`${n3.url}/v1/who-is-in?room=${encodeURIComponent(room)}`) : Promise.resolve("skipped");
    const walk = created ? fetch(`${n3.url}/v1/walk-into`, { method: "POST", body: JSON.stringify({ room, people: [`p${i}`] }), signal: AbortSignal.timeout(8_000) }).then(async (r) => r.status === 200 ? "ok" : ((await r.json()) as { error: { code: string } }).error.code, () => "no-answer") : Promise.resolve("skipped");
    const list = created ? answer(`${n3.url}/v1/rooms`) : Promise.resolve("skipped");
    await sleep(Math.max(0, FREEZE_MS - (Date.now() - t0)));
    n3.resume();
    const [code, walked] = await Promise.all([who, walk, list]);
    seen.push(`${room}: who ${code}, walk ${walked}`);
    expect({ room, code, walked }).not.toMatchObject({ code: "unknown_room" });
    expect({ room, code, walked }).not.toMatchObject({ walked: "unknown_room" });
    await waitFor("n3 ready again", async () => (await fetch(`${n3.url}/readyz`)).status === 200, { timeoutMs: 30_000 });
    await sleep(500);
  }
  console.log(seen.join("; "));
}, 180_000);
