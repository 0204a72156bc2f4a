/**
 * A real node's stall metric sees every long pause: its lag timer ticks
 * often enough that a pause of a collector's length (tens of ms) cannot
 * fall between two ticks unseen. At a 100 ms tick a 69 ms pause that began
 * just after a tick went unrecorded (BENCHMARKS.md, the scale run).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Node, startNode } from "../../../mesh/node/node.ts";

let node: Node;
beforeAll(async () => {
  node = await startNode({ name: "lag1" });
});
afterAll(async () => {
  await node.stop();
});

const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the pause
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("every pause of a real node's event loop longer than 20 ms shows in its longest stall", async () => {
  await sleep(50);
  // Each pause longer than the one before, so each must raise the longest stall seen.
  for (let i = 0; i < 5; i++) {
    await sleep(7 * i); // pauses begin at different moments between ticks
    busy(45 + 10 * i);
    await sleep(4); // the overdue tick runs
    expect(node.stats().loopLag.maxMs).toBeGreaterThanOrEqual(25 + 10 * i);
  }
});

test("on Linux, a pause spent running shows in the own stall, and the longest stall names the loop thread's times", async () => {
  if (process.platform !== "linux") return;
  busy(60);
  await sleep(4);
  const st = node.stats().loopLag;
  expect(st.maxRanMs).toBeGreaterThanOrEqual(0);
  expect(st.maxWaitedMs).toBeGreaterThanOrEqual(0);
  // 60 ms of running, less whatever of it this machine made the thread wait.
  expect(st.ownMaxMs).toBeGreaterThan(0);
  expect(st.ownMaxMs).toBeLessThanOrEqual(st.maxMs);
});
