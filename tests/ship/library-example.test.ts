/**
 * The example at the top of mod.ts (README, Library: "See the JSDoc in
 * mod.ts") runs as written, importing only what it names: a newcomer copied
 * it and got `ReferenceError: staticRoutes is not defined`.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./support/binary.ts";

test("mod.ts's JSDoc example runs as written and prints the dump it promises", async () => {
  const doc = readFileSync(join(ROOT, "mod.ts"), "utf8");
  const block = /```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(block).toBeDefined();
  const code = block!.split("\n").map((l) => l.replace(/^ \* ?/, "")).join("\n").replace('"./mod.ts"', JSON.stringify(join(ROOT, "mod.ts")));
  const dir = mkdtempSync(join(tmpdir(), "roomy-example-"));
  try {
    const file = join(dir, "example.ts");
    writeFileSync(file, code);
    const p = Bun.spawn([process.execPath, file], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code_] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ code: code_, err: err.trim() }).toEqual({ code: 0, err: "" });
    expect(out.replace(/\s+/g, "")).toBe('{kitchen:["alan"],}');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
