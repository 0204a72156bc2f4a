/**
 * README, "What roomy promises": a node's system clock stepped while it runs
 * (an NTP step, `date -s`, a hypervisor's correction) changes nothing it
 * measures: its clock is wall time read at start, advanced by the monotonic
 * clock (adapter/clock.ts).
 *
 * Seen before (3 real nodes, n2's wall clock stepped 30 s by libfaketime
 * while walk-ins went through all three, one at a time): in the 9 s after the
 * step the cluster answered 5x fewer walk-ins (966 against 4,721 per node
 * unstepped), and 3 of them hung past their 3 s client timeout; a step back
 * 30 s, the same. Calls into n2 were dropped as "past their caller's
 * deadline", and its leases and waits ran on the stepped time.
 *
 * The same for nodes whose clocks were off when they started: each measures
 * the others' clocks on its probes (membership clock-offsets.ts) and puts a
 * call's deadline on its own clock. Before, a node 10 s ahead dropped every
 * call sent to it as past its caller's deadline.
 *
 * Real processes on loopback, ~15 s; needs Debian's `faketime` (libfaketime),
 * skipped without it (CI installs it and sets CI_REQUIRE_FAKETIME=1, which
 * fails instead). HOSTILE_BIN=path runs that binary. Ports 28030-28035.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LoopbackNode, request, until } from "../support/procs.ts";
import { hostileBinary } from "./hostile-kit.ts";

const FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const REQUIRED = process.env["CI_REQUIRE_FAKETIME"] === "1";
const BASE = 28030;

const nodes = ["n1", "n2", "n3"].map((n, i) => new LoopbackNode(n, BASE + 2 * i, BASE + 2 * i + 1, []));
const [n1, n2, n3] = nodes as [LoopbackNode, LoopbackNode, LoopbackNode];

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
}, 30_000);

/** `bin` under libfaketime, its wall-clock offset read from a file on every reading (the monotonic clock left alone). */
function steppable(bin: string, initial = "+0"): { bin: string; step(offset: string): void } {
  const dir = mkdtempSync(join(tmpdir(), "roomy-step-"));
  const offset = join(dir, "offset");
  writeFileSync(offset, `${initial}\n`);
  const path = join(dir, "roomy.sh");
  const env = [`LD_PRELOAD=${FAKETIME}`, `FAKETIME_TIMESTAMP_FILE=${offset}`, "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1"];
  writeFileSync(path, `#!/bin/sh\n${env.map((e) => `export ${e}`).join("\n")}\nexec ${JSON.stringify(bin)} "$@"\n`, { mode: 0o755 });
  return { bin: path, step: (o) => writeFileSync(offset, `${o}\n`) };
}

/** n1 on `bin`, n2 and n3 on theirs (clock wrappers), joining n1; whatever ran before is killed first. */
async function startThree(bin: string, bin2: string, bin3: string): Promise<void> {
  await Promise.all(nodes.map((n) => n.kill()));
  await n1.start(bin, []);
  await Promise.all([n2.start(bin2, [n1.mesh]), n3.start(bin3, [n1.mesh])]);
}

/** Until every node of `group` answers /readyz 200. */
const ready = (group: LoopbackNode[]) =>
  until(`${group.map((n) => n.name).join(", ")} ready`, async () => ((await Promise.all(group.map((n) => n.ready()))).every(Boolean) ? true : undefined), 30_000, 20);

/** Walk-ins one at a time through n1, n2, n3 in turn for `forMs`; the answers not ok or slower than 1 s. */
async function walkIns(rooms: string[], forMs: number, tick: (atMs: number) => void = () => {}): Promise<string[]> {
  const bad: string[] = [];
  const t0 = Date.now();
  for (let i = 0; Date.now() - t0 < forMs && i < 20_000; i++) {
    const at = Date.now() - t0;
    tick(at);
    const via = nodes[i % 3]!;
    const sent = Date.now();
    const r = await request(`${via.url}/v1/walk-into`, { body: { room: rooms[i % rooms.length], people: [`p${i}`] }, timeoutMs: 2_000 });
    const ms = Date.now() - sent;
    if ((r.code !== "ok" || ms > 1_000) && bad.length < 10) bad.push(`${(at / 1000).toFixed(2)} s via ${via.name}: ${r.code} in ${ms} ms`);
  }
  return bad;
}

test.skipIf(!existsSync(FAKETIME) && !REQUIRED)("one node's wall clock stepped 30 s forward, then 30 s back, under load: every walk-into answered ok, none slow", async () => {
  expect(existsSync(FAKETIME)).toBe(true);
  const bin = await hostileBinary();
  const clock = steppable(bin);
  await startThree(bin, clock.bin, bin);
  await ready(nodes);
  const rooms = Array.from({ length: 30 }, (_, i) => `r${i}`);
  expect((await request(`${n1.url}/v1/rooms`, { body: { rooms }, timeoutMs: 5_000 })).code).toBe("ok");

  let stepped = 0;
  const bad = await walkIns(rooms, 4_500, (at) => {
    if (stepped === 0 && at > 1_000) (clock.step("+30"), (stepped = 1));
    if (stepped === 1 && at > 2_500) (clock.step("-30"), (stepped = 2));
  });
  expect(stepped).toBe(2);
  expect(bad).toEqual([]);
  // And the stepped node's own view is whole: every walk-into above is in its dump.
  const dump = await request<Record<string, string[]>>(`${n2.url}/v1/dump`, { timeoutMs: 5_000 });
  expect(dump.code).toBe("ok");
  expect(Object.keys(dump.body ?? {}).sort()).toEqual([...rooms].sort());
}, 90_000);

test.skipIf(!existsSync(FAKETIME) && !REQUIRED)("nodes started with their clocks 10 s ahead and 5 s behind the first: every walk-into answered ok, none slow (calls' deadlines put on the receiver's clock by the measured offset)", async () => {
  expect(existsSync(FAKETIME)).toBe(true);
  const bin = await hostileBinary();
  await startThree(bin, steppable(bin, "+10").bin, steppable(bin, "-5").bin);
  await ready(nodes);
  const rooms = Array.from({ length: 30 }, (_, i) => `s${i}`);
  expect((await request(`${n1.url}/v1/rooms`, { body: { rooms }, timeoutMs: 5_000 })).code).toBe("ok");
  expect(await walkIns(rooms, 3_000)).toEqual([]);
}, 90_000);

test.skipIf(!existsSync(FAKETIME) && !REQUIRED)("a node started with its clock 90 s ahead (past the hybrid clock's 60 s) is not ready and says why; the others stay ready", async () => {
  expect(existsSync(FAKETIME)).toBe(true);
  const bin = await hostileBinary();
  await startThree(bin, steppable(bin, "+90").bin, bin);
  await ready([n1, n3]);
  const why = await until("n2's reason", async () => {
    const r = await fetch(`${n2.url}/readyz`);
    const body = (await r.json()) as { ready: boolean; reason?: string };
    return r.status === 503 && body.reason?.includes("clock is 90 s ahead of most members'") ? body.reason : undefined;
  }, 15_000, 100);
  expect(why).toContain("they refuse its writes");
  // Never ready meanwhile.
  for (let i = 0; i < 10; i++) {
    expect(await n2.ready()).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
  }
  expect((await n1.ready()) && (await n3.ready())).toBe(true);
}, 90_000);
