/**
 * README.md against what the program says about itself: a newcomer reads
 * the README, so every command, flag, variable, default and metric it names
 * must be what `roomy --help`, `roomy COMMAND --help` and `/metrics` show,
 * and the other way round. (CONTRACT.md against the code is contract.test.ts.)
 * Runs `bun cli/main.ts` (no build) and one in-process node; a few seconds.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../../http/app.ts";
import { type Node, startNode } from "../../mesh/node/node.ts";
import { cli } from "../cli/helpers.ts";
import { ROOT } from "./support/binary.ts";

const README = readFileSync(join(ROOT, "README.md"), "utf8");

/** README's `## title` section (its subsections included). */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const end = README.indexOf("\n## ", start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** The table rows (lines starting with "| `") of a README section. */
const rows = (text: string): string[] => text.split("\n").filter((l) => l.startsWith("| `"));

/** A table row's cells (`\|` inside a cell is no separator). */
const cells = (row: string): string[] => row.split(/(?<!\\)\|/);

/** What `roomy ARGS` prints on stdout (help goes there, exit 0). */
async function roomy(args: string[]): Promise<string> {
  const r = await cli(args);
  expect(r.code).toBe(0);
  return r.stdout;
}

/** The commands `roomy --help` lists, in order. */
async function commands(): Promise<string[]> {
  const help = await roomy(["--help"]);
  const block = help.slice(help.indexOf("Commands:"), help.indexOf("For more info"));
  return [...block.matchAll(/^ {2}([a-z-]+)\b/gm)].map((m) => m[1]!);
}

/** `--flag` → its help line, from `roomy COMMAND --help`'s Options. */
async function flags(command: string): Promise<Map<string, string>> {
  const help = await roomy([command, "--help"]);
  const out = new Map<string, string>();
  for (const m of help.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)\b(.*)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

describe("README.md against --help", () => {
  test("its CLI table has a row for every command roomy --help lists but node, and no other", async () => {
    const listed = (await commands()).filter((c) => c !== "node").sort();
    expect(listed.length).toBeGreaterThan(10);
    const table = rows(section("The CLI")).map((r) => /^\| `roomy ([a-z-]+)/.exec(r)?.[1]).filter((c) => c !== undefined);
    expect([...new Set(table)].sort()).toEqual(listed);
  });

  test("every client command takes --node, --json and --token as it says, with its variables and default URL", async () => {
    const cli = section("The CLI");
    expect(cli).toContain("`--node URL` (or `ROOMY_NODE`; default `http://127.0.0.1:4380`)");
    expect(cli).toContain("`--token TOKEN` (or `ROOMY_ADMIN_TOKEN`");
    for (const c of (await commands()).filter((c) => c !== "node")) {
      const f = await flags(c);
      expect([c, f.get("--node")]).toEqual([c, expect.stringContaining("(default http://127.0.0.1:4380) [env ROOMY_NODE]")]);
      expect([c, f.get("--token")]).toEqual([c, expect.stringContaining("[env ROOMY_ADMIN_TOKEN]")]);
      expect([c, f.has("--json")]).toEqual([c, true]);
    }
    // The command-specific flags the README's table names.
    expect((await flags("add-rooms")).has("--capacity")).toBe(true);
    expect((await flags("recover")).has("--force")).toBe(true);
  });

  test("the roomy node table names every flag of roomy node --help, with its variable and default, and no other flag", async () => {
    const help = await flags("node");
    help.delete("--help");
    const nodeSection = README.slice(README.indexOf("### `roomy node`"), README.indexOf("\n## HTTP admin API"));
    const table = rows(nodeSection);
    expect(table.length).toBeGreaterThan(15);
    const rowOf = (flag: string): string | undefined => table.find((r) => cells(r)[1]!.includes(`\`${flag} `) || cells(r)[1]!.includes(`\`${flag}\``));
    const problems: string[] = [];
    for (const [flag, line] of help) {
      const row = rowOf(flag);
      if (row === undefined) {
        problems.push(`${flag}: no row`);
        continue;
      }
      const env = /\[env (ROOMY_[A-Z_]+)\]/.exec(line)?.[1];
      if (env === undefined || !row.includes(`\`${env}\``)) problems.push(`${flag}: variable ${String(env)} not in its row`);
      // "(default X)" or "(default: X)", up to a ";" or ")": the row's default column says the same.
      const dflt = /\(default:? ([^;)]+)/.exec(line)?.[1]?.trim();
      const column = cells(row)[3] ?? "";
      if (dflt !== undefined && !column.replaceAll("`", "").includes(dflt)) problems.push(`${flag}: help's default "${dflt}" not in "${column.trim()}"`);
    }
    for (const r of table) {
      for (const m of cells(r)[1]!.matchAll(/`(--[a-z-]+)/g)) if (!help.has(m[1]!)) problems.push(`${m[1]!}: in the README, not in roomy node --help`);
    }
    expect(problems).toEqual([]);
    // The two variables without a flag that --help lists are in the table too.
    const nodeHelp = await roomy(["node", "--help"]);
    for (const v of ["ROOMY_ADMIN_TOKEN", "ROOMY_DNS_SERVER"]) {
      expect(nodeHelp).toContain(v);
      expect(nodeSection).toContain(`| \`${v}\` |`);
    }
  });
});

describe("README.md's Metrics table against /metrics", () => {
  let node: Node;
  beforeAll(async () => {
    node = await startNode({ name: "readme" });
  });
  afterAll(() => node.stop());

  /** Names the table gives, shorthands (`_total` after a full name) expanded against the served families. */
  function documented(served: Set<string>): Set<string> {
    const out = new Set<string>();
    for (const r of rows(section("Metrics"))) {
      const names = [...cells(r)[1]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
      let first = "";
      for (const n of names) {
        if (!n.startsWith("_")) {
          first = n;
          out.add(n);
          continue;
        }
        // `roomy_membership_probes_total`, `_probe_failures_total`: the stem is a prefix of the first name.
        const parts = first.split("_");
        let hit = `${first}|${n}`;
        for (let i = parts.length - 1; i > 0; i--) {
          const cand = parts.slice(0, i).join("_") + n;
          if (served.has(cand)) {
            hit = cand;
            break;
          }
        }
        out.add(hit);
      }
    }
    return out;
  }

  test("every metric family a node serves is in the table", async () => {
    const text = await (await createApp(node).request("/metrics")).text();
    const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    expect(served.size).toBeGreaterThan(40);
    const doc = documented(served);
    expect([...served].filter((f) => !doc.has(f))).toEqual([]);
    // A node in a process of its own has no TCP mesh (and no stall CPU, fault or thread figure):
    // those families are served only by `roomy node`, checked by hand with promtool.
    const tcpOnly = (f: string): boolean => f.startsWith("roomy_transport_") || ["cpu_seconds", "major_faults", "ran_seconds", "waited_seconds"].some((x) => f === `roomy_event_loop_stall_max_${x}`) || f === "roomy_event_loop_stall_own_max_seconds";
    expect([...doc].filter((f) => !served.has(f) && !tcpOnly(f))).toEqual([]);
  });
});
