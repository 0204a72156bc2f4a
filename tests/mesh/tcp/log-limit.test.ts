/** Warnings a stranger can cause at will are logged at most 10 a second each; the next one logged counts those left out. */
import { expect, test } from "bun:test";
import { limitedWarnings } from "../../../mesh/tcp/log-limit.ts";
import type { Clock } from "../../../mesh/types.ts";
import { recordingLogger, type LogEntry } from "./helpers.ts";

test("a flood of refused peers: 10 lines a second, the next second's first one saying how many were left out; other lines untouched", () => {
  let now = 5_000;
  const clock: Clock = { now: () => now, setTimer: () => ({ cancel() {} }) };
  const lines: LogEntry[] = [];
  const log = limitedWarnings(recordingLogger(lines), clock, ["mesh: refused peer"]);
  for (let i = 0; i < 1_000; i++) log.warn("mesh: refused peer", { i });
  for (let i = 0; i < 30; i++) log.warn("mesh: peer refused us", { i });
  log.info("mesh: peer connected");
  expect(lines.filter((l) => l.msg === "mesh: refused peer")).toHaveLength(10);
  expect(lines.filter((l) => l.msg === "mesh: peer refused us")).toHaveLength(30);
  expect(lines.filter((l) => l.msg === "mesh: peer connected")).toHaveLength(1);
  now += 1_000;
  log.warn("mesh: refused peer", { i: 1_000 });
  const last = lines.at(-1)!;
  expect(last.fields).toEqual({ i: 1_000, suppressed: 990 });
  log.warn("mesh: refused peer", { i: 1_001 });
  expect(lines.at(-1)!.fields).toEqual({ i: 1_001 });
});
