/**
 * Two nodes given one --name (a copied unit file, a second machine set up
 * from the first): the members take the later process as that node, as
 * they take a restart. The earlier one is then out of the cluster while the
 * later one runs; it must say so, and answer nothing stale.
 *
 * Seen before: the earlier n2's /readyz said only "electing a leader" (it
 * was out of the cluster, waiting for a leader that would never talk to
 * it), with a WARN in its log the one hint. Now /readyz names the other
 * process and what to do. Its reads stay behind the read barrier (so
 * `unavailable` or fresh), and a write it acknowledges is kept.
 *
 * Then the twin stopped: the first says it waits for the members to forget
 * it (they take it back then, a minute on `lan`), not "electing a leader".
 *
 * Real processes on loopback, ~5 s. Ports 28070-28077.
 */
import { afterAll, expect, test } from "bun:test";
import { LoopbackNode, request, until } from "../support/procs.ts";
import { ensureBinary } from "../ship/support/binary.ts";

const BASE = 28070;
const nodes = ["n1", "n2", "n3"].map((name, i) => new LoopbackNode(name, BASE + 2 * i, BASE + 2 * i + 1, ["--profile", "lan"]));
const twin = new LoopbackNode("n2", BASE + 6, BASE + 7, ["--profile", "lan"]);
const [n1, n2, n3] = nodes as [LoopbackNode, LoopbackNode, LoopbackNode];

afterAll(async () => {
  await Promise.all([...nodes, twin].map((n) => n.kill()));
}, 30_000);

test("a second node started under a taken name takes it over; the first says on /readyz that its name was taken, and what it still answers is fresh", async () => {
  const bin = await ensureBinary();
  await n1.start(bin, []);
  await Promise.all([n2, n3].map((n) => n.start(bin, [n1.mesh])));
  await until("all ready", async () => ((await Promise.all(nodes.map((n) => n.ready()))).every(Boolean) ? true : undefined), 40_000, 20);
  expect((await request(`${n1.url}/v1/rooms`, { body: { rooms: ["hall"] }, timeoutMs: 5_000 })).code).toBe("ok");

  await twin.start(bin, [n1.mesh]);
  const why = await until("the first n2 to say its name was taken", async () => {
    const res = await fetch(`${n2.url}/readyz`, { signal: AbortSignal.timeout(2_000) });
    const reason = res.status === 503 ? (((await res.json()) as { reason?: string }).reason ?? "") : "";
    return reason.includes("another process took this node's name n2") ? reason : undefined;
  }, 20_000, 50);
  expect(why).toContain(twin.mesh);
  await until("the twin ready", async () => ((await twin.ready()) ? true : undefined), 20_000, 50);

  // The cluster goes on with the twin as n2. A read through the first n2
  // after a write acknowledged since the takeover answers `unavailable` or
  // holds that write (its read barrier still asks the others); a write it
  // acknowledges is kept.
  expect((await request(`${n1.url}/v1/walk-into`, { body: { room: "hall", people: ["late"] }, timeoutMs: 5_000 })).code).toBe("ok");
  const reads: Record<string, (body: unknown) => boolean> = {
    "/v1/who-is-in?room=hall": (b) => JSON.stringify(b) === JSON.stringify(["late"]),
    "/v1/where-is?person=late": (b) => (b as { room?: string }).room === "hall",
    "/v1/dump": (b) => JSON.stringify((b as Record<string, string[]>)["hall"]) === JSON.stringify(["late"]),
  };
  for (const [path, holdsLate] of Object.entries(reads)) {
    const r = await request(`${n2.url}${path}`, { timeoutMs: 5_000 });
    expect({ path, code: r.code, fresh: r.code !== "ok" || holdsLate(r.body) }).toEqual({ path, code: r.code === "ok" ? "ok" : "unavailable", fresh: true });
  }
  const viaOld = await request(`${n2.url}/v1/walk-into`, { body: { room: "hall", people: ["via-old"] }, timeoutMs: 5_000 });
  expect(["ok", "unavailable"]).toContain(viaOld.code);
  const who = await until("the twin's answer", async () => {
    const r = await request<string[]>(`${twin.url}/v1/who-is-in?room=hall`, { timeoutMs: 5_000 });
    return r.code === "ok" ? r.body! : undefined;
  }, 10_000, 100);
  expect(who.sort()).toEqual(viaOld.code === "ok" ? ["late", "via-old"] : ["late"]);
}, 90_000);

test("once the process that took its name is stopped, the first says it waits for the members to forget that one, and how long", async () => {
  expect(await twin.terminate()).toBe(0);
  const why = await until("the first n2 to say the other process is gone", async () => {
    const res = await fetch(`${n2.url}/readyz`, { signal: AbortSignal.timeout(2_000) });
    const reason = res.status === 503 ? (((await res.json()) as { reason?: string }).reason ?? "") : "";
    return reason.includes("is gone; the members take this one back as n2 once they forget it") ? reason : undefined;
  }, 20_000, 50);
  // Before, its /readyz said "electing a leader" for the whole minute the members remembered the twin.
  const s = Number(/in about (\d+) s/.exec(why)?.[1]);
  expect(s).toBeGreaterThan(0);
  expect(s).toBeLessThanOrEqual(60);
}, 30_000);
