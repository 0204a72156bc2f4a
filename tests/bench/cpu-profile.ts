/**
 * Profiling aid for the scale bench's CPU comparison: 3 nodes of BIN (e.g. a
 * wrapper that runs `bun --cpu-prof-md cli/main.ts`), 1,000 rooms, WARM then
 * MEASURE single-person walk-ins like the bench, then SIGTERM so the
 * profiles are written. Prints CPU per walk-into. Ports 24160-24165.
 *   bun tests/bench/cpu-profile.ts <bin> [warm] [measure]
 * PERF_OUT=<file>: `perf record -g` of the 3 nodes over the first 5 s of the measured round.
 */
import { ScaleCluster } from "./scale-procs.ts";
import { createRooms, RoomPicker, seeded, walkLoad } from "../support/walk-load.ts";
import { CLK_TCK, cpuTicks } from "../support/procs.ts";

const bin = process.argv[2]!;
const warm = Number(process.argv[3] ?? 30_000);
const measure = Number(process.argv[4] ?? 20_000);
const c = new ScaleCluster(bin, "cpu-prof", 3, 24160);
try {
  const nodes = await c.start(3);
  const spec = { rooms: 1_000, capEvery: 0, capacity: 1 };
  const made = await createRooms(nodes.map((n) => n.url), spec, { clients: 4, batch: 500, capMs: 60_000, retry: true });
  const picker = new RoomPicker(spec, made.created, seeded(7));
  let next = 0;
  const round = async (first: number, count: number) => {
    next = 0;
    const t0 = nodes.reduce((a, n) => a + cpuTicks(n.pid), 0);
    const r = await walkLoad({
      urls: nodes.map((n) => n.url), clients: Number(process.env["PROF_CLIENTS"] ?? 16), capMs: 120_000,
      next: () => (next < count ? { room: picker.pick(1), people: [first + next++] } : undefined),
      done: () => next >= count, answered: () => false,
    });
    const cpu = nodes.reduce((a, n) => a + cpuTicks(n.pid), 0) - t0;
    console.log(`${count} walk-ins: ${((cpu / CLK_TCK) * 1e6 / r.requests).toFixed(0)} µs CPU each, ${JSON.stringify(r.codes)}`);
  };
  await round(1_000_000, warm);
  const perfOut = process.env["PERF_OUT"];
  if (perfOut !== undefined) {
    Bun.spawn(["timeout", "-s", "INT", "5", "perf", "record", "-F", "1999", "-g", "-o", perfOut, "-p", nodes.map((n) => n.pid).join(",")], { stdout: "inherit", stderr: "inherit" });
  }
  await round(2_000_000, measure);
  await Promise.all(nodes.map((n) => n.terminate()));
} finally {
  await c.close();
}
