/**
 * The process the program runs in (node:process and node:os work under Bun
 * and Deno): its arguments, environment, output streams, exit, host name
 * and memory.
 */
import { openSync, readFileSync, readSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import process from "node:process";

export const argv = (): string[] => process.argv.slice(2);

/**
 * Places in argv() whose bytes were not UTF-8: the runtime decodes them
 * with U+FFFD in place of the bad bytes, so two different names could read
 * as one. Read from /proc/self/cmdline (the last entries are argv()'s);
 * where there is none (not Linux, no permission), nothing is reported.
 */
export const argvNotUtf8 = (): Set<number> => {
  const args = argv();
  const bad = new Set<number>();
  if (!args.some((a) => a.includes("\uFFFD"))) return bad;
  let raw: Uint8Array;
  try {
    raw = readFileSync("/proc/self/cmdline");
  } catch {
    return bad;
  }
  const entries: Uint8Array[] = [];
  let from = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      entries.push(raw.subarray(from, i));
      from = i + 1;
    }
  }
  if (from < raw.length) entries.push(raw.subarray(from));
  if (entries.length < args.length) return bad;
  const strict = new TextDecoder("utf-8", { fatal: true });
  const tail = entries.slice(entries.length - args.length);
  tail.forEach((bytes, i) => {
    try {
      strict.decode(bytes);
    } catch {
      bad.add(i);
    }
  });
  return bad;
};
export const environment = (): Record<string, string | undefined> => process.env;
export const hostname = (): string => osHostname();
export const exit = (code: number): never => process.exit(code);
/** CPU time the process has used so far (user and system, all threads), ms. */
export const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * Major page faults of the process so far (pages read back from disk, such
 * as the runtime's own code after the system reclaimed it); 0 where the
 * runtime cannot tell.
 */
export const majorFaults = (): number => {
  try {
    return process.resourceUsage().majorPageFault;
  } catch {
    return 0;
  }
};

/** A thread's scheduler times so far, ms. */
export interface ThreadTimes {
  /** on a CPU */
  ranMs: number;
  /** runnable, waiting for a CPU (the machine's other work had the cores) */
  waitedMs: number;
}

/**
 * A reader of the calling thread's scheduler times (Linux's
 * /proc/thread-self/schedstat, opened here, so bound to the thread that
 * calls this: the event loop's), or null where the system has none. One
 * pread per call (~1 us): cheap enough for a timer every 20 ms.
 */
export function threadTimes(): (() => ThreadTimes | null) | null {
  let fd: number;
  try {
    fd = openSync("/proc/thread-self/schedstat", "r");
  } catch {
    return null;
  }
  const buf = new Uint8Array(96);
  const read = (): ThreadTimes | null => {
    try {
      const n = readSync(fd, buf, 0, buf.length, 0);
      // "<ns on a cpu> <ns waiting on a run queue> <timeslices>"
      let text = "";
      for (let i = 0; i < n; i++) text += String.fromCharCode(buf[i]!);
      const [ran, waited] = text.split(" ");
      const r = Number(ran);
      const w = Number(waited);
      return Number.isFinite(r) && Number.isFinite(w) ? { ranMs: r / 1e6, waitedMs: w / 1e6 } : null;
    } catch {
      return null;
    }
  };
  return read() === null ? null : read;
}

/** The runtime running roomy: "bun", "deno" or "other" (the node_info metric's label). */
export function runtimeName(): "bun" | "deno" | "other" {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  return g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "other";
}

export interface MemoryUse {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export function memoryUse(): MemoryUse {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}

const watched = new Set<string>();

/** Write `text` to stdout or stderr; resolves once flushed (exiting right after a write to a pipe could cut it off), rejects with the write's error (the disk full, the pipe's reader gone). */
export function writeOut(stream: "stdout" | "stderr", text: string): Promise<void> {
  const s = process[stream];
  // The failure also comes as an 'error' event, which unheard ends the process with a trace; the write's callback answers for it.
  if (!watched.has(stream)) {
    watched.add(stream);
    s.on("error", () => {});
  }
  return new Promise<void>((resolve, reject) => {
    if (text === "") resolve();
    else s.write(text, (err) => (err === null || err === undefined ? resolve() : reject(err)));
  });
}

/** Bytes stderr may hold unwritten (its reader slow or gone) before lines are dropped: memory, not stalls, but bounded. */
const STDERR_BACKLOG_BYTES = 4 * 1024 * 1024;

/** A line to stderr now, without waiting (the logger's default sink); false, dropped, while stderr holds more than 4 MiB unwritten. */
export function writeErrLine(line: string): boolean {
  const s = process.stderr;
  if (s.writableLength > STDERR_BACKLOG_BYTES) return false;
  s.write(line + "\n");
  return true;
}
