/**
 * The plan of the tree, checked on every run (README, "How it is built"):
 * imports point cli -> http -> mesh -> core; core imports nothing of ours
 * outside core/; adapter/ is the only code that touches the runtime (time,
 * timers, randomness, scheduling, sockets, files, processes, crypto, globals,
 * the HTTP server) and imports only core/ and adapter/ at run time (the
 * interfaces it implements, type-only, from anywhere); the simulator
 * (mesh/sim/) drives virtual time and may schedule real turns; no source file
 * is over 400 lines. Each rule lists what breaks it, file and line; the last
 * test feeds every rule a broken file of each kind it must catch.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, normalize } from "node:path";

const ROOT = join(import.meta.dir, "..");
const LAYERS = ["cli", "http", "mesh", "core", "adapter"] as const;
type Layer = (typeof LAYERS)[number];
const MAX_LINES = 400;

/** The layers each layer may import (type-only imports too, but for adapter/'s: it implements interfaces declared above it). */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  cli: ["cli", "http", "mesh", "core", "adapter"],
  http: ["http", "mesh", "core", "adapter"],
  mesh: ["mesh", "core", "adapter"],
  core: ["core"],
  adapter: ["adapter", "core"],
};

/** Browser code: served as text to the dashboard page, it runs in the browser, not in roomy. */
const BROWSER = new Set(["http/dashboard/client.ts"]);
/** Data files a module may import, by importer: the version number is package.json's. */
const DATA_IMPORTS = new Set(["core/version.ts -> package.json"]);
/**
 * globalThis outside adapter/, each with its reason: the CBOR text reader
 * feature-detects Buffer (a native byte-to-string copy, no I/O) and stays
 * pure without it; the library face reports which runtime it runs on.
 */
const GLOBALS_ALLOWED = new Set(["core/cbor/text.ts"]);

const CODE_EXT = /\.(ts|tsx|mts|cts|js|mjs|cjs|jsx)$/;
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

type Tree = ReadonlyMap<string, string>;

function readTree(): Tree {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const rel = join(dir, name);
      if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
      else if (CODE_EXT.test(rel)) out.set(rel, readFileSync(join(ROOT, rel), "utf8"));
    }
  };
  for (const layer of LAYERS) walk(layer);
  out.set("mod.ts", readFileSync(join(ROOT, "mod.ts"), "utf8"));
  return out;
}

/** mod.ts is the library face over every layer: it counts as cli/ (the top). */
const layerOf = (path: string): Layer | undefined => (path === "mod.ts" ? "cli" : LAYERS.find((l) => path.startsWith(l + "/")));
const inSimulator = (path: string): boolean => path.startsWith("mesh/sim/");
const inAdapter = (path: string): boolean => path.startsWith("adapter/");
const transpiler = new Bun.Transpiler({ loader: "ts" });
const withoutShebang = (text: string): string => text.replace(/^#!.*/, "");

interface Import {
  line: number;
  spec: string;
}

/** Every static import and re-export, type-only ones included (the layer rule counts them too). */
function staticImports(text: string): Import[] {
  const found: Import[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?:type\s+)?[^;]*?\s+from\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']/gms)) {
    found.push({ line: text.slice(0, m.index).split("\n").length, spec: (m[1] ?? m[2])! });
  }
  return found;
}

/** What loads at run time: imports that survive compilation, require() and import() (Bun's own scanner). */
function runtimeImports(text: string): string[] {
  return transpiler.scanImports(withoutShebang(text)).map((i) => i.path);
}

/** The compiled code (no types, no comments) with string, template and regex contents blanked; `${}` code kept. */
function codeOnly(text: string): string {
  const js = transpiler.transformSync(withoutShebang(text));
  let out = "";
  let i = 0;
  let last = ""; // last significant character of code, for telling a regex from a division
  const regexAfter = "(,=:[!&|?{};+-*%<>~^";
  const skipString = (q: string): void => {
    out += q;
    i++;
    while (i < js.length && js[i] !== q) {
      if (js[i] === "\\") i++;
      i++;
    }
    out += q;
    i++;
  };
  const skipTemplate = (): void => {
    out += "`";
    i++;
    while (i < js.length && js[i] !== "`") {
      if (js[i] === "\\") i += 2;
      else if (js[i] === "$" && js[i + 1] === "{") {
        // Code inside a template: kept, up to the matching brace.
        out += " ";
        i += 2;
        let depth = 1;
        while (i < js.length && depth > 0) {
          const c = js[i]!;
          if (c === '"' || c === "'") skipString(c);
          else if (c === "`") skipTemplate();
          else {
            if (c === "{") depth++;
            if (c === "}") depth--;
            out += depth > 0 ? c : " ";
            i++;
          }
        }
      } else {
        if (js[i] === "\n") out += "\n";
        i++;
      }
    }
    out += "`";
    i++;
  };
  while (i < js.length) {
    const c = js[i]!;
    if (c === '"' || c === "'") {
      skipString(c);
      last = "a";
    } else if (c === "`") {
      skipTemplate();
      last = "a";
    } else if (c === "/" && (last === "" || regexAfter.includes(last) || /\b(return|typeof|case|in|of|new|throw|void|delete)$/.test(out.trimEnd()))) {
      // A regex literal: its body may hold quotes or anything else.
      out += "/";
      i++;
      let inClass = false;
      while (i < js.length && (js[i] !== "/" || inClass)) {
        if (js[i] === "\\") i++;
        else if (js[i] === "[") inClass = true;
        else if (js[i] === "]") inClass = false;
        i++;
      }
      out += "/";
      i++;
      last = "a";
    } else {
      out += c;
      if (!/\s/.test(c)) last = c;
      i++;
    }
  }
  return out;
}

const BANNED_TIME = /(?<![\w.$])(Date\s*\.\s*now|Date\s*\[|new\s+Date(?:\s*\(\s*\))?(?!\s*\()|setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|clearImmediate|Math\s*\.\s*random|performance|crypto|queueMicrotask|requestAnimationFrame)\b/;
// `process` as the runtime's object (process.x, process[...], = process), not a variable of that name.
const BANNED_RUNTIME = /(?<![\w.$])(Bun|Deno|globalThis|require)\b|(?<![\w.$])(process)(?=\s*[.[])|=\s*(process)\s*(?:;|$)/;

function lineCount(text: string): number {
  if (text === "") return 0;
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

/** Every broken rule in `tree`, by rule. */
function violations(tree: Tree): { imports: string[]; runtime: string[]; time: string[]; size: string[] } {
  const imports: string[] = [];
  const runtime: string[] = [];
  const time: string[] = [];
  const size: string[] = [];
  for (const [file, text] of tree) {
    if (!file.endsWith(".ts")) {
      imports.push(`${file}: not TypeScript (the checks read .ts only)`);
      continue;
    }
    const from = layerOf(file)!;
    const checkTarget = (spec: string, where: string): void => {
      if (!spec.startsWith(".")) return;
      const target = normalize(join(dirname(file), spec));
      const to = layerOf(target);
      if (to === undefined) {
        if (!DATA_IMPORTS.has(`${file} -> ${target}`)) imports.push(`${where} imports ${spec}, outside the layers`);
      } else if (!MAY_IMPORT[from].includes(to)) imports.push(`${where} (${from}) imports ${target} (${to})`);
    };
    // Type-only imports count for every layer but adapter/ (whose interfaces are declared by the layers using it).
    if (!inAdapter(file)) for (const imp of staticImports(text)) checkTarget(imp.spec, `${file}:${imp.line}`);
    const loaded = runtimeImports(text);
    for (const spec of loaded) checkTarget(spec, `${file} (at run time)`);
    if (!inAdapter(file) && !BROWSER.has(file)) {
      for (const spec of loaded) {
        const builtin = NODE_BUILTINS.has(spec) || spec === "bun" || spec.startsWith("bun:");
        if (builtin && !(inSimulator(file) && (spec === "node:timers" || spec === "timers"))) runtime.push(`${file} imports ${spec}`);
      }
      const code = codeOnly(text);
      code.split("\n").forEach((line, i) => {
        const r = BANNED_RUNTIME.exec(line);
        const name = r === null ? undefined : (r[1] ?? r[2] ?? r[3]);
        if (name !== undefined && !(name === "globalThis" && GLOBALS_ALLOWED.has(file))) runtime.push(`${file} uses ${name} (compiled line ${i + 1})`);
        const t = inSimulator(file) ? null : BANNED_TIME.exec(line);
        if (t) time.push(`${file} uses ${t[1]} (compiled line ${i + 1})`);
      });
    }
    const n = lineCount(text);
    if (n > MAX_LINES) size.push(`${file}: ${n} lines`);
  }
  return { imports, runtime, time, size };
}

const TREE = readTree();
const FOUND = violations(TREE);

describe("the plan of the tree", () => {
  test("imports point cli -> http -> mesh -> core; adapter/ imports only core/ and adapter/ at run time", () => {
    expect(FOUND.imports).toEqual([]);
  });

  test("only adapter/ touches the runtime: no builtin or bun imports, Bun, Deno, process, globalThis or require elsewhere", () => {
    expect(FOUND.runtime).toEqual([]);
  });

  test("no clock, timer, randomness, crypto or scheduling outside the adapters and the simulator", () => {
    expect(FOUND.time).toEqual([]);
  });

  test(`no source file is over ${MAX_LINES} lines`, () => {
    expect(FOUND.size).toEqual([]);
  });

  test("the checks see the tree: every layer and mod.ts are read", () => {
    expect(TREE.size).toBeGreaterThan(100);
    for (const layer of LAYERS) expect([...TREE.keys()].some((f) => f.startsWith(layer + "/"))).toBe(true);
    expect(TREE.has("mod.ts")).toBe(true);
  });

  test("each rule catches a broken file of every kind it is about (negative controls)", () => {
    const broken = new Map<string, string>([
      ["core/a.ts", 'import type { M } from "../mesh/m.ts";\nexport const a = 1;\n'],
      ["mesh/b.ts", 'import type { H } from "../http/h.ts";\nconst fs = require("fs");\nconst x = `${Date.now()}`;\n'],
      ["mesh/c.ts", 'const re = /"/g;\nconst t = globalThis.setTimeout;\nconst { env } = process;\n'],
      ["http/d.ts", 'import { readFileSync } from "fs";\nconst m = await import("../cli/x.ts");\nconst r = crypto.randomUUID();\n'],
      ["adapter/e.ts", 'import type { Clock } from "../mesh/types.ts";\nimport { x } from "../mesh/x.ts";\nexport const now = () => Date.now();\n'],
      ["core/f.ts", 'import v from "../package.json";\nexport const d = new Date();\n' + "//\n".repeat(400)],
      ["mesh/g.js", "export const g = 1;\n"],
    ]);
    const v = violations(broken);
    const has = (list: string[], s: string): boolean => list.some((x) => x.includes(s));
    expect(has(v.imports, "core/a.ts:1 (core) imports mesh/m.ts")).toBe(true);
    expect(has(v.imports, "mesh/b.ts:1 (mesh) imports http/h.ts")).toBe(true);
    expect(has(v.imports, "http/d.ts (at run time) (http) imports cli/x.ts")).toBe(true);
    expect(has(v.imports, "adapter/e.ts (at run time) (adapter) imports mesh/x.ts")).toBe(true);
    expect(has(v.imports, "Clock")).toBe(false); // adapter/'s type-only import of what it implements is fine
    expect(has(v.imports, "core/f.ts:1 imports ../package.json, outside the layers")).toBe(true);
    expect(has(v.imports, "mesh/g.js: not TypeScript")).toBe(true);
    expect(has(v.runtime, "mesh/b.ts imports fs")).toBe(true);
    expect(has(v.runtime, "http/d.ts imports fs")).toBe(true);
    expect(has(v.runtime, "mesh/c.ts uses globalThis")).toBe(true);
    expect(has(v.runtime, "uses process")).toBe(true);
    expect(has(v.time, "mesh/b.ts uses Date.now")).toBe(true);
    expect(has(v.time, "http/d.ts uses crypto")).toBe(true);
    expect(has(v.time, "core/f.ts uses new Date")).toBe(true);
    expect(has(v.time, "adapter/")).toBe(false);
    expect(has(v.size, "core/f.ts: 402 lines")).toBe(true);
  });
});
