/**
 * The jitdump reader (jitdump-map.ts) turns JSC's code loads into perf map
 * lines: address, size and name of each, and the pid the dump is of.
 */
import { expect, test } from "bun:test";
import { mapLines } from "./jitdump-map.ts";

/** A jitdump of `loads` (address, size, name) for `pid`, laid out as the spec says; `extra` records of another kind between. */
function jitdump(pid: number, loads: [bigint, bigint, string][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new DataView(new ArrayBuffer(40));
  header.setUint32(0, 0x4a695444, true); // magic
  header.setUint32(4, 1, true); // version
  header.setUint32(8, 40, true); // header size
  header.setUint32(20, pid, true);
  parts.push(new Uint8Array(header.buffer));
  // A record of another kind (JIT_CODE_CLOSE, id 3): skipped.
  const other = new DataView(new ArrayBuffer(16));
  other.setUint32(0, 3, true);
  other.setUint32(4, 16, true);
  parts.push(new Uint8Array(other.buffer));
  for (const [addr, size, name] of loads) {
    const nameBytes = new TextEncoder().encode(name + "\0");
    const code = new Uint8Array(Number(size)); // the code itself follows the name
    const total = 16 + 40 + nameBytes.length + code.length;
    const rec = new DataView(new ArrayBuffer(total));
    rec.setUint32(0, 0, true); // JIT_CODE_LOAD
    rec.setUint32(4, total, true);
    rec.setUint32(16, pid, true);
    rec.setBigUint64(16 + 8, addr, true); // vma
    rec.setBigUint64(16 + 16, addr, true); // code address
    rec.setBigUint64(16 + 24, size, true);
    new Uint8Array(rec.buffer).set(nameBytes, 16 + 40);
    parts.push(new Uint8Array(rec.buffer));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
}

test("each code load becomes a perf map line of its address, size and name; other records are skipped", () => {
  const bytes = jitdump(4242, [[0x7f00deadbe00n, 0x40n, "JSC-FTL: applyOne#BR2CaY"], [0x7f00deadc000n, 0x10n, "JSC-Baseline: route#EU3qSs"]]);
  expect(mapLines(bytes)).toEqual({ pid: 4242, lines: ["7f00deadbe00 40 JSC-FTL: applyOne#BR2CaY", "7f00deadc000 10 JSC-Baseline: route#EU3qSs"] });
});

test("a dump cut short in its last record gives the loads before it", () => {
  const bytes = jitdump(7, [[0x1000n, 0x20n, "a"], [0x2000n, 0x20n, "b"]]);
  expect(mapLines(bytes.subarray(0, bytes.length - 10)).lines).toEqual(["1000 20 a"]);
});

test("bytes that are not a jitdump are refused", () => {
  expect(() => mapLines(new Uint8Array(64))).toThrow("not a jitdump");
});
