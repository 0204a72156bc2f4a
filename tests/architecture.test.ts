/**
 * The plan of the tree, checked on every run (README, "How it is built"):
 * imports point cli -> http -> mesh -> core; core imports nothing of ours
 * outside core/; adapter/ is the only code that touches the runtime (time,
 * timers, randomness, scheduling, sockets, files, processes, crypto, the
 * HTTP server) and imports only core/ and adapter/ at run time (the
 * interfaces it implements, type-only, from anywhere); the simulator
 * (mesh/sim/) drives virtual time and may schedule real turns; no source file
 * is over 400 lines. Each rule lists what breaks it, file and line.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = join(import.meta.dir, "..");
const LAYERS = ["cli", "http", "mesh", "core", "adapter"] as const;
type Layer = (typeof LAYERS)[number];
const MAX_LINES = 400;

/** The layers each layer may import at run time (type-only imports are free: they vanish when compiled). */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  cli: ["cli", "http", "mesh", "core", "adapter"],
  http: ["http", "mesh", "core", "adapter"],
  mesh: ["mesh", "core", "adapter"],
  core: ["core"],
  adapter: ["adapter", "core"],
};

/** Browser code: served as text to the dashboard page, it runs in the browser, not in roomy. */
const BROWSER = new Set(["http/dashboard/client.ts"]);

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const rel = join(dir, name);
      if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
      else if (rel.endsWith(".ts")) out.push(rel);
    }
  };
  for (const layer of LAYERS) walk(layer);
  return out.sort();
}

const layerOf = (path: string): Layer | undefined => LAYERS.find((l) => path.startsWith(l + "/"));
const inSimulator = (path: string): boolean => path.startsWith("mesh/sim/");
const inAdapter = (path: string): boolean => path.startsWith("adapter/");

/** The text with comments and string/template contents blanked, lines kept. */
function codeOnly(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      i += 2;
      while (i < text.length && !(text[i] === "*" && text[i + 1] === "/")) out += text[i++] === "\n" ? "\n" : "";
      i += 2;
    } else if (c === '"' || c === "'" || c === "`") {
      out += c;
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\\") i++;
        else if (text[i] === "\n") out += "\n";
        i++;
      }
      out += c;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

interface Import {
  line: number;
  spec: string;
  typeOnly: boolean;
}

function importsOf(text: string): Import[] {
  const found: Import[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+["']([^"']+)["']/gms;
  for (const m of text.matchAll(re)) {
    const names = m[3] ?? "";
    const allTyped = /^\{[^}]*\}$/s.test(names.trim()) && names.replace(/[{}\s]/g, "").split(",").filter(Boolean).every((n) => n.startsWith("type"));
    found.push({ line: text.slice(0, m.index).split("\n").length, spec: m[4]!, typeOnly: m[2] !== undefined || allTyped });
  }
  for (const m of text.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) found.push({ line: text.slice(0, m.index).split("\n").length, spec: m[1]!, typeOnly: false });
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) found.push({ line: text.slice(0, m.index).split("\n").length, spec: m[1]!, typeOnly: false });
  return found;
}

const FILES = sources();
const TEXT = new Map(FILES.map((f) => [f, readFileSync(join(ROOT, f), "utf8")]));

describe("the plan of the tree", () => {
  test("imports point cli -> http -> mesh -> core; adapter/ imports only core/ and adapter/ at run time", () => {
    const broken: string[] = [];
    for (const file of FILES) {
      const from = layerOf(file)!;
      for (const imp of importsOf(TEXT.get(file)!)) {
        if (!imp.spec.startsWith(".")) continue;
        const target = normalize(join(dirname(file), imp.spec));
        const to = layerOf(target);
        if (to === undefined) {
          if (target.endsWith(".json")) continue; // data (package.json's version), not code
          broken.push(`${file}:${imp.line} imports ${imp.spec}, outside the layers`);
          continue;
        }
        if (imp.typeOnly && from !== "core") continue;
        if (!MAY_IMPORT[from].includes(to)) broken.push(`${file}:${imp.line} (${from}) imports ${relative(".", target)} (${to})`);
      }
    }
    expect(broken).toEqual([]);
  });

  test("only adapter/ touches the runtime: no node:/bun value imports, Bun., Deno. or process. elsewhere", () => {
    const broken: string[] = [];
    for (const file of FILES) {
      if (inAdapter(file) || BROWSER.has(file)) continue;
      const text = TEXT.get(file)!;
      for (const imp of importsOf(text)) {
        if (imp.typeOnly) continue;
        if (imp.spec.startsWith("node:") || imp.spec === "bun" || imp.spec.startsWith("bun:")) {
          if (inSimulator(file) && imp.spec === "node:timers") continue;
          broken.push(`${file}:${imp.line} imports ${imp.spec}`);
        }
      }
      codeOnly(text).split("\n").forEach((line, i) => {
        const m = /(?<![\w.])(Bun|Deno|process)\.\w+/.exec(line);
        if (m) broken.push(`${file}:${i + 1} uses ${m[0]}`);
      });
    }
    expect(broken).toEqual([]);
  });

  test("no clock, timer, randomness or scheduling outside the adapters and the simulator", () => {
    const banned = /(?<![\w.])(Date\.now|setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|Math\.random|performance\.now|crypto\.getRandomValues|queueMicrotask)\b/;
    const broken: string[] = [];
    for (const file of FILES) {
      if (inAdapter(file) || inSimulator(file) || BROWSER.has(file)) continue;
      codeOnly(TEXT.get(file)!).split("\n").forEach((line, i) => {
        const m = banned.exec(line);
        if (m) broken.push(`${file}:${i + 1} uses ${m[1]}`);
      });
    }
    expect(broken).toEqual([]);
  });

  test(`no source file is over ${MAX_LINES} lines`, () => {
    const long = FILES.map((f) => [f, TEXT.get(f)!.split("\n").length - 1] as const)
      .filter(([, n]) => n > MAX_LINES)
      .map(([f, n]) => `${f}: ${n} lines`);
    expect(long).toEqual([]);
  });

  test("the checks see the tree (a negative control: the scanners find what they look for)", () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(importsOf('import type { A } from "../x.ts";\nimport { b } from "./y.ts";')).toEqual([
      { line: 1, spec: "../x.ts", typeOnly: true },
      { line: 2, spec: "./y.ts", typeOnly: false },
    ]);
    expect(importsOf('import { type A, type B } from "../x.ts";')[0]!.typeOnly).toBe(true);
    expect(importsOf('import { type A, b } from "../x.ts";')[0]!.typeOnly).toBe(false);
    expect(codeOnly('const a = "Date.now()"; // setTimeout\n/* Math.random */ x()')).toBe('const a = ""; \n x()');
  });
});
