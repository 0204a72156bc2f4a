/**
 * Logs: one JSON object per line with --log-format json (the image's
 * default), readable lines for a terminal, levels that filter, and fields
 * that name a secret are never written. A real cluster's logs tell what
 * happened to its members, and a whole cluster stopping says so in a line
 * per node, not a line per process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createLogger, type LogFormat, type LogLevel } from "../../cli/log.ts";
import { BINARY, ensureBinary } from "./support/binary.ts";
import { eventually, killAll, type RunningNode, startNode } from "./support/procs.ts";

function capture(level: LogLevel, format: LogFormat) {
  const lines: string[] = [];
  const log = createLogger({ level, format, write: (l) => void lines.push(l), base: { node: "n1" }, now: () => Date.UTC(2025, 0, 1, 12) });
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

  test("lines its sink drops (stderr not read) are counted, and the next line it takes says how many first", () => {
    const lines: string[] = [];
    let full = false;
    const log = createLogger({ level: "info", format: "json", write: (l) => (full ? false : void lines.push(l)), now: () => 0 });
    log.info("a");
    full = true;
    log.warn("lost 1");
    log.warn("lost 2");
    log.info("lost 3");
    full = false;
    log.info("b");
    const got = lines.map((l) => JSON.parse(l) as { msg: string; dropped?: number });
    expect(got.map((g) => g.msg)).toEqual(["a", "log: lines dropped while stderr was not read", "b"]);
    expect(got[1]!.dropped).toBe(3);
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

interface JsonLine {
  level: string;
  msg: string;
  member?: string;
  incarnation?: number;
  processes?: number;
}

const jsonLines = (n: RunningNode): JsonLine[] =>
  n
    .logs()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as JsonLine);

describe("a real cluster's logs", () => {
  let bin = BINARY;
  beforeAll(async () => {
    bin = await ensureBinary();
  }, 200_000);
  afterAll(killAll);

  async function cluster(n: number): Promise<RunningNode[]> {
    const env = { ROOMY_LOG_FORMAT: "json" };
    const cmd = (name: string, join: string[]) => [bin, "node", "--name", name, "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", "--profile", "local", ...join];
    const nodes = [await startNode(cmd("a", []), env)];
    for (let i = 1; i < n; i++) nodes.push(await startNode(cmd(String.fromCharCode(97 + i), ["--join", nodes[0]!.mesh]), env));
    await eventually("everyone logged everyone joining", async () =>
      nodes.every((x) => jsonLines(x).filter((l) => l.msg === "member joined").length === n - 1) ? true : undefined,
    );
    return nodes;
  }

  test("a node frozen (SIGSTOP) is logged suspect, dead, then rejoined by the others, at INFO, with its incarnation", async () => {
    const [a, b, c] = await cluster(3);
    c!.proc.kill("SIGSTOP");
    try {
      await eventually("a and b log c dead", async () =>
        [a!, b!].every((x) => jsonLines(x).some((l) => l.msg === "member dead" && l.member === "c")) ? true : undefined,
      );
    } finally {
      c!.proc.kill("SIGCONT");
    }
    await eventually("a and b log c back", async () =>
      [a!, b!].every((x) => jsonLines(x).some((l) => l.msg === "member rejoined" && l.member === "c")) ? true : undefined,
    );
    for (const x of [a!, b!]) {
      const aboutC = jsonLines(x).filter((l) => l.member === "c");
      // In this order (a loaded machine may add a suspect/alive flap around them).
      const at = (msg: string, from: number) => aboutC.findIndex((l, i) => i >= from && l.msg === msg);
      const joined = at("member joined", 0);
      const suspect = at("member suspect", joined);
      const dead = at("member dead", suspect);
      const back = at("member rejoined", dead);
      expect({ joined, suspect, dead, back }).toEqual({ joined: 0, suspect: expect.any(Number), dead: expect.any(Number), back: expect.any(Number) });
      expect(Math.min(suspect, dead, back)).toBeGreaterThan(0);
      expect(aboutC.every((l) => l.level === "info")).toBe(true);
      expect(aboutC[back]!.incarnation!).toBeGreaterThan(aboutC[dead]!.incarnation!);
    }
    expect(jsonLines(c!).some((l) => l.msg === "membership: refuted news of this node")).toBe(true);
    for (const x of [a!, b!, c!]) expect(await x.stop()).toBe(0);
  }, 90_000);

  test("SIGTERM to every node of a cluster with 1,500 rooms: no ERROR line, at most one 'processes ended here' per node", async () => {
    const nodes = await cluster(3);
    const rooms = Array.from({ length: 1500 }, (_, i) => `stop-${i}`);
    for (let i = 0; i < rooms.length; i += 500) {
      const res = await fetch(`${nodes[0]!.url}/v1/rooms`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ rooms: rooms.slice(i, i + 500) }),
        signal: AbortSignal.timeout(20_000),
      });
      expect(res.status).toBe(200);
    }
    const codes = await Promise.all(nodes.map((n) => n.stop(30_000)));
    expect(codes).toEqual([0, 0, 0]);
    let ended = 0;
    for (const n of nodes) {
      const lines = jsonLines(n);
      expect({ node: n.name, errors: lines.filter((l) => l.level === "error").map((l) => l.msg).slice(0, 3) }).toEqual({ node: n.name, errors: [] });
      const summaries = lines.filter((l) => l.msg === "processes ended here: no live node left to take them");
      expect(summaries.length).toBeLessThanOrEqual(1);
      for (const s of summaries) ended += s.processes!;
      // Everyone drains at once: the configuration keeps every node (no
      // majority of non-draining nodes is left to drop anyone), so nothing
      // moves and no per-process lines either.
      expect(lines.filter((l) => (l as { process?: string }).process !== undefined)).toEqual([]);
    }
    // The last handoffs end somewhere: at most every process once (rooms, 4 gates, the lot).
    expect(ended).toBeGreaterThan(0);
    expect(ended).toBeLessThanOrEqual(rooms.length + 5);
  }, 120_000);

  test("a second SIGTERM while a node drains exits 1 at once and the log says so; /readyz says it drains meanwhile", async () => {
    const [a, b] = await cluster(2);
    // Frozen, b takes no handoff: a's drain waits (and so a second signal lands inside it).
    b!.proc.kill("SIGSTOP");
    try {
      a!.proc.kill("SIGTERM");
      await eventually("a logs its drain", async () => (jsonLines(a!).some((l) => l.msg === "draining") ? true : undefined));
      const ready = await fetch(`${a!.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason?: string }).reason).toContain("draining");
      a!.proc.kill("SIGTERM");
      expect(await a!.stop(10_000)).toBe(1);
      const last = jsonLines(a!).filter((l) => l.level === "warn").at(-1);
      expect(last?.msg).toBe("a second signal while draining: exiting now with 1, the drain unfinished");
    } finally {
      b!.proc.kill("SIGCONT");
    }
    expect(await b!.stop(30_000)).toBe(0);
  }, 90_000);
});
