/**
 * README, "What roomy promises": never a wrong answer, "a dump with rooms
 * missing". A room's creation is acknowledged once a majority holds it (the
 * owner and one more of three), so the third node may merge it a moment
 * later; meanwhile it still caught up for its epoch and holds its lease, and
 * its full dump and room list are read off its own index (mesh/apps/rooms.ts
 * dumpText -> room-dump.ts allRooms -> index.rooms(); rooms() likewise): a
 * 200 dump (and room list) without a room whose creation was acknowledged
 * before the dump was asked. 0c0e8b9 closed the same window for
 * `unknown_room` (only the owner says a room does not exist), not for the
 * lists.
 *
 * To open the window at will: the dump (and the room list) is sent to n3 on
 * a connection n3 accepted earlier, in two pieces: its first bytes while n3
 * is frozen (SIGSTOP, 0.4 s: not suspected, and its lease, 1.5 s from a
 * ping answered, outlives it; frozen 1.2 s it woke without one and answered
 * `unavailable`, which is honest) and before the creation, the last bytes once the
 * creation was acknowledged by n1 and n2. The request is complete only after
 * the acknowledgement, but its socket turned readable before the creation's
 * delta reached n3's mesh socket, so n3, waking, answers it first.
 *
 * Failed before 53c2bd1 (reads behind a read barrier): 6 of 6 tries (2
 * skipped: n3 owned the room) answered 200 for both without the room
 * (source at a4e3c12); passes at 2903898 (6 of 6 with the room). Frozen
 * 1.2 s instead, n3 woke without its lease and answered `unavailable`
 * (honest). The simulator's deterministic twin: hostile-stale-list.test.ts.
 *
 * Real processes, < 60 s: `HOSTILE_STALE_DUMP=1 npx bun test --timeout 120000 tests/cluster/hostile-stale-dump.test.ts`
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { Cluster, sleep, waitFor, type RoomyProcess } from "../support/cluster.ts";
import { createdWhileFrozen } from "../support/frozen.ts";

const RUN = process.env["HOSTILE_STALE_DUMP"] === "1";
const FREEZE_MS = Number(process.env["HOSTILE_FREEZE_MS"] ?? 400);
const TRIES = 8;

let cluster: Cluster | undefined;

beforeAll(async () => {
  if (RUN) cluster = await Cluster.start({ size: 3, deadlineMs: 40_000 });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
}, 30_000);

/** A GET on its own connection, opened now; the request is sent in two pieces (send(), then finish()). */
async function splitGet(url: string, path: string): Promise<{ send(): void; finish(): Promise<{ status: number; body: unknown }> }> {
  const u = new URL(url);
  const sock = connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", () => resolve());
    sock.once("error", reject);
  });
  const chunks: Buffer[] = [];
  sock.on("data", (c: Buffer) => chunks.push(c));
  const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
  sock.on("error", () => {});
  const head = `GET ${path} HTTP/1.1\r\nhost: ${u.host}\r\nconnection: close\r\n`;
  return {
    send: () => void sock.write(head),
    async finish() {
      sock.write("\r\n");
      const timer = setTimeout(() => sock.destroy(), 8_000);
      await closed;
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const sep = text.indexOf("\r\n\r\n");
      if (m === null || sep < 0) return { status: 0, body: text.slice(0, 200) };
      const headers = text.slice(0, sep).toLowerCase();
      let body = text.slice(sep + 4);
      if (headers.includes("transfer-encoding: chunked")) {
        let out = "";
        for (let i = 0; ; ) {
          const eol = body.indexOf("\r\n", i);
          const n = parseInt(body.slice(i, eol), 16);
          if (!(n > 0)) break;
          out += body.slice(eol + 2, eol + 2 + n);
          i = eol + 2 + n + 2;
        }
        body = out;
      }
      try {
        return { status: Number(m[1]), body: JSON.parse(body) as unknown };
      } catch {
        return { status: Number(m[1]), body };
      }
    },
  };
}

test.skipIf(!RUN)("a 200 dump or room list from a node that woke after a room's acknowledged creation holds that room", async () => {
  const [n1, , n3] = cluster!.nodes as [RoomyProcess, RoomyProcess, RoomyProcess];
  const seen: string[] = [];
  const wrong: string[] = [];
  for (let i = 0; i < TRIES; i++) {
    const room = `stale-dump-${i}`;
    const dump = await splitGet(n3.url, "/v1/dump");
    const list = await splitGet(n3.url, "/v1/rooms");
    await sleep(50); // accepted by n3 before it freezes
    n3.pause();
    const t0 = Date.now();
    dump.send();
    list.send();
    await sleep(50); // in n3's socket before the creation is sent
    // Acknowledged without n3 (unless n3 owns it: then it waited for n3's wake-up; skip).
    const created = await createdWhileFrozen(n1.probe, room, t0, FREEZE_MS);
    const answers = Promise.all([dump.finish(), list.finish()]);
    await sleep(Math.max(0, FREEZE_MS - (Date.now() - t0)));
    n3.resume();
    const [d, l] = await answers;
    if (created) {
      const dumpHas = d.status !== 200 || Object.hasOwn(d.body as object, room);
      const listHas = l.status !== 200 || (l.body as string[]).includes(room);
      seen.push(`${room}: dump ${d.status}${dumpHas ? "" : " MISSING"}, rooms ${l.status}${listHas ? "" : " MISSING"}`);
      if (!dumpHas) wrong.push(`${room}: 200 dump from n3 without it`);
      if (!listHas) wrong.push(`${room}: 200 room list from n3 without it`);
    } else seen.push(`${room}: skipped (not acknowledged within the freeze)`);
    await waitFor("n3 ready again", async () => (await fetch(`${n3.url}/readyz`)).status === 200, { timeoutMs: 20_000 });
    await sleep(300);
  }
  console.log(seen.join("\n"));
  expect(wrong).toEqual([]);
}, 120_000);
