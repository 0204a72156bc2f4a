/**
 * The workload of gc-floor.bench.ts, run in a child process with
 * BUN_JSC_logGC=1: no roomy code, only the heap shape of a replica at 1.2M
 * keys (keys and values in column arrays, 256 buckets of ~4,700) and a
 * stream of writes into it for DURATION_MS, at most RATE a second, in turns
 * of up to 8 ms. A column is one array per bucket, or (the modes ending in
 * -chunked) chunks of 128 slots, as core/crdt/column.ts keeps a shard's.
 * The mode says what a write stores:
 *   new-keys  a new key with a new value string (people walking in)
 *   fresh     a new value string over an existing key (people moving)
 *   interned  an existing value string over an existing key
 *   ints      an int in a typed column (nothing the collector must trace)
 * Each write also makes a little garbage, as parsing a request does.
 * argv: mode, duration (ms), a line to print on stderr once set up, writes a second.
 */
const mode = process.argv[2] ?? "fresh";
const DURATION_MS = Number(process.argv[3] ?? 10_000);
/** Writes a second: a scale-run node applies every walk-in, ~40,000 people a second. */
const RATE = Number(process.argv[5] ?? 40_000);
const N = 1_200_000;
const BUCKETS = 256;
const CHUNK = 128;
const chunked = mode.endsWith("-chunked");
const keys: string[][] = [];
const vals: string[][] = [];
/** The chunked columns: per bucket, its chunks, and how many slots it holds. */
const keyChunks: string[][][] = [];
const valChunks: string[][][] = [];
const held: number[] = [];
function append(b: number, k: string, v: string): void {
  if (!chunked) {
    keys[b]!.push(k);
    vals[b]!.push(v);
    return;
  }
  const c = (held[b]! / CHUNK) | 0;
  if (c === keyChunks[b]!.length) {
    keyChunks[b]!.push([]);
    valChunks[b]!.push([]);
  }
  keyChunks[b]![c]!.push(k);
  valChunks[b]![c]!.push(v);
  held[b]!++;
}
function setVal(b: number, j: number, v: string): void {
  if (chunked) valChunks[b]![(j / CHUNK) | 0]![j % CHUNK] = v;
  else vals[b]![j] = v;
}
const ints: Int32Array[] = [];
for (let b = 0; b < BUCKETS; b++) {
  keys.push([]);
  vals.push([]);
  keyChunks.push([]);
  valChunks.push([]);
  held.push(0);
  ints.push(new Int32Array(Math.ceil(N / BUCKETS)));
}
const rooms = Array.from({ length: 100_000 }, (_, i) => `room-${i}`);
for (let i = 0; i < N; i++) {
  append(i % BUCKETS, `p/person-${i}`, rooms[i % rooms.length]!);
}
// The parent counts only the pauses logged after this line (the set-up's own are not the writes').
if (process.argv[4] !== undefined) console.error(process.argv[4]);
let n = 0;
let sink = 0;
const t0 = performance.now();
function turn(): void {
  const end = performance.now() + 8;
  // At most RATE writes a second, as a node takes them in the scale run (not as fast as one core can).
  const quota = Math.min(RATE * ((performance.now() - t0) / 1000), n + RATE);
  while (performance.now() < end && n < quota) {
    const i = (Math.random() * N) | 0;
    const b = i % BUCKETS;
    const j = (i / BUCKETS) | 0;
    if (mode.startsWith("new-keys")) append(b, `p/new-${n}`, `room-${n % rooms.length}`);
    else if (mode.startsWith("fresh")) setVal(b, j, `room-${n % rooms.length}`);
    else if (mode === "interned") setVal(b, j, rooms[n % rooms.length]!);
    else ints[b]![j] = n;
    n++;
    sink += JSON.stringify({ n, p: "x" }).length;
  }
  if (performance.now() - t0 < DURATION_MS) setTimeout(turn, n < quota ? 0 : 4);
  else {
    console.log(JSON.stringify({ writes: n, sink }));
    process.exit(0);
  }
}
turn();
