/**
 * dist/roomy is one file that runs a node and every client command: built
 * (once per run, if stale), asked its version, started as a node, used to
 * walk someone into a room, and stopped with SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import pkg from "../../package.json" with { type: "json" };
import { BINARY, buildArgs, ensureBinary } from "./support/binary.ts";
import { killAll, run, startNode } from "./support/procs.ts";

let bin = BINARY;
beforeAll(async () => {
  bin = await ensureBinary();
}, 200_000);
afterAll(killAll);

describe("the compiled binary", () => {
  test("is a single executable file", () => {
    const st = statSync(bin);
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o111).not.toBe(0);
  });

  test("the tests build it with package.json's own build script, to their own file: the JIT policy of `npm run build` included", () => {
    expect(buildArgs("/tmp/x")).toEqual(["build", "--compile", "--compile-jit-policy=8", "cli/main.ts", "--outfile", "/tmp/x"]);
  });

  test("prints the package version with --version", async () => {
    const r = await run([bin, "--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`roomy ${pkg.version}`);
  });

  test("prints help listing the node and client commands", async () => {
    const r = await run([bin, "--help"]);
    expect(r.code).toBe(0);
    for (const cmd of ["node", "add-rooms", "walk-into", "who-is-in", "park", "members"]) expect(r.stdout).toContain(cmd);
  });

  test("runs a node that its own client commands walk someone into a room on, and drains on SIGTERM with exit 0", async () => {
    const node = await startNode([bin, "node", "--http", "127.0.0.1:0", "--bind", "127.0.0.1:0"]);
    const cli = (...args: string[]) => run([bin, "--node", node.url, ...args]);
    expect((await cli("add-rooms", "kitchen", "den")).stdout).toBe("ok\n");
    const walk = await cli("walk-into", "kitchen", "alan", "lucy");
    expect(walk).toMatchObject({ code: 0, stdout: "ok\n" });
    expect((await cli("who-is-in", "kitchen")).stdout).toBe("alan\nlucy\n");
    expect((await cli("where-is", "alan", "--json")).stdout).toBe('{"room":"kitchen"}\n');
    expect(JSON.parse((await cli("dump")).stdout)).toEqual({ den: [], kitchen: ["alan", "lucy"] });
    const members = await cli("members", "--json");
    expect(JSON.parse(members.stdout)).toEqual([expect.objectContaining({ name: node.name, state: "alive" })]);
    expect((await cli("park", "1", "ABC 123")).code).toBe(0);
    expect(JSON.parse((await cli("lot", "--json")).stdout)).toMatchObject({ occupied: 1 });

    expect(await node.stop()).toBe(0);
    expect(node.logs()).toContain("stopped");
    // Gone: the client now finds nobody there.
    expect((await cli("rooms")).code).toBe(3);
  }, 60_000);
});
