/**
 * CONTRACT.md, error codes: `room_full` is "the room has no space for
 * everyone listed"; README: a person's leave (or walk into another room) is
 * an acknowledged write once a majority holds it. A walk-into is planned by
 * the room's owner against its own replica (mesh/apps/rooms.ts, the "walk"
 * handler: planWalkInto(index, ...) with no read barrier, unlike the reads),
 * but a leave is written by whichever node it reaches (and a walk into
 * another room by that room's owner), so the room's owner may be the one
 * node of three that has not merged it yet. It then counts the person who
 * left as still seated and answers `room_full` for a room with a free seat,
 * after the leave that freed it was acknowledged.
 *
 * To open the window at will (as hostile-stale-dump.test.ts does): the
 * walk-into is sent to the room's owner on a connection it accepted
 * earlier, in two pieces, its head while the owner is frozen (SIGSTOP,
 * 0.4 s: not suspected, lease kept) and before the leave, its last bytes
 * once the leave was acknowledged by the two others. Waking, the owner reads
 * its HTTP socket before the leave's delta on its mesh socket.
 *
 * The second test needs no freeze: a client walks alice in, has her leave
 * through n1 (acknowledged), then walks bob in through n2, while a light
 * background load keeps the nodes busy; bob is sometimes refused
 * `room_full` (seen at 4badc92: 13 of 650 tries in this test's 20 s; 131
 * of 1247 in 40 s with 8 background walkers; 2 of 1611 with none). The
 * first test failed 8 of 8 and 7 of 8 tries at 4badc92.
 *
 * Real processes, < 60 s: `HOSTILE_STALE_FULL=1 npx bun test --timeout 120000 tests/cluster/hostile-stale-full.test.ts`
 * (HOSTILE_BIN=path runs that binary).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { call, HostileCluster, hostileBinary, settledGet, sleep } from "./hostile-kit.ts";

const RUN = process.env["HOSTILE_STALE_FULL"] === "1";
const FREEZE_MS = Number(process.env["HOSTILE_FREEZE_MS"] ?? 400);
const TRIES = 8;

let cluster: HostileCluster | undefined;
/** Capacity-1 rooms owned by n3. */
let mine: string[] = [];

beforeAll(async () => {
  if (!RUN) return;
  const c = (cluster = new HostileCluster(await hostileBinary(), ["n1", "n2", "n3"], 26370, []));
  await c.start();
  const names = Array.from({ length: 40 }, (_, i) => `solo-${i}`);
  expect((await call(`${c.nodes[0]!.url}/v1/rooms`, { rooms: names, capacity: 1 })).code).toBe("ok");
  const ov = await settledGet<OverviewRooms>(`${c.nodes[0]!.url}/v1/overview/rooms?q=solo-&limit=500`);
  mine = ov.rooms.filter((r) => r.owner === "n3").map((r) => r.name);
}, 90_000);

afterAll(async () => {
  await cluster?.close();
}, 30_000);

/** A POST on its own connection, opened now; its head is sent by send(), the blank line and body by finish(). */
async function splitPost(url: string, path: string, body: unknown): Promise<{ send(): void; finish(): Promise<{ status: number; text: string }> }> {
  const u = new URL(url);
  const sock = connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", () => resolve());
    sock.once("error", reject);
  });
  const chunks: Buffer[] = [];
  sock.on("data", (c: Buffer) => chunks.push(c));
  sock.on("error", () => {});
  const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
  const payload = Buffer.from(JSON.stringify(body));
  const head = `POST ${path} HTTP/1.1\r\nhost: ${u.host}\r\ncontent-type: application/json\r\ncontent-length: ${payload.length}\r\nconnection: close\r\n`;
  return {
    send: () => void sock.write(head),
    async finish() {
      sock.write(Buffer.concat([Buffer.from("\r\n"), payload]));
      const timer = setTimeout(() => sock.destroy(), 10_000);
      await closed;
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      return { status: m === null ? 0 : Number(m[1]), text: text.slice(text.indexOf("\r\n\r\n") + 4, text.indexOf("\r\n\r\n") + 300) };
    },
  };
}

interface OverviewRooms {
  rooms: { name: string; owner: string }[];
}

test.skipIf(!RUN)("a walk-into a capacity room whose last occupant's leave was acknowledged is admitted, not room_full", async () => {
  const c = cluster!;
  const [n1, , n3] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, unknown, NonNullable<(typeof c.nodes)[0]>];
  expect(mine.length).toBeGreaterThan(0);
  const seen: string[] = [];
  const wrong: string[] = [];
  for (const [i, room] of mine.slice(0, TRIES).entries()) {
    const a = `alice-${i}`;
    const b = `bob-${i}`;
    expect((await call(`${n1.url}/v1/walk-into`, { room, people: [a] })).code).toBe("ok");
    await sleep(300); // every replica has alice seated
    const walk = await splitPost(n3.url, "/v1/walk-into", { room, people: [b] });
    await sleep(50); // accepted by n3 before it freezes
    n3.pause();
    const t0 = Date.now();
    walk.send();
    await sleep(50); // in n3's socket before the leave is sent
    // Acknowledged by n1 and n2 (a majority) while n3 sleeps.
    const left = await call(`${n1.url}/v1/leave`, { people: [a] }, 1_000);
    const inTime = left.code === "ok" && Date.now() - t0 < FREEZE_MS - 100;
    const answer = walk.finish();
    await sleep(Math.max(0, FREEZE_MS - (Date.now() - t0)));
    n3.resume();
    const w = await answer;
    seen.push(`${room}: leave ${left.code}${inTime ? "" : " (late)"}, walk ${w.status} ${w.status === 200 ? "" : w.text}`);
    if (inTime && w.status === 409) wrong.push(`${room}: bob's walk-into answered ${w.status} ${w.text} after alice's leave was acknowledged`);
    await c.waitReady(c.nodes, 20_000);
    await sleep(300);
  }
  console.log(seen.join("\n"));
  expect(wrong).toEqual([]);
}, 150_000);

test.skipIf(!RUN)("no freeze: alice's leave acknowledged through n1, then bob's walk-into through n2 is admitted, never room_full", async () => {
  const c = cluster!;
  const [n1, n2] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  const free = mine.slice(TRIES);
  expect(free.length).toBeGreaterThan(0);
  let stop = false;
  // A light load on every node (8 people walking between plain rooms), so replication lags by a few ms now and then.
  expect((await call(`${n1.url}/v1/rooms`, { rooms: ["bg-0", "bg-1", "bg-2"] })).code).toBe("ok");
  const bg = Array.from({ length: 8 }, async (_, w) => {
    for (let k = 0; !stop && k < 1_000_000; k++) await call(`${c.nodes[k % 3]!.url}/v1/walk-into`, { room: `bg-${(w + k) % 3}`, people: [`bg${w}`] });
  });
  let tries = 0;
  const wrong: string[] = [];
  const end = Date.now() + 20_000;
  try {
    for (let i = 0; Date.now() < end; i++) {
      const room = free[i % free.length]!;
      const [a, b] = [`ann-${i}`, `ben-${i}`];
      if ((await call(`${n1.url}/v1/walk-into`, { room, people: [a] })).code !== "ok") continue;
      await sleep(20);
      if ((await call(`${n1.url}/v1/leave`, { people: [a] })).code !== "ok") continue;
      const w = await call(`${n2.url}/v1/walk-into`, { room, people: [b] });
      tries++;
      if (w.code === "room_full") wrong.push(`${room}: ${b} room_full after ${a}'s acknowledged leave: ${w.message}`);
      await call(`${n1.url}/v1/leave`, { people: [b] });
    }
  } finally {
    stop = true;
    await Promise.all(bg);
  }
  console.log(`${tries} tries, ${wrong.length} room_full`);
  expect(wrong.slice(0, 5)).toEqual([]);
}, 90_000);
