/**
 * A soak worker process (started by soak-pool.ts): reads "seed workloadMs"
 * lines on stdin, runs each chaos seed in turn and writes one tagged JSON line
 * per seed on stdout. The tag keeps any other output of the product apart.
 * One seed at a time: the pool measures each seed's real time from the line
 * it sent, and kills this process when a seed runs over its cap.
 */
import { createInterface } from "node:readline";
import { TAG } from "./soak-pool.ts";
import { chaosRun, outcomeOf } from "./soak-scenario.ts";

const queue: string[] = [];
let busy = false;

async function drain(): Promise<void> {
  if (busy) return;
  busy = true;
  while (queue.length > 0) {
    const line = queue.shift()!;
    const [s, ms] = line.trim().split(/\s+/).map(Number);
    if (!Number.isInteger(s) || !Number.isFinite(ms)) {
      process.stdout.write(`${TAG.error}${JSON.stringify({ seed: s, error: `bad request line: ${line}` })}\n`);
      continue;
    }
    try {
      const cpu = process.cpuUsage();
      const r = await chaosRun(s!, ms!);
      const used = process.cpuUsage(cpu);
      process.stdout.write(`${TAG.result}${JSON.stringify(outcomeOf(r, ms!, (used.user + used.system) / 1000))}\n`);
    } catch (err) {
      const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stdout.write(`${TAG.error}${JSON.stringify({ seed: s, error: text })}\n`);
    }
  }
  busy = false;
}

if (import.meta.main) {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    queue.push(line);
    void drain();
  });
  // stdin closed: finish the seed in hand, then exit.
  lines.on("close", () => {
    const wait = (): void => void (busy || queue.length > 0 ? setTimeout(wait, 20) : process.exit(0));
    wait();
  });
  process.stdout.write(`${TAG.ready}\n`);
}
