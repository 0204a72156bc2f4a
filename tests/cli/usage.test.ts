/**
 * The command line without traps: names that begin with "-", bad
 * capacities, no command, one style for usage errors, and help that lists
 * only what applies. Every command runs as a real process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cli, killAll, MAIN, type SpawnedNode, spawnReadyNode } from "./helpers.ts";
import { runToEnd } from "../support/procs.ts";

let n: SpawnedNode;
const roomy = (...args: string[]) => cli(["--node", n.url, ...args]);

beforeAll(async () => {
  n = await spawnReadyNode(["--name", "usage"]);
  expect((await roomy("add-rooms", "kitchen")).code).toBe(0);
});
afterAll(() => killAll());

/** The first line of stderr. */
const firstLine = (s: string) => s.split("\n")[0]!;

describe("names that begin with -", () => {
  test("without --, a dash-name is a usage error (exit 2) that says to put it after --, never help with exit 0", async () => {
    const cases = [
      ["walk-into", "kitchen", "-dash"],
      ["walk-into", "kitchen", "alice", "-dash"],
      ["where-is", "-dash"],
      ["leave", "-dash"],
      ["add-rooms", "-x"],
      ["who-is-in", "-h1"],
      ["walk-into", "kitchen", "-1"],
    ];
    const results = await Promise.all(cases.map((c) => roomy(...c)));
    results.forEach((r, i) => {
      const args = cases[i]!;
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(firstLine(r.stderr)).toStartWith(`roomy: unknown option ${args.at(-1)} (a name that begins with "-" goes after "--": roomy ${args[0]} -- `);
    });
  });

  test('after "--" they are names in every position', async () => {
    expect(await roomy("add-rooms", "--", "-x", "-kitchen")).toEqual({ code: 0, stdout: "ok\n", stderr: "" });
    expect((await roomy("walk-into", "kitchen", "--", "-dash")).code).toBe(0);
    expect((await roomy("walk-into", "kitchen", "alice", "--", "-bob")).code).toBe(0);
    expect((await roomy("walk-into", "--", "-x", "-carol", "--json")).code).toBe(0);
    expect((await roomy("where-is", "--", "-dash")).stdout).toBe("kitchen\n");
    expect((await roomy("who-is-in", "kitchen")).stdout).toBe("-bob\n-dash\nalice\n");
    // After "--" even a flag's spelling is a name.
    expect((await roomy("who-is-in", "--", "-x")).stdout).toBe("--json\n-carol\n");
    expect((await roomy("leave", "--", "-dash")).code).toBe(0);
    expect((await roomy("where-is", "--", "-dash")).stdout).toBe("");
    expect((await roomy("dump", "--", "-kitchen")).stdout).toBe('{"-kitchen":[]}\n');
  });
});

describe("--capacity", () => {
  test("must be a positive integer: -1, 0 and the like are usage errors (exit 2), nothing is created", async () => {
    for (const bad of ["-1", "0", "01", "+2", "1.5", " 2", "many", "--json"]) {
      const r = await roomy("add-rooms", "capless", "--capacity", bad);
      expect({ bad, code: r.code }).toEqual({ bad, code: 2 });
      expect(firstLine(r.stderr)).toBe(`roomy: --capacity must be a positive integer (1 to 1000000000, no sign or leading zeros), got ${JSON.stringify(bad)}`);
    }
    expect((await roomy("rooms")).stdout).not.toContain("capless");
    expect((await roomy("add-rooms", "capped", "--capacity=2")).code).toBe(0);
  });

  test("the node refuses capacity 0 too (bad_request), as it does -1", async () => {
    for (const capacity of [0, -1]) {
      const res = await fetch(new URL("/v1/rooms", n.url), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ rooms: ["zero"], capacity }) });
      expect({ capacity, status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code }).toEqual({ capacity, status: 400, code: "bad_request" });
    }
    expect((await roomy("rooms")).stdout).not.toContain("zero");
  });
});

describe("usage errors and help", () => {
  test("roomy alone prints the usage on stderr and exits 2 (a usage error)", async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Usage:\n  $ roomy <command> [options]");
    expect(r.stderr).toContain("  walk-into <room> <...people>");
    expect(r.stderr).not.toContain("no command given");
  });

  test("every usage error is `roomy: <lowercase message>`, then where to find usage, exit 2", async () => {
    const at = ["--node", n.url];
    const cases: [string[], string][] = [
      [["--bogus", ...at], "roomy: unknown option --bogus"],
      [["rooms", "--bogus", ...at], "roomy: unknown option --bogus"],
      [["frobnicate", ...at], 'roomy: unknown command "frobnicate"'],
      [["rooms", "--capacity", "3", ...at], "roomy: unknown option --capacity for rooms"],
      [["rooms", "extra", ...at], 'roomy: rooms takes no arguments, got "extra": roomy rooms'],
      [["walk-into", "kitchen", ...at], "roomy: walk-into needs more arguments: roomy walk-into <room> <...people>"],
      [["park", "1", "A", "B", ...at], "roomy: park takes at most 2 arguments, got 3: roomy park <gate> <plate>"],
      [["where-is", "ada", "bo", ...at], "roomy: where-is takes at most 1 argument, got 2: roomy where-is <person>"],
      [["add-rooms", "x", ...at, "--capacity"], "roomy: --capacity needs a value"],
      [["rooms", "--json=maybe", ...at], "roomy: --json is a switch: give it alone (or =true, =false), got --json=maybe"],
      [["node", "--json"], "roomy: unknown option --json for node"],
      [["rooms", "--node", "not a url"], 'roomy: --node must be an http(s) URL, got "not a url"'],
      // The API's paths go after the URL's own: a query would have sent the request to another page.
      [["rooms", "--node", `${n.url}?x=1`], `roomy: --node takes no query or fragment (http://HOST:PORT, or a path prefix), got "${n.url}?x=1"`],
      // A token that cannot be a header value is the caller's mistake, not a request the node refused.
      [["rooms", ...at, "--token", "tok\x01en"], "roomy: --token must be printable ASCII without spaces"],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((r, i) => {
      const [args, line] = cases[i]!;
      // The help to read is the command's own (roomy node --help lists the node's flags); without a command, roomy's.
      const known = ["rooms", "walk-into", "park", "where-is", "add-rooms", "node"];
      const help = args[0] !== undefined && known.includes(args[0]) ? `roomy ${args[0]} --help` : "roomy --help";
      expect({ args, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ args, code: 2, stdout: "", stderr: `${line}\nrun "${help}" for usage\n` });
    });
  });

  test("roomy node --help lists only the node's flags, and its variables under Environment, not Examples", async () => {
    const r = await cli(["node", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/--node\b/);
    expect(r.stdout).not.toMatch(/--json\b/);
    expect(r.stdout).not.toContain("Examples:");
    const env = r.stdout.slice(r.stdout.indexOf("\nEnvironment:\n"));
    expect(env).toMatch(/\n {2}ROOMY_ADMIN_TOKEN {2}\S/);
    expect(env).toMatch(/\n {2}ROOMY_DNS_SERVER {3}\S/);
    // No line ends in the padding cac leaves.
    expect(r.stdout.split("\n").filter((l) => l !== l.trimEnd())).toEqual([]);
  });

  test("a client command's help lists --node, --json and --token, and where dash-names go", async () => {
    const r = await cli(["walk-into", "--help"]);
    expect(r.code).toBe(0);
    for (const f of ["--node <URL>", "--json", "--token <TOKEN>", "-h, --help"]) expect(r.stdout).toContain(f);
    expect(r.stdout).toContain('put them after "--": roomy walk-into -- <room> <...people>');
  });

  test("-h and -v still work as flags; --version with a command prints the version", async () => {
    expect((await cli(["-h"])).code).toBe(0);
    expect((await cli(["where-is", "-h"])).stdout).toContain("$ roomy where-is <person>");
    expect((await cli(["-v"])).stdout).toMatch(/^roomy \d+\.\d+\.\d+/);
    expect((await cli(["node", "--version"])).stdout).toMatch(/^roomy \d+\.\d+\.\d+/);
  });
});

describe("names whose bytes are not UTF-8", () => {
  /** `roomy --node URL ARGS...` with ARGS built by printf in bash (raw bytes a spawn's strings cannot carry). */
  const raw = (printfArgs: string[]) =>
    runToEnd(["bash", "-c", `exec "$0" "$1" --node "$2" ${printfArgs.map((_, i) => `"$(printf '${printfArgs[i]}')"`).join(" ")}`, process.execPath, MAIN, n.url], { deadlineMs: 20_000 });

  test("are refused (exit 2) before anything is sent: two names that differ only in bad bytes would read as one room", async () => {
    for (const args of [["add-rooms", "a\\377b"], ["walk-into", "kitchen", "z\\300"], ["walk-into", "a\\376b", "zed"]]) {
      const r = await raw(args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(firstLine(r.stderr)).toMatch(/^roomy: argument ".*" is not valid UTF-8 \(the marks stand for bytes that were not\): give names in UTF-8$/);
    }
    // Nothing was made or moved.
    expect((await roomy("dump", "--json")).stdout).not.toContain("\uFFFD");
  });

  test("a name that truly holds U+FFFD (typed as such) is taken", async () => {
    expect(await roomy("add-rooms", "mark\uFFFDroom")).toEqual({ code: 0, stdout: "ok\n", stderr: "" });
    expect((await roomy("walk-into", "mark\uFFFDroom", "dana")).code).toBe(0);
    expect((await roomy("where-is", "dana")).stdout).toBe("mark\uFFFDroom\n");
  });
});
