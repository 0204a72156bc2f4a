/**
 * who-is-in while the scale benchmark's walk-ins run: what a read costs
 * under write load (under a read lease, none of the barrier's wait for the
 * writes in flight; and the lease makes those writes wait for the reader).
 * A child process of its own,
 * so the load's 16 clients do not delay its calls in their event loop.
 *
 *   bun tests/bench/who-sampler.ts <url,url,...> <rooms> <pauseMs> <capS>
 *
 * Sequential GETs of /v1/who-is-in of a random room r0..r<rooms-1>, nodes in
 * turn, a pause between calls (a light load beside the walk-ins). Stops when
 * a line arrives on stdin (or stdin closes, or after capS), then prints one
 * JSON line: the latencies (ms, sorted), those of /healthz, and the answers
 * by code.
 */
import { request } from "../support/procs.ts";

const [urlsArg = "", roomsArg = "100000", pauseArg = "20", capArg = "600"] = process.argv.slice(2);
const urls = urlsArg.split(",").filter((u) => u !== "");
const rooms = Number(roomsArg);
const pauseMs = Number(pauseArg);
const capMs = Number(capArg) * 1000;

let stop = false;
process.stdin.on("data", () => (stop = true));
process.stdin.on("end", () => (stop = true));
const t0 = performance.now();

// A fixed sequence (xorshift), so runs ask the same rooms.
let x = 0x9e3779b9;
const nextRoom = (): number => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return (x >>> 0) % rooms;
};

// Each who-is-in is followed by a GET /healthz of the same node: its peer in
// the same moment (the node's HTTP and event loop under the same load, with
// no read barrier).
const ms: number[] = [];
const healthMs: number[] = [];
const codes: Record<string, number> = {};
for (let i = 0; !stop && performance.now() - t0 < capMs; i++) {
  const node = urls[i % urls.length]!;
  let t = performance.now();
  const r = await request(`${node}/v1/who-is-in?room=r${nextRoom()}`, { timeoutMs: 10_000, parse: false });
  ms.push(performance.now() - t);
  codes[r.code] = (codes[r.code] ?? 0) + 1;
  t = performance.now();
  await request(`${node}/healthz`, { timeoutMs: 10_000, parse: false });
  healthMs.push(performance.now() - t);
  await new Promise((res) => setTimeout(res, pauseMs));
}
ms.sort((a, b) => a - b);
healthMs.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ ms, healthMs, codes }) + "\n");
process.exit(0);
