/**
 * Benchmark runner: `bun tests/bench/run.ts [filter...]` (the `bench` script).
 *
 * Imports every `tests/bench/*.bench.ts` (or those whose file name contains
 * one of the filters), runs each module's `run()` in turn and writes
 * BENCHMARKS.md at the repository root: a header naming the machine, then one
 * section per module between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`.
 * With filters, only those sections are replaced in an existing file; the
 * others are kept as they were. A module that throws gets its error in its
 * section; the rest still run, and the exit code is then 1.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem, platform, arch, release } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface BenchSection {
  title: string;
  markdown: string;
}

interface BenchModule {
  run(): Promise<BenchSection>;
}

// Bun's global, typed here so the file also type-checks without Bun's types.
const bun = (globalThis as { Bun?: { version: string; gc(full: boolean): void } }).Bun;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
/** BENCH_OUT writes elsewhere (a trial run that must not touch the committed figures). */
const OUT = process.env.BENCH_OUT ?? join(root, "BENCHMARKS.md");
const SUFFIX = ".bench.ts";
/** A benchmark that hangs (awaiting something that never comes) is cut off. */
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 20 * 60_000);

async function withTimeout<T>(p: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

function machine(): string {
  const c = cpus();
  const model = c[0]?.model.trim() || "unknown CPU";
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  const runtime = bun ? `Bun ${bun.version}` : `Node ${process.version}`;
  return `${model}, ${c.length} cores, ${gib} GiB RAM; ${platform()} ${arch()} ${release()}; ${runtime}`;
}

function header(date: string): string {
  return [
    "# roomy benchmarks",
    "",
    "Written by `npm run bench` (`bun tests/bench/run.ts [filter...]`); each section says when it was measured.",
    "Figures from one machine, one run: compare the ratios, not the absolute times.",
    "",
    `- Last run: ${date}`,
    `- Machine: ${machine()}`,
    "",
  ].join("\n");
}

function sectionText(name: string, body: string): string {
  return `<!-- bench:${name} -->\n${body.trim()}\n<!-- /bench:${name} -->`;
}

async function runOne(file: string): Promise<{ text: string; ok: boolean }> {
  const name = file.slice(0, -SUFFIX.length);
  const started = new Date().toISOString();
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
  const t0 = performance.now();
  try {
    const mod = (await import(join(here, file))) as Partial<BenchModule>;
    if (typeof mod.run !== "function") throw new Error(`${file} does not export run()`);
    const s = await withTimeout(mod.run(), TIMEOUT_MS, `${file} did not finish within ${TIMEOUT_MS} ms`);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const meta = `_Measured ${started} (load average ${load}), took ${secs} s._`;
    console.log(`bench: ${name} done in ${secs} s`);
    return { text: sectionText(name, `## ${s.title}\n\n${meta}\n\n${s.markdown.trim()}`), ok: true };
  } catch (err) {
    const e = err as Error;
    console.error(`bench: ${name} failed:`, e);
    const detail = (e?.stack ?? String(err)).split("\n").slice(0, 12).join("\n");
    return { text: sectionText(name, `## ${name}\n\n_Failed at ${started}:_\n\n\`\`\`\n${detail}\n\`\`\``), ok: false };
  }
}

/** Replace the marked sections of `old` that appear in `fresh`, append the new ones. */
function merge(old: string, fresh: Map<string, string>, head: string): string {
  const start = old.indexOf("<!-- bench:");
  let body = start >= 0 ? old.slice(start) : "";
  for (const [name, text] of fresh) {
    const open = `<!-- bench:${name} -->`;
    const close = `<!-- /bench:${name} -->`;
    const a = body.indexOf(open);
    const b = a >= 0 ? body.indexOf(close, a) : -1;
    if (a >= 0 && b >= 0) body = body.slice(0, a) + text + body.slice(b + close.length);
    else body = `${body.trimEnd()}\n\n${text}`;
  }
  return `${head}\n${body.trim()}\n`;
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const files = (await readdir(here))
    .filter((f) => f.endsWith(SUFFIX))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort();
  if (files.length === 0) {
    console.error(`bench: no ${SUFFIX} file matches ${filters.join(", ")}`);
    process.exit(2);
  }
  const sections = new Map<string, string>();
  let failed = 0;
  for (const f of files) {
    const { text, ok } = await runOne(f);
    sections.set(f.slice(0, -SUFFIX.length), text);
    if (!ok) failed++;
    // Leave the next benchmark a clean heap.
    bun?.gc(true);
  }
  const head = header(new Date().toISOString());
  let out: string;
  if (filters.length > 0) {
    const old = await readFile(OUT, "utf8").catch(() => "");
    out = merge(old, sections, head);
  } else {
    out = `${head}\n${[...sections.values()].join("\n\n")}\n`;
  }
  await writeFile(OUT, out);
  console.log(`bench: wrote ${OUT} (${sections.size} section(s), ${failed} failed)`);
  // Some benchmarks leave sockets or timers behind: do not wait for them.
  process.exit(failed > 0 ? 1 : 0);
}

if (import.meta.main) await main();
