/**
 * The node's logger: leveled, one line per event, JSON (for machines and
 * the container image) or pretty (for a terminal). Writes to stderr so stdout
 * carries only what scripts read (the listening and ready lines).
 */
import type { Logger } from "../mesh/types.ts";
import { wallNow } from "../adapter/clock.ts";
import { writeErrLine } from "../adapter/process.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go (default: stderr); false: the line was dropped (its reader is behind), and the next written line says how many were. */
  write?: (line: string) => boolean | void;
  /** Fields added to every line (e.g. the node name). */
  base?: Record<string, unknown>;
  /** Default: the system's wall clock (a line's time as other logs on the machine tell it). */
  now?: () => number;
}

export function createLogger(opts: LoggerOptions): Logger {
  const min = LOG_LEVELS.indexOf(opts.level);
  const write = opts.write ?? writeErrLine;
  const now = opts.now ?? wallNow;
  const base = opts.base ?? {};
  const format = (level: LogLevel, msg: string, fields?: Record<string, unknown>): string => {
    const ts = new Date(now()).toISOString();
    const all = redact({ ...base, ...fields });
    if (opts.format === "json") return JSON.stringify({ ts, level, msg, ...all });
    const kv = Object.entries(all).map(([k, v]) => ` ${k}=${pretty(v)}`).join("");
    return `${ts} ${level.toUpperCase().padEnd(5)} ${msg}${kv}`;
  };
  let dropped = 0;
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    if (dropped > 0 && write(format("warn", "log: lines dropped while stderr was not read", { dropped })) !== false) dropped = 0;
    if (write(format(level, msg, fields)) === false) dropped++;
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** Fields whose names say they hold a secret are never written, whoever passes them. */
const SECRET_FIELD = /token|authorization|cookie|secret|password/i;

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(fields)) if (SECRET_FIELD.test(k)) fields[k] = "[redacted]";
  return fields;
}

function pretty(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}
