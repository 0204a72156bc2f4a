/**
 * README, "What roomy promises": an acknowledged write survives the crash of
 * any one node; never a wrong answer (`unknown_room` for a room that exists,
 * a 200 room list or dump with rooms missing); a person in at most one room.
 *
 * 3 real nodes under load: rooms created in batches of 25 through every live
 * node, people walking between the rooms already acknowledged, readers
 * asking the room list, who-is-in and full dumps. Each node in turn is
 * killed (kill -9) in the middle of it, restarted under its name 2 s later,
 * and waited for (ready) before the next. Checked all along: no
 * `unknown_room` for a room acknowledged before the request was sent, no 200
 * list or dump missing such a room; at the end, on every node: every
 * acknowledged room listed and dumped, nobody in two rooms, everyone where
 * an acknowledged walk put them.
 *
 * Real processes, ~60 s: `HOSTILE_CREATE_KILL=1 npx bun test --timeout 200000 tests/cluster/hostile-create-kill.test.ts`
 * (HOSTILE_BIN=path runs that binary; HOSTILE_PROFILE=local|lan, default lan; HOSTILE_ROUNDS=n victims, default 3).
 */
import { afterAll, expect, test } from "bun:test";
import { call, HostileCluster, hostileBinary, settledGet, sleep, Walkers } from "./hostile-kit.ts";

const RUN = process.env["HOSTILE_CREATE_KILL"] === "1";
const PROFILE = process.env["HOSTILE_PROFILE"] ?? "lan";
const ROUNDS = Number(process.env["HOSTILE_ROUNDS"] ?? 3);
const BATCH = 25;

let cluster: HostileCluster | undefined;

afterAll(async () => {
  await cluster?.close();
}, 30_000);

test.skipIf(!RUN)("kill -9 of each node in turn during batch room creation and walks: no acknowledged room missing, no unknown_room, nobody lost or in two rooms", async () => {
  const c = (cluster = new HostileCluster(await hostileBinary(), ["n1", "n2", "n3"], 26310, ["--profile", PROFILE]));
  await c.start();
  const acked = new Map<string, number>(); // room -> when its creation was acknowledged
  const base = Array.from({ length: 6 }, (_, i) => `base-${i}`);
  const r0 = await call(`${c.nodes[0]!.url}/v1/rooms`, { rooms: base });
  expect(r0.code).toBe("ok");
  for (const b of base) acked.set(b, r0.done);
  const ackedList: string[] = [...base];

  const t0 = Date.now();
  const violations: string[] = [];
  const errors: Record<string, number> = {};
  const count = (k: string): void => void (errors[k] = (errors[k] ?? 0) + 1);
  // Per second since t0: creations acknowledged; and the slowest answers.
  const perSecond: number[] = [];
  const slowest: string[] = [];
  const slow = (what: string, r: { code: string; sent: number; done: number }): void => {
    const s = Math.floor((r.done - t0) / 1000);
    if (r.code === "ok") perSecond[s] = (perSecond[s] ?? 0) + 1;
    if (r.done - r.sent > 3_000) slowest.push(`${what} ${r.code} took ${r.done - r.sent} ms at ${((r.sent - t0) / 1000).toFixed(1)}s`);
  };
  let stop = false;

  // Creators: 4 workers, each a batch of BATCH new rooms at a time through the next live node.
  const creators = Array.from({ length: 4 }, async (_, w) => {
    for (let k = 0; !stop && k < 100_000; k++) {
      const live = c.live();
      const node = live[(w + k) % live.length]!;
      const rooms = Array.from({ length: BATCH }, (_, i) => `c${w}-${k}-${i}`);
      const r = await call(`${node.url}/v1/rooms`, { rooms });
      count(`create ${r.code}`);
      slow(`create`, r);
      if (r.code === "ok") for (const room of rooms) (acked.set(room, r.done), ackedList.push(room));
      await sleep(r.code === "ok" ? 40 : 100);
    }
  });
  const walkers = new Walkers(Array.from({ length: 24 }, (_, i) => `p${i}`), () => ackedList, () => c.live(), 20);
  walkers.start();
  // Readers: the room list, a who-is-in of an acknowledged room, a full dump; each checked against what was acknowledged before it was sent.
  const readers = Array.from({ length: 2 }, async (_, w) => {
    for (let k = 0; !stop && k < 100_000; k++) {
      const live = c.live();
      const node = live[(w + k) % live.length]!;
      const before = [...acked.entries()];
      const kind = k % 3;
      if (kind === 0) {
        const r = await call(`${node.url}/v1/rooms`);
        count(`rooms ${r.code}`);
        if (r.code === "ok") {
          const have = new Set(r.body as string[]);
          const missing = before.filter(([room, at]) => at < r.sent && !have.has(room)).map(([room]) => room);
          if (missing.length > 0) violations.push(`${node.name} GET /v1/rooms 200 without ${missing.length} acknowledged rooms, e.g. ${missing.slice(0, 3).join(",")}`);
        }
      } else if (kind === 1) {
        const [room] = before[(k * 7919) % before.length]!;
        const r = await call(`${node.url}/v1/who-is-in?room=${encodeURIComponent(room)}`);
        count(`who ${r.code}`);
        if (r.code === "unknown_room") violations.push(`${node.name} who-is-in ${room}: unknown_room (acked ${r.sent - acked.get(room)!} ms before)`);
      } else {
        const r = await call(`${node.url}/v1/dump`, undefined, 15_000);
        count(`dump ${r.code}`);
        if (r.code === "ok") {
          const have = r.body as Record<string, string[]>;
          const missing = before.filter(([room, at]) => at < r.sent && !(room in have)).map(([room]) => room);
          if (missing.length > 0) violations.push(`${node.name} dump 200 without ${missing.length} acknowledged rooms, e.g. ${missing.slice(0, 3).join(",")}`);
          const seen = new Map<string, string>();
          for (const [room, ps] of Object.entries(have)) for (const p of ps) {
            if (seen.has(p)) violations.push(`${node.name} dump: ${p} in both ${seen.get(p)} and ${room}`);
            seen.set(p, room);
          }
        }
      }
      await sleep(50);
    }
  });

  const timeline: string[] = [];
  const mark = (s: string): void => void timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${s}`);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const victim = c.nodes[(round + 1) % c.nodes.length]!;
      await sleep(1_500);
      mark(`kill -9 ${victim.name} (${acked.size} rooms acked)`);
      await victim.kill();
      await sleep(2_000);
      mark(`restart ${victim.name}`);
      await c.restart(victim.name);
      await c.waitReady(c.nodes, 45_000);
      mark(`all ready`);
    }
    await sleep(1_500);
  } finally {
    stop = true;
    await Promise.all([...creators, ...readers, walkers.stop()]);
  }
  mark(`load stopped: ${acked.size} rooms, ${walkers.acked()} walks acked`);
  for (const [p, log] of walkers.history) for (const w of log) {
    if (w.r.code === "unknown_room") violations.push(`${w.node} walk ${p} into ${w.room}: unknown_room (acked ${w.r.sent - acked.get(w.room)!} ms before it was sent)`);
  }

  // Settled: every node lists and dumps every acknowledged room, and the walks are where they were acknowledged.
  const dumps: Record<string, string[]>[] = [];
  for (const n of c.nodes) {
    const rooms = new Set(await settledGet<string[]>(`${n.url}/v1/rooms`));
    const missing = [...acked.keys()].filter((r) => !rooms.has(r));
    if (missing.length > 0) violations.push(`settled ${n.name}: ${missing.length} acknowledged rooms not listed, e.g. ${missing.slice(0, 5).join(",")}`);
    const dump = await settledGet<Record<string, string[]>>(`${n.url}/v1/dump`, 30_000);
    dumps.push(dump);
    const dm = [...acked.keys()].filter((r) => !(r in dump));
    if (dm.length > 0) violations.push(`settled ${n.name}: ${dm.length} acknowledged rooms not dumped`);
    for (const v of walkers.check(dump)) violations.push(`settled ${n.name}: ${v}`);
  }
  for (let i = 1; i < dumps.length; i++) {
    if (JSON.stringify(dumps[i]) !== JSON.stringify(dumps[0])) violations.push(`settled dumps differ: ${c.nodes[0]!.name} vs ${c.nodes[i]!.name}`);
  }
  console.log(timeline.join("\n"));
  console.log(JSON.stringify({ errors, walks: walkers.codes(), createsPerSecond: perSecond, slowest: slowest.slice(0, 20) }));
  if (violations.length > 0) console.log(violations.slice(0, 40).join("\n"));
  expect(violations).toEqual([]);
}, 240_000);
