/**
 * Logs: one JSON object per line with --log-format json (the image's
 * default), readable lines for a terminal, levels that filter, and fields
 * that name a secret are never written.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createLogger, type LogFormat, type LogLevel } from "../../cli/log.ts";
import { BINARY, ensureBinary } from "./support/binary.ts";
import { killAll, startNode } from "./support/procs.ts";

function capture(level: LogLevel, format: LogFormat) {
  const lines: string[] = [];
  const log = createLogger({ level, format, write: (l) => lines.push(l), base: { node: "n1" }, now: () => Date.UTC(2025, 0, 1, 12) });
  return { log, lines };
}

describe("the logger", () => {
  test("json format writes one parseable object per line with ts, level, msg and fields", () => {
    const { log, lines } = capture("debug", "json");
    log.info("node started", { gates: 4, note: "a \"quoted\"\nline" });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ ts: "2025-01-01T12:00:00.000Z", level: "info", msg: "node started", node: "n1", gates: 4, note: 'a "quoted"\nline' });
  });

  test("pretty format is one readable line: time, level, message, key=value", () => {
    const { log, lines } = capture("debug", "pretty");
    log.warn("slow peer", { peer: "10.0.0.2:4370", why: "two words" });
    expect(lines).toEqual(['2025-01-01T12:00:00.000Z WARN  slow peer node=n1 peer=10.0.0.2:4370 why="two words"']);
  });

  test("levels below the chosen one are dropped", () => {
    const { log, lines } = capture("warn", "json");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => (JSON.parse(l) as { level: string }).level)).toEqual(["warn", "error"]);
  });

  test("fields that name a token, cookie, secret or authorization are redacted", () => {
    const { log, lines } = capture("info", "json");
    log.info("oops", { token: "T0KEN", adminToken: "T0KEN", authorization: "Bearer T0KEN", cookie: "C00KIE", clientSecret: "S", ok: 1 });
    expect(lines[0]).not.toContain("T0KEN");
    expect(lines[0]).not.toContain("C00KIE");
    expect(JSON.parse(lines[0]!)).toMatchObject({ token: "[redacted]", cookie: "[redacted]", ok: 1 });
  });
});

describe("a node's logs", () => {
  let bin = BINARY;
  beforeAll(async () => {
    bin = await ensureBinary();
  }, 200_000);
  afterAll(killAll);

  test("with ROOMY_LOG_FORMAT=json every log line is a JSON object with a known level", async () => {
    const node = await startNode([bin, "node", "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0"], { ROOMY_LOG_FORMAT: "json", ROOMY_LOG_LEVEL: "debug" });
    await fetch(`${node.url}/healthz`);
    expect(await node.stop()).toBe(0);
    const lines = node.logs().trim().split("\n");
    expect(lines.length).toBeGreaterThan(2);
    const parsed = lines.map((l) => JSON.parse(l) as { level: string; msg: string; node: string });
    expect(parsed.map((p) => p.msg)).toContain("node started");
    expect(parsed.map((p) => p.msg)).toContain("stopped");
    for (const p of parsed) expect(["debug", "info", "warn", "error"]).toContain(p.level);
  }, 60_000);

  test("--log-format pretty writes readable lines and --log-level warn silences info", async () => {
    const node = await startNode([bin, "node", "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--log-format", "pretty", "--log-level", "warn"]);
    expect(await node.stop()).toBe(0);
    expect(node.logs()).not.toContain("INFO");
    const pretty = await startNode([bin, "node", "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--log-format", "pretty"]);
    expect(await pretty.stop()).toBe(0);
    expect(pretty.logs()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  node started /m);
  }, 60_000);
});
