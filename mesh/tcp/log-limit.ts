/**
 * Warnings a stranger can cause at will (anyone who can reach the mesh port
 * can open connections that fail the handshake) are logged at most
 * PER_SECOND times a second each; the next one logged says how many were
 * left out meanwhile (`suppressed`). 242,000 garbage connections in 45 s
 * wrote as many lines (a probe on 54aae04).
 */
import type { Clock, Logger } from "../types.ts";

const PER_SECOND = 10;

export function limitedWarnings(log: Logger, clock: Clock, messages: readonly string[]): Logger {
  const seen = new Map<string, { second: number; count: number; suppressed: number }>();
  for (const m of messages) seen.set(m, { second: -1, count: 0, suppressed: 0 });
  return {
    debug: (msg, fields) => log.debug(msg, fields),
    info: (msg, fields) => log.info(msg, fields),
    error: (msg, fields) => log.error(msg, fields),
    warn(msg, fields) {
      const s = seen.get(msg);
      if (s === undefined) return log.warn(msg, fields);
      const second = Math.floor(clock.now() / 1000);
      if (second !== s.second) {
        s.second = second;
        s.count = 0;
      }
      if (++s.count > PER_SECOND) {
        s.suppressed++;
        return;
      }
      if (s.suppressed === 0) return log.warn(msg, fields);
      const suppressed = s.suppressed;
      s.suppressed = 0;
      log.warn(msg, { ...fields, suppressed });
    },
  };
}
