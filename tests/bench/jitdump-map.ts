/**
 * Linux perf names a Bun process's JavaScript frames with this: JSC writes
 * its compiled code's addresses to a jitdump file (BUN_JSC_useJITDump=1,
 * /tmp/jit-<...>-<pid>-<random>), but under a name `perf inject --jit` does
 * not look for; this turns each such file into /tmp/perf-<pid>.map, which
 * `perf report` reads by itself. Bun's own profiler (--cpu-prof) was found
 * to attribute time unreliably (idle time to the last frame, a whole
 * collector's work to one allocating line); perf samples what ran.
 *
 *   perf record -a -g -k 1 -F 499 -o /tmp/cpu.data -- sleep 60 &
 *   BUN_JSC_useJITDump=1 dist/roomy node ...        # the processes to see
 *   bun tests/bench/jitdump-map.ts /tmp/jit-*
 *   perf report -i /tmp/cpu.data --pid <pid> --no-children --percentage relative --sort sym -g none
 *
 * The jitdump format: tools/perf/Documentation/jitdump-specification.txt in
 * the Linux tree (a 40-byte header, then records; JIT_CODE_LOAD, id 0,
 * carries the address, the size and the name).
 */
import { appendFileSync, readFileSync } from "node:fs";

const CODE_LOAD = 0;

/** "address size name" lines of every code load in a jitdump, and the pid it names. */
export function mapLines(bytes: Uint8Array): { pid: number; lines: string[] } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== 0x4a695444) throw new Error("not a jitdump (magic)");
  const headerSize = v.getUint32(8, true);
  const pid = v.getUint32(20, true);
  const lines: string[] = [];
  const dec = new TextDecoder();
  for (let off = headerSize; off + 16 <= bytes.length; ) {
    const id = v.getUint32(off, true);
    const size = v.getUint32(off + 4, true);
    if (size === 0 || off + size > bytes.length) break; // a record cut short: the process was still writing
    if (id === CODE_LOAD) {
      const addr = v.getBigUint64(off + 16 + 16, true);
      const codeSize = v.getBigUint64(off + 16 + 24, true);
      const nameAt = off + 16 + 40;
      const nameEnd = bytes.indexOf(0, nameAt);
      lines.push(`${addr.toString(16)} ${codeSize.toString(16)} ${dec.decode(bytes.subarray(nameAt, nameEnd))}`);
    }
    off += size;
  }
  return { pid, lines };
}

if (import.meta.main) {
  for (const path of process.argv.slice(2)) {
    const { pid, lines } = mapLines(readFileSync(path));
    appendFileSync(`/tmp/perf-${pid}.map`, lines.join("\n") + "\n");
    console.log(`${path}: ${lines.length} symbols -> /tmp/perf-${pid}.map`);
  }
}
