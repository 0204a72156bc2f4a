/**
 * README and CONTRACT.md: `walk-into ROOM PERSON...` — "each person leaves
 * the room they are in (if any) and enters ROOM; all or nothing". A reader
 * should then see a walk of many people whole or not at all: who-is-in of
 * the room they left lists all of them or none.
 *
 * It does not. A node merges a received batch MERGE_PIECE (256) entries at
 * a time, stopping a turn after MERGE_BUDGET_MS (8 ms) and going on next
 * turn (mesh/replication/data-inbox.ts, chunk-queue.ts:29-31), and each piece
 * reaches the map and the room index at once (mesh/apps/rooms.ts,
 * replicator.onChange -> index.apply). A who-is-in (or where-is, or a dump)
 * answered between two turns sees part of one write: at 47127b1, 11-15 of
 * ~4,000 who-is-in answers on n2 and n3 during 20-30 walks of 6,000 people
 * through n1 listed e.g. 2,048 or 3,952 of the 6,000 (every one during the
 * walk, before its acknowledgement: the read barrier does wait for a write
 * acknowledged before the read; none seen after).
 *
 * Fixed for the first test by 0928fdf/aacf5d5 (a batch merged over turns
 * reaches the listeners only once whole; released early only by a merge or
 * write touching one of its keys). The second test takes that door: six of
 * the 6,000 walkers are moved about meanwhile by walks through n2 and n3;
 * at aacf5d5, 7 of 2,724 answers listed part of the other 5,994 (e.g.
 * 2,300 or 4,858 of them).
 *
 * `HOSTILE_TORN_WALK=1 npx bun test --timeout 120000 tests/cluster/hostile-torn-walk.test.ts`
 * (HOSTILE_BIN=path runs that binary). Real processes, < 40 s.
 */
import { afterAll, expect, test } from "bun:test";
import { call, HostileCluster, hostileBinary, sleep } from "./hostile-kit.ts";

const RUN = process.env["HOSTILE_TORN_WALK"] === "1";
const N = 6_000; // ~50 KB of names: under the 64 KiB body limit
const ROUNDS = 30;

let cluster: HostileCluster | undefined;
afterAll(async () => {
  await cluster?.close();
}, 30_000);

/** Who-is-in answers on n2 and n3 that listed part of a walk (`touch`: background walks move x0-x5, six of the walkers, through n2 and n3). */
async function tornAnswers(touch: boolean): Promise<string[]> {
  const c = (cluster = new HostileCluster(await hostileBinary(), ["n1", "n2", "n3"], 26440, []));
  try {
    return await tornRun(c, touch);
  } finally {
    await c.close();
    cluster = undefined;
  }
}

async function tornRun(c: HostileCluster, touch: boolean): Promise<string[]> {
  await c.start();
  const [n1, n2, n3] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0], (typeof c.nodes)[0]];
  expect((await call(`${n1!.url}/v1/rooms`, { rooms: ["ra", "rb", "bg0", "bg1"] })).code).toBe("ok");
  const people = Array.from({ length: N }, (_, i) => `x${i}`);
  expect((await call(`${n1!.url}/v1/walk-into`, { room: "ra", people }, 30_000)).code).toBe("ok");
  let stop = false;
  const torn: string[] = [];
  const seen: Record<string, number> = {};
  const walks: { sent: number; done: number }[] = [];
  const note = (k: string): void => void (seen[k] = (seen[k] ?? 0) + 1);
  const readers = [n2!, n3!, n2!, n3!].map(async (n, w) => {
    for (let k = 0; !stop && k < 1_000_000; k++) {
      const room = (w + k) % 2 === 0 ? "ra" : "rb";
      const r = await call(`${n.url}/v1/who-is-in?room=${room}`);
      if (r.code !== "ok") {
        note(r.code);
        continue;
      }
      // With `touch`, x0-x5 are moved about by others: only the rest count.
      const len = (r.body as string[]).filter((p) => !touch || !/^x[0-5]$/.test(p)).length;
      const all = touch ? N - 6 : N;
      note(len === 0 ? "none" : len === all ? "all" : "part");
      if (len !== 0 && len !== all) {
        const walk = walks.filter((x) => x.sent <= r.done).pop();
        const when = walk === undefined ? "" : `, read began ${r.sent - walk.sent} ms after the walk was sent (${r.sent > walk.done ? "AFTER" : "before"} its acknowledgement)`;
        torn.push(`${n.name} who-is-in ${room}: ${len} of the ${N} walking${when}`);
      }
    }
  });
  // A light load on every node, so a merge now and then spans turns.
  const bg = Array.from({ length: 6 }, async (_, w) => {
    for (let k = 0; !stop && k < 1_000_000; k++) {
      if (touch) await call(`${c.nodes[1 + (k % 2)]!.url}/v1/walk-into`, { room: `bg${k % 2}`, people: [`x${w}`] });
      else await call(`${c.nodes[k % 3]!.url}/v1/walk-into`, { room: `bg${k % 2}`, people: [`b${w}`] });
    }
  });
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const sent = Date.now();
      walks.push({ sent, done: Number.MAX_SAFE_INTEGER });
      const r = await call(`${n1!.url}/v1/walk-into`, { room: i % 2 === 0 ? "rb" : "ra", people }, 30_000);
      walks[walks.length - 1]!.done = r.done;
      expect(r.code).toBe("ok");
      await sleep(200);
    }
  } finally {
    stop = true;
    await Promise.all([...readers, ...bg]);
  }
  console.log(`${touch ? "touching" : "plain"}: ${JSON.stringify(seen)}\n${torn.slice(0, 10).join("\n")}`);
  return torn;
}

test.skipIf(!RUN)("who-is-in during a walk of 6,000 people lists all of them or none, never part", async () => {
  expect((await tornAnswers(false)).slice(0, 5)).toEqual([]);
}, 110_000);

test.skipIf(!RUN)("the same while other walks, through the reading nodes, move six of the 6,000 about", async () => {
  expect((await tornAnswers(true)).slice(0, 5)).toEqual([]);
}, 110_000);
