/**
 * README, "What roomy promises": an acknowledged write survives, and a read
 * started after a write was acknowledged reflects it. A person's room is one
 * key (`person/<p>`) of the LWW map, and the writes to it come from
 * different nodes: a walk-into is written by the room's owner
 * (mesh/apps/rooms.ts walkInto -> ctx.write, no read barrier), a leave by
 * whichever node it reaches (rooms.ts leave -> ctx.write). Each is stamped
 * by its writer's HLC (mesh/node/node.ts: hlc.now(clock.now())), which has
 * observed only what that writer merged. A write acknowledged by the two
 * other nodes of three need not be merged on the third yet; a second write
 * of the same key written there right after the first's ack is stamped
 * without having observed the first: same wall millisecond (or a clock a
 * little behind, well within the second the README assumes), a lower
 * counter or a smaller writer id (core/crdt/hlc.ts compareTs) and the
 * LATER acknowledged write loses the merge everywhere, for good. where-is
 * then names the room the person was acknowledged out of, and who-is-in
 * lists them there.
 *
 * 1. Simulator (deterministic, one world clock, no skew): n1's delta to n2
 *    is dropped once (as hostile-stale-list does), so n1 and n3 acknowledge
 *    q's walk into a room of n1; q then walks into a room of n2 through n2,
 *    acknowledged; where-is (anywhere, behind the read barrier) still gives
 *    n1's room (and the same with n1 and n2 swapped). At 18b6443: 43, 44
 *    and 44 of 100 acknowledged walks lost (seeds lww-1..3).
 * 2. Real processes, no fault, no skew: 12 clients keep n1 busy writing; a
 *    client walks q into a room of n1 through n1, then has q leave through
 *    n2 (or walk into a room of n2 through n2), acknowledged, then asks
 *    where-is through n3: at 47127b1, 2 of 5,619 answers in 25 s (and 1 in
 *    a 30 s run) named the room q had been acknowledged out of, and still
 *    did once settled. Rare: it needs the same wall millisecond.
 * 3. The same with n2's wall clock 0.3 s behind (libfaketime, skipped when
 *    it is not installed: apt-get install faketime): 12 of 5,390 in 20 s.
 *
 * `HOSTILE_LOST_UPDATE=1 npx bun test --timeout 120000 tests/cluster/hostile-lost-update.test.ts`
 * (HOSTILE_BIN=path runs that binary; real-process parts take the bench lock's share: < 90 s).
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppSim } from "../../mesh/sim/app-harness.ts";
import { call, HostileCluster, hostileBinary, settledGet, sleep } from "./hostile-kit.ts";

const RUN = process.env["HOSTILE_LOST_UPDATE"] === "1";
const SECS = Number(process.env["HOSTILE_SECS"] ?? 30);
const FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/** Settles `p` in 0.05 ms slices of virtual time (sim.settle steps whole ms, so a reply and the next call never share one). */
async function fine<T>(sim: AppSim, p: Promise<T>, maxMs = 5_000): Promise<boolean> {
  let done: boolean | null = null;
  p.then(() => (done = true), () => (done = false));
  for (let t = 0; done === null && t < maxMs * 20; t++) await sim.run(0.05);
  return done === true;
}

test.skipIf(!RUN)("simulator: a walk acknowledged right after an acknowledged walk the writer had not merged yet is not lost", async () => {
  const seen: string[] = [];
  for (const seed of [1, 2, 3]) {
    const sim = await AppSim.start({ seed: `lww-${seed}`, nodes: 3, network: { delayMinMs: 0.02, delayMaxMs: 0.05 } });
    const registry = sim.slot("n1").parts!.registry;
    const ownedBy = (o: string): string[] => {
      const r: string[] = [];
      for (let i = 0; r.length < 5; i++) if (registry.ownerOf(`room:o-${i}`) === o) r.push(`o-${i}`);
      return r;
    };
    const [rx, ry] = [ownedBy("n1"), ownedBy("n2")];
    await sim.retry(() => sim.slot("n1").node!.app.addRooms([...rx, ...ry]), "create");
    await sim.until(() => sim.replicasAgree(), 5_000, "replicated");
    let lost = 0;
    let tries = 0;
    for (let i = 0; i < 100; i++) {
      const q = `q${i}`;
      // Both ways round (which writer's id is smaller decides ties), each run of 50 back to back.
      const [x, y, rooms] = i < 50 ? ["n1", "n2", [rx, ry]] as const : ["n2", "n1", [ry, rx]] as const;
      const [from, to] = [rooms[0][i % 5]!, rooms[1][i % 5]!];
      // y misses this delta for now (re-sent later); x and n3 acknowledge the walk.
      sim.net.dropNextMatching(sim.address(x), sim.address(y), "d", 1);
      if (!(await fine(sim, sim.slot(x).node!.app.walkInto(from, [q])))) continue;
      if (!(await fine(sim, sim.slot(y).node!.app.walkInto(to, [q])))) continue;
      tries++;
      const w = await sim.settle(sim.slot("n3").node!.app.whereIs(q), 5_000);
      if (w.ok === true && w.value !== to) lost++;
      await sim.run(3);
    }
    seen.push(`seed ${seed}: ${lost} of ${tries} acknowledged walks lost`);
  }
  console.log(seen.join("\n"));
  expect(seen).toEqual(["seed 1: 0 of 100 acknowledged walks lost", "seed 2: 0 of 100 acknowledged walks lost", "seed 3: 0 of 100 acknowledged walks lost"]);
}, 120_000);

let cluster: HostileCluster | undefined;
afterAll(async () => {
  await cluster?.close();
}, 30_000);

/** A script running `bin` with its wall clock `skew` s behind the host's (timers, on the monotonic clock, untouched). */
function skewedBin(bin: string, skew: number): string {
  const dir = mkdtempSync(join(tmpdir(), "roomy-skew-"));
  const path = join(dir, "roomy.sh");
  writeFileSync(path, `#!/bin/sh\nexport LD_PRELOAD=${FAKETIME}\nexport FAKETIME=-${skew}\nexport FAKETIME_DONT_FAKE_MONOTONIC=1\nexec ${JSON.stringify(bin)} "$@"\n`, { mode: 0o755 });
  return path;
}

/** Walk q into n1's room through n1, then leave (or walk into n2's room) through n2, then where-is through n3; the wrong answers. */
async function lostUpdates(skew: number | null, secs: number): Promise<{ tries: number; wrong: string[] }> {
  const bin = await hostileBinary();
  const c = (cluster = new HostileCluster(bin, ["n1", "n2", "n3"], 26400, []));
  const wrong: string[] = [];
  let tries = 0;
  try {
    const n2bin = skew === null ? bin : skewedBin(bin, skew);
    await Promise.all(c.nodes.map((n) => n.start(n.name === "n2" ? n2bin : bin, c.seeds(n.name))));
    await c.waitReady(c.nodes, 60_000);
    const [n1, n2, n3] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0], (typeof c.nodes)[0]];
    const names = Array.from({ length: 30 }, (_, i) => `r-${i}`);
    expect((await call(`${n1!.url}/v1/rooms`, { rooms: names })).code).toBe("ok");
    const ov = await settledGet<{ rooms: { name: string; owner: string }[] }>(`${n1!.url}/v1/overview/rooms?q=r-&limit=500`);
    const [rx, ry] = ["n1", "n2"].map((o) => ov.rooms.filter((r) => r.owner === o).map((r) => r.name)) as [string[], string[]];
    expect(rx.length * ry.length).toBeGreaterThan(0);
    let stop = false;
    // Background writers on n1's rooms through n1: n2 merges n1's stream a little late now and then.
    const bg = Array.from({ length: 12 }, async (_, w) => {
      for (let k = 0; !stop && k < 1_000_000; k++) await call(`${n1!.url}/v1/walk-into`, { room: rx[(w + k) % rx.length], people: [`bg${w}`] });
    });
    const end = Date.now() + secs * 1_000;
    try {
      for (let i = 0; Date.now() < end; i++) {
        const q = `q${i}`;
        const a = await call(`${n1!.url}/v1/walk-into`, { room: rx[i % rx.length], people: [q] });
        if (a.code !== "ok") continue;
        const leave = i % 2 === 1;
        const want = leave ? null : ry[i % ry.length]!;
        const b = leave ? await call(`${n2!.url}/v1/leave`, { people: [q] }) : await call(`${n2!.url}/v1/walk-into`, { room: want, people: [q] });
        if (b.code !== "ok") continue;
        tries++;
        const w = await call(`${n3!.url}/v1/where-is?person=${q}`);
        const got = w.code === "ok" ? (w.body as { room: string | null }).room : undefined;
        if (got !== undefined && got !== want) wrong.push(`${q}: walked into ${rx[i % rx.length]} via n1 (ok), then ${leave ? "left" : `walked into ${want}`} via n2 (ok); where-is via n3: ${got}`);
      }
    } finally {
      stop = true;
      await Promise.all(bg);
    }
    // Settled: still wrong (the later write lost the merge for good)?
    await sleep(1_000);
    for (const [k, s] of wrong.slice(0, 5).entries()) {
      const q = s.slice(0, s.indexOf(":"));
      const w = await settledGet<{ room: string | null }>(`${n1!.url}/v1/where-is?person=${q}`);
      wrong[k] = `${s}; settled, where-is via n1: ${w.room}`;
    }
  } finally {
    await c.close();
    cluster = undefined;
  }
  return { tries, wrong };
}

test.skipIf(!RUN)("real processes, no skew: a leave or walk acknowledged through n2 right after a walk acknowledged through n1 is what where-is reflects", async () => {
  const { tries, wrong } = await lostUpdates(null, SECS);
  console.log(`no skew: ${tries} tries, ${wrong.length} wrong\n${wrong.slice(0, 5).join("\n")}`);
  expect(wrong.slice(0, 5)).toEqual([]);
}, 150_000);

test.skipIf(!RUN || !existsSync(FAKETIME))("real processes, n2's clock 0.3 s behind: the same", async () => {
  const { tries, wrong } = await lostUpdates(0.3, Math.min(SECS, 20));
  console.log(`n2 0.3 s behind: ${tries} tries, ${wrong.length} wrong\n${wrong.slice(0, 5).join("\n")}`);
  expect(wrong.slice(0, 5)).toEqual([]);
}, 150_000);
