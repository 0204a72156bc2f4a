/**
 * Not a test: a measurement of the full dump and of who-is-in at scale, on
 * 3 nodes in this one process over the real TCP mesh (CBOR on loopback),
 * with rooms and people written straight into every replica (the same
 * entries and stamps on each, so anti-entropy finds nothing to do) and each
 * room's process started on its owner. All three nodes share this event
 * loop, so a "turn" here is the longest any of them held it.
 *
 *   npx bun tests/mesh/apps/dump-measure.ts [rooms=100000] [people=1000000] [dumps=3] [whos=2000]
 *
 * Prints one JSON line per measurement.
 */
import type { Delta, DeltaEntry } from "../../../core/crdt/lww-map.ts";
import { personKey, roomKey } from "../../../core/rooms/keys.ts";
import { createApp } from "../../../http/app.ts";
import { staticRoutes } from "../../../http/instrument.ts";
import { serve } from "../../../adapter/serve.ts";
import { roomProcess } from "../../../mesh/apps/rooms.ts";
import { meshCluster } from "../../../mesh/node/tcp-parts.ts";
import { type Node, startNode } from "../../../mesh/node/node.ts";

const [rooms, people, dumps, whos] = [100_000, 1_000_000, 3, 2000].map((d, i) => Number(process.argv[2 + i] ?? d)) as [number, number, number, number];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (what: string, o: Record<string, unknown>) => console.log(JSON.stringify({ what, ...o }));

/**
 * The longest gap between 2 ms timer ticks since the last read: the longest
 * turn, give or take 2 ms. The machine is shared: a gap counts only the CPU
 * time this process got in it (a gap spent descheduled is not a turn).
 */
function turnMeter() {
  let last = performance.now();
  let lastCpu = cpuMs();
  let max = 0;
  const t = setInterval(() => {
    const now = performance.now();
    const cpu = cpuMs();
    max = Math.max(max, Math.min(now - last, cpu - lastCpu) - 2);
    last = now;
    lastCpu = cpu;
  }, 2);
  return {
    take(): number {
      const m = max;
      max = 0;
      return Math.round(m * 10) / 10;
    },
    stop: () => clearInterval(t),
  };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 1000) / 1000;
};

async function main(): Promise<void> {
  const factory = meshCluster({ membership: {} });
  const n1 = await startNode({ name: "m1", bind: "127.0.0.1:0", cluster: factory, profile: "local", lot: "crdt" });
  const seed = n1.meshAddress()!;
  const nodes: Node[] = [n1];
  for (const name of ["m2", "m3"]) nodes.push(await startNode({ name, bind: "127.0.0.1:0", join: [seed], cluster: factory, profile: "local", lot: "crdt" }));
  const ready = async () => {
    const deadline = Date.now() + 60_000;
    while (!nodes.every((n) => n.isReady() && n.registry.authoritative())) {
      if (Date.now() > deadline) throw new Error("cluster not ready");
      await sleep(50);
    }
  };
  await ready();
  log("ready", { nodes: nodes.map((n) => n.name) });

  // The same entries, stamped by three writers, into every replica.
  const writers = nodes.map((n) => n.id);
  const base = Date.now() - 3_600_000;
  const entries: DeltaEntry[] = [];
  const roomName = (i: number) => `r${i}`;
  for (let i = 0; i < rooms; i++) entries.push({ k: roomKey(roomName(i)), ts: { w: base, c: i, n: writers[0]! }, v: { capacity: null } });
  for (let i = 0; i < people; i++) entries.push({ k: personKey(`p${i}`), ts: { w: base + 1 + (i % 1000), c: i, n: writers[i % 3]! }, v: roomName(i % rooms) });
  for (const n of nodes) {
    for (let i = 0; i < entries.length; i += 50_000) {
      const d: Delta = { e: entries.slice(i, i + 50_000) };
      n.roomIndex.apply(n.map.merge(d));
      await sleep(1); // leases and pings go on between the pieces
    }
  }
  await ready();
  log("loaded", { rooms, people, keys: nodes.map((n) => n.map.size) });
  // Every room's process running on its owner, as after the rooms were created through the API.
  for (const n of nodes) {
    const mine = n.roomIndex.rooms().filter((r) => n.registry.ownerOf(roomProcess(r)) === n.name);
    for (let i = 0; i < mine.length; i += 2000) {
      const batch = mine.slice(i, i + 2000);
      for (let tries = 0; ; tries++) {
        try {
          await Promise.all(batch.map((r) => n.registry.call(roomProcess(r), { t: "who", bare: true })));
          break;
        } catch (err) {
          if (tries > 20) throw err;
          await ready();
        }
      }
    }
    log("processes", { node: n.name, owned: mine.length, running: n.registry.localNames().length });
  }
  const meter = turnMeter();
  await sleep(2000);
  log("idle", { longestTurnMs: meter.take() });
  const idleMs = Number(process.env["IDLE_MS"] ?? 0);
  if (idleMs > 0) {
    // Only idle (for a CPU profile of what an idle node does).
    for (let t = 0; t < idleMs; t += 1000) {
      await sleep(1000);
      log("idle", { longestTurnMs: meter.take() });
    }
    process.exit(0);
  }

  const http = serve({ hostname: "127.0.0.1", port: 0, fetch: createApp(n1).fetch, routes: staticRoutes(createApp(n1)) });
  // With GC=1: the heap after a full collection, to tell what a dump leaves behind from garbage not yet collected.
  const rss = () => {
    if (process.env["GC"] === "1") Bun.gc(true);
    const m = process.memoryUsage();
    return process.env["GC"] === "1" ? `${Math.round(m.rss / 2 ** 20)} (heap ${Math.round(m.heapUsed / 2 ** 20)})` : Math.round(m.rss / 2 ** 20);
  };
  // who-is-in, sequential, random rooms, as the scale bench asks: in-process and over HTTP.
  const whoIsIn = async (when: string): Promise<void> => {
    const lat: number[] = [];
    const latHttp: number[] = [];
    let failed = 0;
    await ready();
    meter.take();
    for (let i = 0; i < whos; i++) {
      const r = roomName(Math.floor(Math.random() * rooms));
      let t0 = performance.now();
      try {
        await n1.app.whoIsIn(r);
        lat.push(performance.now() - t0);
      } catch {
        failed++;
      }
      t0 = performance.now();
      const res = await fetch(`${http.url}/v1/who-is-in?room=${r}`);
      await res.text();
      if (res.status === 200) latHttp.push(performance.now() - t0);
      else failed++;
    }
    // The same from a client process of its own (this loop then only serves).
    const client = Bun.spawn([process.execPath, new URL("./who-client.ts", import.meta.url).pathname, http.url.toString().replace(/\/$/, ""), String(rooms), String(whos)], { stdout: "pipe" });
    const before = meter.take();
    const own = JSON.parse(await new Response(client.stdout).text()) as Record<string, number>;
    log("who-is-in, own client process", { when, ...own, longestTurnMs: meter.take() });
    log("who-is-in", { when, calls: whos, failed, p50: pct(lat, 50), p99: pct(lat, 99), max: pct(lat, 100), httpP50: pct(latHttp, 50), httpP99: pct(latHttp, 99), httpMax: pct(latHttp, 100), longestTurnMs: before });
  };
  await whoIsIn("before the dumps");
  for (let d = 0; d < dumps; d++) {
    for (const n of nodes) {
      await ready();
      meter.take();
      const t0 = performance.now();
      let out: Record<string, string[]>;
      try {
        out = await n.app.dump();
      } catch (err) {
        log("dump failed", { node: n.name, ms: Math.round(performance.now() - t0), error: String(err), longestTurnMs: meter.take() });
        continue;
      }
      const ms = performance.now() - t0;
      let inside = 0;
      for (const k in out) inside += out[k]!.length;
      log("dump", { node: n.name, ms: Math.round(ms), rooms: Object.keys(out).length, people: inside, longestTurnMs: meter.take(), rssMiB: rss() });
    }
    await ready();
    meter.take();
    const t0 = performance.now();
    const res = await fetch(`${http.url}/v1/dump`);
    const text = await res.text();
    log("http dump", { node: n1.name, status: res.status, ms: Math.round(performance.now() - t0), bytes: text.length, longestTurnMs: meter.take(), rssMiB: rss() });
  }
  await whoIsIn("after the dumps");
  meter.stop();
  await http.stop();
  await Promise.all(nodes.map((n) => n.stop()));
  process.exit(0);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
