/**
 * A child whose stderr goes to a file (SpawnOptions.stderrFile) never
 * blocks on this process: with a pipe, a child that writes much there (a
 * node with the collector's log on) stopped dead whenever the test process
 * was busy and not reading (a scale run's node stalled 0.15-0.83 s so,
 * with no CPU used). What it wrote still reaches stderr() and the log.
 */
import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LogTail, RoomyChild } from "./procs.ts";

// Writes 1 MiB to stderr in 4 KiB lines, then says on stdout how long that took.
const WRITER = `
const t = performance.now();
const line = "x".repeat(4095) + "\\n";
for (let i = 0; i < 256; i++) require("node:fs").writeSync(2, line);
require("node:fs").writeSync(2, "the end\\n");
console.log("wrote in " + Math.round(performance.now() - t) + " ms");
`;

const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // this process busy: nothing reads the child's output meanwhile
  }
};

async function writeWhileBusy(stderrFile: string | undefined): Promise<{ ms: number; child: RoomyChild; log: LogTail }> {
  const log = new LogTail();
  const child = new RoomyChild([process.execPath, "-e", WRITER], { log, ...(stderrFile === undefined ? {} : { stderrFile }) });
  busy(1_500);
  const m = await child.line(/wrote in (\d+) ms/, 20_000);
  await child.proc.exited;
  return { ms: Number(m[1]), child, log };
}

test("a child writing 1 MiB to a stderr file is not held up while this process is busy, and its output is read back", async () => {
  const file = join(tmpdir(), `roomy-procs-stderr-${process.pid}.log`);
  try {
    const { ms, child, log } = await writeWhileBusy(file);
    // It did not wait for this process's 1.5 s of busy time (on a pipe it took ~1.4 s: blocked once the pipe was full).
    expect(ms).toBeLessThan(1_000);
    const deadline = Date.now() + 5_000;
    while (!child.stderr().includes("the end") && Date.now() < deadline) await Bun.sleep(50);
    expect(child.stderr()).toEndWith("x\nthe end\n");
    expect(log.text()).toContain("the end\n");
  } finally {
    rmSync(file, { force: true });
  }
}, 30_000);
