/**
 * The Dockerfile's build stage, replayed without a container (none runs
 * here): its WORKDIR, ARG, ENV, COPY and RUN lines, in order, in a scratch
 * folder standing for the image's filesystem, with the same npm commands
 * against the same registry. It must end with a working binary, having
 * installed only the runtime dependencies (and Bun, in its own prefix).
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./support/binary.ts";
import { K8S } from "./support/k8s-load.ts";

const scratch = mkdtempSync(join(tmpdir(), "roomy-image-build-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };

test("the build stage, replayed step by step, installs only the runtime dependencies and Bun and builds a binary that runs", () => {
  const text = readFileSync(join(K8S, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
  const build = text.split(/^FROM /m)[1]!;
  const lines = build.split("\n").slice(1).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));

  // Absolute paths the stage uses (its WORKDIR, npm --prefix folders) live under the scratch folder.
  const roots = [...build.matchAll(/^WORKDIR (\S+)/gm), ...build.matchAll(/--prefix (\/\S+)/g)].map((m) => m[1]!);
  const inside = (s: string): string => roots.reduce((acc, r) => acc.replaceAll(r, join(scratch, r)), s);
  const vars: Record<string, string> = {};
  // The machine's environment (its CA certificates, any proxy), less what `npx`/`npm test` set for their own run.
  const env: Record<string, string> = { npm_config_update_notifier: "false" };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^npm_/i.test(k)) env[k] = v;
  const expand = (s: string): string => s.replace(/\$\{?(\w+)\}?/g, (m, k: string) => vars[k] ?? env[k] ?? m);
  let cwd = scratch;
  const ran: string[] = [];

  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const arg = line.slice(op!.length).trim();
    if (op === "WORKDIR") {
      cwd = join(scratch, arg);
      mkdirSync(cwd, { recursive: true });
    } else if (op === "ARG") {
      const [k, v] = arg.split("=");
      vars[k!] = v ?? "";
    } else if (op === "ENV") {
      for (const m of arg.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = inside(expand(m[2]!));
    } else if (op === "COPY") {
      const dest = join(cwd, rest.at(-1)!);
      for (const src of rest.slice(0, -1)) cpSync(join(ROOT, src), rest.length > 2 ? join(dest, src) : dest, { recursive: true });
    } else if (op === "RUN") {
      const cmd = inside(expand(arg));
      const r = Bun.spawnSync(["sh", "-c", cmd], { cwd, env, stdout: "pipe", stderr: "pipe", timeout: 150_000 });
      expect({ cmd, code: r.exitCode, err: r.exitCode === 0 ? "" : r.stderr.toString().slice(-2000) }).toEqual({ cmd, code: 0, err: "" });
      ran.push(cmd);
    } else {
      throw new Error(`the replay does not know ${op} (line: ${line})`);
    }
  }

  expect(ran.some((c) => c.includes("npm run build"))).toBe(true);
  // What the runtime stage copies: a binary that runs.
  const bin = join(cwd, "dist", "roomy");
  expect(existsSync(bin)).toBe(true);
  const v = Bun.spawnSync([bin, "--version"], { stdout: "pipe" });
  expect(v.stdout.toString().trim()).toMatch(/^roomy \d+\.\d+\.\d+/);
  // The project's node_modules: exactly the runtime dependencies, no dev dependency (nor its dependencies).
  const installed = readdirSync(join(cwd, "node_modules")).filter((n) => !n.startsWith("."));
  expect(installed.sort()).toEqual(Object.keys(pkg.dependencies).sort());
}, 240_000);
