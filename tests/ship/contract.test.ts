/**
 * CONTRACT.md names everything users type and read, and cannot drift from
 * the code silently: every error code (core/errors.ts), exit code
 * (cli/exit.ts), route the admin API registers, CLI command and flag, and
 * ROOMY_* variable the code reads appears in it, in its section; and the
 * code comments that cite it cite sections it has.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { CLIENT_COMMANDS } from "../../cli/client-commands.ts";
import * as exitCodes from "../../cli/exit.ts";
import { NODE_ENV_ONLY, NODE_OPTIONS } from "../../cli/node-command.ts";
import { ERROR_CODES } from "../../core/errors.ts";
import { createApp } from "../../http/app.ts";
import { type Node, startNode } from "../../mesh/node/node.ts";
import { ROOT } from "./support/binary.ts";

const CONTRACT = readFileSync(join(ROOT, "CONTRACT.md"), "utf8");
const SOURCE_DIRS = ["cli", "core", "http", "mesh", "mod.ts"];

/** CONTRACT.md's `## title` section (its subsections included). */
function section(title: string): string {
  const start = CONTRACT.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`CONTRACT.md has no "## ${title}" section`);
  const end = CONTRACT.indexOf("\n## ", start + 1);
  return CONTRACT.slice(start, end < 0 ? undefined : end);
}

/** Every .ts file under the given roots (relative to the repository). */
function sources(roots: string[]): string[] {
  const out: string[] = [];
  const visit = (p: string): void => {
    if (statSync(p).isDirectory()) {
      for (const e of readdirSync(p)) if (e !== "node_modules") visit(join(p, e));
    } else if (p.endsWith(".ts")) out.push(p);
  };
  for (const r of roots) visit(join(ROOT, r));
  return out;
}

const missing = (wanted: Iterable<string>, text: string): string[] => [...wanted].filter((w) => !text.includes(w));

describe("CONTRACT.md", () => {
  test("is the repository's, and says it is the source of truth", () => {
    expect(CONTRACT.slice(0, 600)).toContain("source of truth");
    expect(CONTRACT.slice(0, 800)).toContain("../shared/CONTRACT.md");
  });

  test("lists every error code of core/errors.ts, with its row", () => {
    const errors = section("Error codes");
    expect(missing(ERROR_CODES.map((c) => `| \`${c}\` |`), errors)).toEqual([]);
  });

  test("lists every exit code of cli/exit.ts", () => {
    const codes = Object.entries(exitCodes).filter(([k, v]) => k.startsWith("EXIT_") && typeof v === "number");
    expect(codes.length).toBeGreaterThanOrEqual(4);
    const table = section("Exit codes");
    expect(codes.filter(([, v]) => !table.includes(`\n| ${String(v)} |`)).map(([k, v]) => `${k} = ${String(v)}`)).toEqual([]);
  });

  describe("routes", () => {
    let node: Node;
    beforeAll(async () => {
      node = await startNode({ name: "contract" });
    });
    afterAll(() => node.stop());

    test("lists every route the admin API registers", () => {
      const routes = createApp(node).routes.filter((r) => r.method !== "ALL");
      expect(routes.length).toBeGreaterThan(20);
      const wanted = new Set(routes.map((r) => `\`${r.method} ${r.path}\``));
      expect(missing(wanted, section("HTTP admin API"))).toEqual([]);
    });
  });

  test("lists every CLI command, with the flags each takes", () => {
    const program = readFileSync(join(ROOT, "cli", "program.ts"), "utf8");
    // Commands program.ts names itself, and the client commands it registers.
    const names = new Set([...program.matchAll(/\.command\(\s*"([a-z-]+)/g)].map((m) => m[1]!));
    for (const c of CLIENT_COMMANDS) names.add(c.usage.split(" ")[0]!);
    expect(names.has("node")).toBe(true);
    expect(missing([...names].map((n) => `\`roomy ${n}`), CONTRACT)).toEqual([]);
    const flags = CLIENT_COMMANDS.flatMap((c) => (c.options ?? []).map((o) => `--${o.name}`));
    expect(missing(["--node", "--token", "--json", "--help", "--version", ...flags], section("Client commands"))).toEqual([]);
  });

  test("lists every flag and variable of `roomy node`", () => {
    const node = section("The node");
    expect(missing(NODE_OPTIONS.map((o) => `\`--${o.name} `), node)).toEqual([]);
    const vars = [...NODE_OPTIONS.flatMap((o) => (o.env === undefined ? [] : [o.env])), ...NODE_ENV_ONLY.map((e) => e.env)];
    expect(missing(vars.map((v) => `\`${v}\``), node)).toEqual([]);
  });

  test("names every ROOMY_* variable the program reads", () => {
    const vars = new Set<string>();
    for (const f of sources(SOURCE_DIRS)) for (const m of readFileSync(f, "utf8").matchAll(/\bROOMY_[A-Z][A-Z_]*\b/g)) vars.add(m[0]);
    expect(vars.size).toBeGreaterThan(15);
    expect(missing([...vars].map((v) => `\`${v}\``), CONTRACT)).toEqual([]);
  });

  test("every code comment citing it names a section it has", () => {
    const headings = new Set([...CONTRACT.matchAll(/^#{2,3} (.+)$/gm)].map((m) => m[1]!));
    const bad: string[] = [];
    let cites = 0;
    for (const f of sources([...SOURCE_DIRS, "tests"])) {
      if (f === import.meta.path) continue; // this file names them to look for them
      const text = readFileSync(f, "utf8");
      for (const m of text.matchAll(/CONTRACT\.md(?:,\s*"([^"]+)")?/g)) {
        cites++;
        // A section name may wrap onto the comment's next line (" * ").
        const cited = m[1]?.replace(/\s*\n\s*(?:\*|\/\/)?\s*/g, " ");
        if (cited !== undefined && !headings.has(cited)) bad.push(`${relative(ROOT, f)}: "${cited}"`);
      }
      if (text.includes("shared/CONTRACT")) bad.push(`${relative(ROOT, f)} cites ../shared/CONTRACT.md`);
    }
    expect(cites).toBeGreaterThan(5);
    expect(bad).toEqual([]);
  });
});
