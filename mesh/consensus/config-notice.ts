/**
 * Telling a member that a committed configuration left it out. Raft stops
 * replicating to a server as soon as the leader appends the configuration
 * without it, so a removed server would never learn its removal from the
 * log; a draining node would wait forever to hand its names over. The
 * leader sends this notice to every live member outside its committed
 * configuration (after each change, and again every few ticks); a committed
 * configuration is a fact, so the receiver may act on it without the log.
 */
import type { Message } from "../types.ts";
import type { Configuration, Server } from "./types.ts";

export interface ConfigNotice {
  g: number;
  config: Configuration;
}

const wire = (s: Server): [string, string, string] => [s.id, s.name, s.address];

export function noticeMsg(from: string, generation: number, c: Configuration): Message {
  return { t: "cfg", f: from, g: generation, e: c.epoch, p: c.placed ?? c.epoch, pp: c.prevPlaced ?? 0, ph: c.prevHolders ?? [], v: c.voters.map(wire), l: c.learners.map(wire) };
}

function servers(x: unknown): Server[] | null {
  if (!Array.isArray(x)) return null;
  const out: Server[] = [];
  for (const s of x) {
    if (!Array.isArray(s) || s.length !== 3 || !s.every((p) => typeof p === "string")) return null;
    out.push({ id: s[0] as string, name: s[1] as string, address: s[2] as string });
  }
  return out;
}

/** The notice, or null when malformed. */
export function parseNotice(msg: Message): ConfigNotice | null {
  const g = msg["g"];
  const e = msg["e"];
  if (typeof g !== "number" || typeof e !== "number" || !Number.isInteger(e) || e < 1) return null;
  const voters = servers(msg["v"]);
  const learners = servers(msg["l"]);
  if (voters === null || learners === null) return null;
  const p = msg["p"] ?? e;
  const pp = msg["pp"] ?? 0;
  if (typeof p !== "number" || typeof pp !== "number" || !Number.isInteger(p) || !Number.isInteger(pp) || p > e || pp > p) return null;
  const ph = msg["ph"] ?? [];
  if (!Array.isArray(ph) || !ph.every((n) => typeof n === "string")) return null;
  return { g, config: { epoch: e, placed: p, prevPlaced: pp, prevHolders: ph as string[], voters, learners } };
}
