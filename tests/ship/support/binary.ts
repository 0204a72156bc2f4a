/**
 * dist/roomy for tests that run the real binary: built at most once per test
 * run, and only when a source file is newer than it. The build writes a
 * temporary file and renames it into place, so a test (or a colleague's
 * test run) executing the old binary meanwhile is never handed a half-written
 * one.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const BINARY = join(ROOT, "dist", "roomy");
const SOURCES = ["cli", "core", "mesh", "http", "mod.ts", "package.json", "package-lock.json"];
const BUILD_DEADLINE_MS = 180_000;

let building: Promise<string> | null = null;

/** The path of an up-to-date dist/roomy (built if missing or stale). */
export function ensureBinary(): Promise<string> {
  building ??= build();
  return building;
}

function newestSource(): number {
  let newest = 0;
  const visit = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) visit(join(p, e));
    } else if (/\.(ts|json)$/.test(p)) {
      newest = Math.max(newest, st.mtimeMs);
    }
  };
  for (const s of SOURCES) if (existsSync(join(ROOT, s))) visit(join(ROOT, s));
  return newest;
}

/** The arguments of package.json's build script after `bun`, writing to `outfile` instead. */
export function buildArgs(outfile: string): string[] {
  const script = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { build: string } }).scripts.build;
  const [bun, ...args] = script.split(/\s+/);
  const at = args.indexOf("--outfile");
  if (bun !== "bun" || at < 0 || at + 1 >= args.length) throw new Error(`package.json's build script is not "bun build ... --outfile <file>": ${script}`);
  args[at + 1] = outfile;
  return args;
}

async function build(): Promise<string> {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= newestSource()) return BINARY;
  const tmp = join(ROOT, "dist", `.roomy-build-${process.pid}`);
  // The command of `npm run build` itself, to a temporary file.
  const proc = Bun.spawn([process.execPath, ...buildArgs(tmp)], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), BUILD_DEADLINE_MS);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  if (code !== 0 || !existsSync(tmp)) {
    rmSync(tmp, { force: true });
    throw new Error(`bun build --compile failed (exit ${code}):\n${out}\n${err}`);
  }
  renameSync(tmp, BINARY);
  return BINARY;
}
