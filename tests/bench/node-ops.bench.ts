/**
 * Local operations per second on one node: walk-into through the Node API
 * (one at a time, and 64 in flight), park/unpark pairs, and walk-into over
 * HTTP through the typed client. Counts are bounded.
 */
import { createApp } from "../../http/app.ts";
import { staticRoutes } from "../../http/instrument.ts";
import { createClient } from "../../http/client.ts";
import { serve } from "../../adapter/serve.ts";
import { startNode } from "../../mesh/node/node.ts";

const ROOMS = 100;
const API_OPS = 50_000;
const HTTP_OPS = 5_000;
const IN_FLIGHT = 64;
const HTTP_IN_FLIGHT = 16;

async function timed(ops: number, fn: () => Promise<void>): Promise<{ ops: number; ms: number; perSec: number }> {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  return { ops, ms, perSec: Math.round((ops / ms) * 1000) };
}

/** Runs `count` jobs with at most `width` in flight. */
async function pool(count: number, width: number, job: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

export async function run(): Promise<{ title: string; markdown: string }> {
  const node = await startNode({ name: "bench", spaces: 1_000_000 });
  const rooms = Array.from({ length: ROOMS }, (_, i) => `room-${i}`);
  await node.app.addRooms(rooms);
  const app = node.app;

  // Warm up the processes and the JIT.
  await pool(2000, 8, (i) => app.walkInto(rooms[i % ROOMS]!, [`w${i}`]));

  const seq = await timed(API_OPS, async () => {
    for (let i = 0; i < API_OPS; i++) await app.walkInto(rooms[i % ROOMS]!, [`p${i % 5000}`]);
  });
  const par = await timed(API_OPS, () => pool(API_OPS, IN_FLIGHT, (i) => app.walkInto(rooms[(i * 7) % ROOMS]!, [`q${i % 5000}`])));
  const parking = await timed(API_OPS / 5, async () => {
    for (let i = 0; i < API_OPS / 10; i++) {
      await app.park((i % 4) + 1, `CAR ${i}`);
      await app.unpark((i % 4) + 1, `CAR ${i}`);
    }
  });

  const admin = createApp(node);
  const http = serve({ hostname: "127.0.0.1", port: 0, fetch: admin.fetch, routes: staticRoutes(admin) });
  const client = createClient(http.url);
  await pool(200, 8, (i) => client.walkInto(rooms[i % ROOMS]!, [`h${i}`]));
  const overHttp = await timed(HTTP_OPS, () => pool(HTTP_OPS, HTTP_IN_FLIGHT, (i) => client.walkInto(rooms[i % ROOMS]!, [`r${i % 2000}`])));
  await http.stop();
  await node.stop();

  const row = (what: string, r: { ops: number; ms: number; perSec: number }) =>
    `| ${what} | ${r.ops.toLocaleString("en-US")} | ${r.ms.toFixed(0)} | ${r.perSec.toLocaleString("en-US")} |`;
  const markdown = [
    `One node, ${ROOMS} rooms, ${typeof Bun === "undefined" ? "Deno" : `Bun ${Bun.version}`}. Each walk-into goes through the target room's process (mailbox), the capacity rule, one HLC-stamped delta and the change indexes.`,
    "",
    "| operation | ops | ms | ops/s |",
    "| --- | ---: | ---: | ---: |",
    row("walk-into, Node API, one at a time", seq),
    row(`walk-into, Node API, ${IN_FLIGHT} in flight`, par),
    row("park + unpark (gate -> lot processes), one at a time", parking),
    row(`walk-into over HTTP (typed client, ${HTTP_IN_FLIGHT} in flight, same process)`, overHttp),
  ].join("\n");
  return { title: "Local operations on one node", markdown };
}

if (import.meta.main) console.log((await run()).markdown);
