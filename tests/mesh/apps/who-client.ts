/**
 * Not a test: who-is-in latency as the scale bench's client sees it, from a
 * process of its own (dump-measure.ts starts it): sequential GETs to random
 * rooms, each timed from the request to the whole body. Prints one JSON line.
 *
 *   npx bun tests/mesh/apps/who-client.ts URL ROOMS CALLS
 */
const [url, rooms, calls] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4] ?? 2000)];
const lat: number[] = [];
let failed = 0;
for (let i = 0; i < calls; i++) {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/who-is-in?room=r${Math.floor(Math.random() * rooms)}`);
  await res.text();
  if (res.status === 200) lat.push(performance.now() - t0);
  else failed++;
}
lat.sort((a, b) => a - b);
const at = (p: number) => Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! * 1000) / 1000;
console.log(JSON.stringify({ calls, failed, p50: at(0.5), p99: at(0.99), max: at(1) }));
export {};
