/** Exit codes, flags and variables, help and version, and the node's lifecycle. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pkg from "../../package.json" with { type: "json" };
import { cli, deadPort, exitOf, killAll, MAIN, spawnNode, type SpawnedNode, spawnReadyNode } from "./helpers.ts";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let n: SpawnedNode;
beforeAll(async () => {
  n = await spawnReadyNode(["--name", "codes"]);
});
afterAll(() => killAll());

describe("exit codes", () => {
  test("0 on success, 1 when the node answers an error (code and message on stderr)", async () => {
    expect((await cli(["rooms", "--node", n.url])).code).toBe(0);
    const r = await cli(["walk-into", "nowhere", "x", "--node", n.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown_room: .+/);
  });

  test("2 for usage errors, with the message on stderr", async () => {
    const at = ["--node", n.url];
    const usage = [at, ["bogus", ...at], ["walk-into", "kitchen", ...at], ["rooms", "extra", ...at], ["rooms", "--frob", ...at], ["add-rooms", "a", "--capacity", "many", ...at], ["rooms", "--node", "not a url"]];
    for (const args of usage) {
      const r = await cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr.length).toBeGreaterThan(0);
    }
  });

  test("3 when no node answers", async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const r = await cli(["rooms", "--node", url]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("no node answered");
    expect(JSON.parse((await cli(["rooms", "--json", "--node", url])).stderr).error.code).toBe("no_node");
  });

  test.skipIf(!existsSync("/dev/full"))("5 when the result cannot be written (stdout on a full disk), said on stderr; before, 0 with nothing written", async () => {
    for (const args of [["--version"], ["rooms", "--json", "--node", n.url], ["dump", "--json", "--node", n.url]]) {
      const p = Bun.spawn(["sh", "-c", 'exec "$@" > /dev/full', "sh", process.execPath, MAIN, ...args], { stdout: "ignore", stderr: "pipe" });
      const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
      expect({ args, code }).toEqual({ args, code: 5 });
      expect(stderr).toMatch(/^roomy: cannot write to stdout: .*(ENOSPC|no space).*\(the command itself may have taken effect\)\n$/i);
    }
  });

  test("--node beats ROOMY_NODE, which beats the default", async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    expect((await cli(["rooms"], { ROOMY_NODE: n.url })).code).toBe(0);
    expect((await cli(["rooms", "--node", n.url], { ROOMY_NODE: dead })).code).toBe(0);
    expect((await cli(["rooms", "--node", dead], { ROOMY_NODE: n.url })).code).toBe(3);
  });

  test("a name holding U+FFFD (valid, though the server refuses it raw as the mark of bad UTF-8) is written by the CLI: it goes escaped", async () => {
    const at = ["--node", n.url];
    expect((await cli(["add-rooms", "\uFFFD", "r\uFFFDs", ...at])).code).toBe(0);
    expect((await cli(["walk-into", "r\uFFFDs", "p\uFFFD", ...at])).code).toBe(0);
    expect((await cli(["dump", "r\uFFFDs", "\uFFFD", "--json", ...at])).stdout).toBe('{"r\uFFFDs":["p\uFFFD"],"\uFFFD":[]}\n');
    expect((await cli(["leave", "p\uFFFD", ...at])).code).toBe(0);
  });

  test("arguments are taken as typed: names that look like numbers stay names", async () => {
    const at = ["--node", n.url];
    expect((await cli(["add-rooms", "007", "1e3", ...at])).code).toBe(0);
    expect((await cli(["walk-into", "007", "--json", "0012", ...at])).code).toBe(0);
    expect((await cli(["dump", "007", "1e3", ...at])).stdout).toBe('{"007":["0012"],"1e3":[]}\n');
  });
});

describe("help and version", () => {
  test("--version prints package.json's version", async () => {
    expect(await cli(["--version"])).toEqual({ code: 0, stdout: `roomy ${pkg.version}\n`, stderr: "" });
  });

  test("--help lists every command of the contract", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["node", "add-rooms", "rooms", "walk-into", "leave", "who-is-in", "where-is", "dump", "members", "park", "unpark", "lot", "crdt"]) {
      expect(r.stdout).toContain(`  ${c}`);
    }
    // The client commands' options, which the README uses first (roomy --node URL members), with their variables.
    expect(r.stdout).toContain("Options of every command but node:");
    expect(r.stdout).toMatch(/--node <URL> +the node to talk to .*\[env ROOMY_NODE\]/);
    expect(r.stdout).toMatch(/--token <TOKEN> .*\[env ROOMY_ADMIN_TOKEN\]/);
    expect(r.stdout).toContain("--json");
  });

  test("node --help lists every node flag with its variable", async () => {
    const r = await cli(["node", "--help"]);
    for (const f of ["--name", "--bind", "--advertise", "--join", "--discover", "--http", "--cookie", "--cookie-file", "--gates", "--spaces", "--log-level", "--log-format"]) {
      expect(r.stdout).toContain(f);
    }
    for (const v of ["ROOMY_NAME", "ROOMY_BIND", "ROOMY_JOIN", "ROOMY_HTTP", "ROOMY_COOKIE", "ROOMY_GATES", "ROOMY_SPACES"]) expect(r.stdout).toContain(v);
  });
});

describe("roomy node", () => {
  test("flags beat variables, and variables set what flags do not", async () => {
    const m = await spawnNode(["--spaces", "3"], { ROOMY_SPACES: "1", ROOMY_GATES: "2", ROOMY_NAME: "from-env" });
    const at = ["--node", m.url];
    expect(JSON.parse((await cli(["lot", "--json", ...at])).stdout).spaces).toBe(3);
    expect(JSON.parse((await cli(["gates", "--json", ...at])).stdout)).toHaveLength(2);
    expect(JSON.parse((await cli(["members", "--json", ...at])).stdout)[0].name).toBe("from-env");
    m.proc.kill("SIGTERM");
    expect(await exitOf(m.proc)).toBe(0);
  });

  test("cluster flags are accepted (repeated and comma-separated --join, cookie, discover)", async () => {
    const m = await spawnNode(["--join", "127.0.0.1:4371,127.0.0.1:4372", "--join", "127.0.0.1:4373", "--cookie", "0123", "--discover", "dns:roomy.default.svc:4370", "--log-format", "json"]);
    // Its seeds do not answer: it answers (members), but holds no data yet, so a
    // read from its replica is `unavailable` (exit 1), never an empty list; not ready.
    expect((await cli(["members", "--node", m.url])).code).toBe(0);
    const rooms = await cli(["rooms", "--node", m.url]);
    expect(rooms.code).toBe(1);
    expect(rooms.stderr).toContain("unavailable");
    const ready = await fetch(new URL("/readyz", m.url));
    expect(ready.status).toBe(503);
    m.proc.kill("SIGINT");
    expect(await exitOf(m.proc)).toBe(0);
    // JSON logs, one object per line.
    const lines = m.logs().trim().split("\n").map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(lines.some((l) => l.msg === "node started")).toBe(true);
  });

  test("bad node flags are usage errors (exit 2) before anything starts", async () => {
    for (const args of [["--gates", "0"], ["--spaces", "-1"], ["--http", "nowhere"], ["--join", "x"], ["--discover", "srv"], ["--log-level", "loud"], ["--cookie", "a", "--cookie-file", "/f"], ["--cookie-file", "/does/not/exist"]]) {
      const r = await cli(["node", "--http", "127.0.0.1:0", ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
    }
  });

  test("a bad value from a variable is refused naming the variable too; from a flag, the flag alone", async () => {
    const fromEnv = await cli(["node", "--http", "127.0.0.1:0"], { ROOMY_GATES: "abc" });
    expect({ code: fromEnv.code, first: fromEnv.stderr.split("\n")[0] }).toEqual({ code: 2, first: 'roomy: --gates (ROOMY_GATES) must be a whole number from 1 to 1000, got "abc"' });
    const fromFlag = await cli(["node", "--http", "127.0.0.1:0", "--gates", "abc"], { ROOMY_GATES: "3" });
    expect({ code: fromFlag.code, first: fromFlag.stderr.split("\n")[0] }).toEqual({ code: 2, first: 'roomy: --gates must be a whole number from 1 to 1000, got "abc"' });
    const nodeUrl = await cli(["rooms"], { ROOMY_NODE: "garbage" });
    expect({ code: nodeUrl.code, first: nodeUrl.stderr.split("\n")[0] }).toEqual({ code: 2, first: 'roomy: --node (ROOMY_NODE) must be an http(s) URL, got "garbage"' });
    const http = await cli(["node"], { ROOMY_HTTP: "nowhere" });
    expect(http.stderr).toContain("--http (ROOMY_HTTP) must be HOST:PORT");
    // The client's token: named as it was given. One trailing newline (a secret made with echo) is dropped, not two.
    const token = await cli(["rooms", "--node", "http://127.0.0.1:9"], { ROOMY_ADMIN_TOKEN: "sek rit" });
    expect({ code: token.code, first: token.stderr.split("\n")[0] }).toEqual({ code: 2, first: "roomy: ROOMY_ADMIN_TOKEN must be printable ASCII without spaces" });
    const twoNewlines = await cli(["rooms", "--node", "http://127.0.0.1:9"], { ROOMY_ADMIN_TOKEN: "sekrit\n\n" });
    expect(twoNewlines.code).toBe(2);
    const oneNewline = await cli(["rooms", "--node", "http://127.0.0.1:9"], { ROOMY_ADMIN_TOKEN: "sekrit\n" });
    expect(oneNewline.code).toBe(3); // taken, and no node there
  });

  test("TLS files that are missing or no PEM are usage errors (exit 2) naming the flag, never a crash with a stack", async () => {
    const bad = join(tmpdir(), `roomy-bad-pem-${process.pid}.pem`);
    writeFileSync(bad, "not a certificate\n");
    try {
      const cases: [string[], RegExp][] = [
        [["--tls-cert", "/does/not/exist.pem", "--tls-key", bad], /^roomy: cannot read --tls-cert "\/does\/not\/exist.pem": /],
        [["--tls-cert", bad, "--tls-key", "/does/not/exist.key"], /^roomy: cannot read --tls-key /],
        [["--tls-cert", bad, "--tls-key", bad], /^roomy: --tls-cert, --tls-key and --tls-ca do not make a TLS context: /],
      ];
      for (const [args, said] of cases) {
        const r = await cli(["node", "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0", ...args]);
        expect({ args, code: r.code, unexpected: r.stderr.includes("unexpected error") }).toEqual({ args, code: 2, unexpected: false });
        expect(r.stderr).toMatch(said);
      }
    } finally {
      rmSync(bad, { force: true });
    }
  });

  test("SIGTERM drains and exits 0; the port is then free", async () => {
    const m = await spawnNode();
    m.proc.kill("SIGTERM");
    expect(await exitOf(m.proc)).toBe(0);
    expect((await cli(["rooms", "--node", m.url])).code).toBe(3);
  });
});
