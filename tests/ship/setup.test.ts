/**
 * Set-up as the README tells a new user: the documented `npx deno task node`
 * starts a node (deno task must not run the npm package's native `deno` as a
 * script), the committed lockfile is what npm writes (so `npm install` on a
 * fresh clone leaves the tree clean) and `npm ci` accepts it, and the README
 * says how `roomy` gets on PATH and points at nothing outside the repository.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ROOT } from "./support/binary.ts";
import { cleanEnv, eventually, exitOf } from "./support/procs.ts";

const README = readFileSync(join(ROOT, "README.md"), "utf8");
/** The README's section under `## title`, up to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  const end = README.indexOf("\n## ", start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

// Fixed ports (no ready line is parsed: only what the README promises is checked).
const MESH = "127.0.0.1:23471";
const HTTP = "127.0.0.1:23481";

const groups: Subprocess[] = [];
/** Signals the child's whole process group: npx -> sh -> deno task -> deno run. */
function signalGroup(p: Subprocess, sig: NodeJS.Signals): void {
  try {
    process.kill(-p.pid, sig);
  } catch {
    // the group is gone already
  }
}
afterAll(() => {
  for (const p of groups.splice(0)) signalGroup(p, "SIGKILL");
});

describe("the README's Deno command", () => {
  test("Set up and Deno document `npx deno task node`", () => {
    expect(section("Set up")).toContain("npx deno task node");
    expect(section("Deno")).toContain("npx deno task node");
  });

  test("`npx deno task node` starts a node that answers /healthz, and stops on SIGTERM", async () => {
    const proc = Bun.spawn(["npx", "deno", "task", "node", "--name", "setup-deno-task", "--bind", MESH, "--http", HTTP], {
      cwd: ROOT,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: cleanEnv(),
      detached: true,
    });
    groups.push(proc);
    let stderr = "";
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of proc.stderr) stderr += dec.decode(chunk);
    })();
    void new Response(proc.stdout).text();
    // Deno transpiles every module on a cold start: give it time, but not once the command has died.
    const deadline = Date.now() + 90_000;
    let health: unknown;
    while (health === undefined && proc.exitCode === null && Date.now() < deadline) {
      try {
        const res = await fetch(`http://${HTTP}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) health = await res.json();
      } catch {
        // not listening yet
      }
      if (health === undefined) await Bun.sleep(250);
    }
    expect(health, `no /healthz answer (exit ${proc.exitCode}); stderr:\n${stderr.slice(-2_000)}`).toEqual({ ok: true, node: "setup-deno-task" });
    expect(await (await fetch(`http://${HTTP}/metrics`)).text()).toContain('runtime="deno"');
    // SIGTERM to the group, as Ctrl-C would: npx dies of it, the node drains; nothing is left holding the port.
    signalGroup(proc, "SIGTERM");
    await exitOf(proc, 30_000);
    await eventually("the node's port is free again", async () => {
      try {
        await fetch(`http://${HTTP}/healthz`, { signal: AbortSignal.timeout(1_000) });
        return undefined;
      } catch {
        return true;
      }
    }, 30_000);
  }, 150_000);
});

describe("the lockfile", () => {
  /** package.json and the committed lockfile alone, in a scratch directory (no node_modules). */
  function scratch(): string {
    const dir = mkdtempSync(join(tmpdir(), "roomy-lock-"));
    for (const f of ["package.json", "package-lock.json"]) cpSync(join(ROOT, f), join(dir, f));
    return dir;
  }
  const npm = async (dir: string, args: string[]) => {
    const p = Bun.spawn(["npm", ...args, "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], {
      cwd: dir,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: cleanEnv(),
    });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    return { code: await exitOf(p, 120_000), out: out + err };
  };

  test("is exactly what `npm install` writes: a fresh clone stays clean after set-up", async () => {
    const dir = scratch();
    try {
      const r = await npm(dir, ["install", "--package-lock-only"]);
      expect(r.code, r.out).toBe(0);
      expect(readFileSync(join(dir, "package-lock.json"), "utf8")).toBe(readFileSync(join(ROOT, "package-lock.json"), "utf8"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  test("is in sync with package.json for `npm ci`", async () => {
    const dir = scratch();
    try {
      const r = await npm(dir, ["ci", "--dry-run"]);
      expect(r.out).not.toContain("Missing:");
      expect(r.code, r.out).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

describe("the README", () => {
  test("says how the bare `roomy` of its examples gets on PATH", () => {
    const setUp = section("Set up");
    expect(setUp).toContain("npm run build");
    expect(setUp).toContain('export PATH="$PWD/dist:$PATH"');
    expect(setUp).toContain("alias roomy='npx bun cli/main.ts'");
    expect(section("The CLI")).toContain("[Set up](#set-up)");
  });

  test("points at nothing outside the repository, and at CONTRACT.md for the contract", () => {
    expect(README).not.toContain("../shared");
    expect(section("Set up")).toMatch(/^npm ci\b/m);
    expect(README).toContain("[CONTRACT.md](CONTRACT.md)");
  });

  test("explains the NODE column of `roomy lot`", () => {
    expect(section("The CLI")).toMatch(/NODE[^\n]*column|column[^\n]*NODE/);
  });
});
