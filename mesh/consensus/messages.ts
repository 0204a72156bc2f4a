/**
 * Messages between Raft cores, and their validation. A message off the wire
 * that does not have this shape is malformed: the driver drops it and closes
 * the connection it came on, as the mesh does for bad frames.
 *
 * Entries travel as [term, kind, data] triples; their index is implied by
 * the append's `prev` (prev + 1 + position), so it cannot disagree.
 */
import type { Configuration, LogEntry, EntryKind, ServerId } from "./types.ts";

export type RaftMsg =
  /** (pre-)vote request; `force` comes from a leadership transfer and ignores the lease */
  | { t: "rv"; term: number; pre: boolean; lastIndex: number; lastTerm: number; force: boolean }
  | { t: "rvr"; term: number; pre: boolean; granted: boolean }
  | { t: "ae"; term: number; prev: number; prevTerm: number; entries: WireEntry[]; commit: number }
  /** ok: `index` is the follower's match; not ok: a hint where to retry from */
  | { t: "aer"; term: number; ok: boolean; index: number }
  | { t: "hb"; term: number; commit: number; seq: number }
  | { t: "hbr"; term: number; seq: number }
  /** one chunk of a snapshot */
  | { t: "is"; term: number; index: number; snapTerm: number; config: Configuration; offset: number; size: number; chunk: Uint8Array }
  /** the receiver holds `offset` bytes of the snapshot at `index` */
  | { t: "isr"; term: number; index: number; offset: number }
  /** leadership transfer: campaign now */
  | { t: "tn"; term: number }
  /** a read index asked of the leader, and its answer (index -1: refused) */
  | { t: "ri"; term: number; ctx: number }
  | { t: "rir"; term: number; ctx: number; index: number };

export type WireEntry = [number, EntryKind, unknown];

export interface Outbound {
  to: ServerId;
  msg: RaftMsg;
}

export function toWire(e: LogEntry): WireEntry {
  return [e.term, e.kind, e.data];
}

export function fromWire(w: WireEntry, index: number): LogEntry {
  return { term: w[0], index, kind: w[1], data: w[2] };
}

const nat = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const bool = (v: unknown): v is boolean => typeof v === "boolean";

function isServers(v: unknown): boolean {
  if (!Array.isArray(v) || v.length > 1000) return false;
  for (const s of v) {
    if (typeof s !== "object" || s === null) return false;
    const r = s as Record<string, unknown>;
    if (typeof r["id"] !== "string" || typeof r["name"] !== "string" || typeof r["address"] !== "string") return false;
  }
  return true;
}

export function isConfiguration(v: unknown): v is Configuration {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  const optNat = (x: unknown): boolean => x === undefined || nat(x);
  const optNames = (x: unknown): boolean => x === undefined || (Array.isArray(x) && x.every((n) => typeof n === "string"));
  return nat(r["epoch"]) && optNat(r["placed"]) && optNat(r["prevPlaced"]) && optNames(r["prevHolders"]) && isServers(r["voters"]) && isServers(r["learners"]);
}

function isWireEntries(v: unknown): v is WireEntry[] {
  if (!Array.isArray(v)) return false;
  for (const e of v) {
    if (!Array.isArray(e) || e.length !== 3 || !nat(e[0]) || (e[1] !== 0 && e[1] !== 1 && e[1] !== 2)) return false;
    if (e[1] === 2 && !isConfiguration(e[2])) return false;
  }
  return true;
}

/** The message, typed, or null when it is malformed. */
export function parseRaftMsg(v: unknown): RaftMsg | null {
  if (typeof v !== "object" || v === null) return null;
  const m = v as Record<string, unknown>;
  if (!nat(m["term"])) return null;
  switch (m["t"]) {
    case "rv":
      return bool(m["pre"]) && nat(m["lastIndex"]) && nat(m["lastTerm"]) && bool(m["force"]) ? (m as RaftMsg) : null;
    case "rvr":
      return bool(m["pre"]) && bool(m["granted"]) ? (m as RaftMsg) : null;
    case "ae":
      return nat(m["prev"]) && nat(m["prevTerm"]) && nat(m["commit"]) && isWireEntries(m["entries"]) ? (m as RaftMsg) : null;
    case "aer":
      return bool(m["ok"]) && nat(m["index"]) ? (m as RaftMsg) : null;
    case "hb":
      return nat(m["commit"]) && nat(m["seq"]) ? (m as RaftMsg) : null;
    case "hbr":
      return nat(m["seq"]) ? (m as RaftMsg) : null;
    case "is":
      return nat(m["index"]) && nat(m["snapTerm"]) && isConfiguration(m["config"]) && nat(m["offset"]) && nat(m["size"]) &&
          m["chunk"] instanceof Uint8Array && m["offset"] + m["chunk"].length <= m["size"]
        ? (m as RaftMsg)
        : null;
    case "isr":
      return nat(m["index"]) && nat(m["offset"]) ? (m as RaftMsg) : null;
    case "tn":
      return m as RaftMsg;
    case "ri":
      return nat(m["ctx"]) ? (m as RaftMsg) : null;
    case "rir":
      return nat(m["ctx"]) && typeof m["index"] === "number" && Number.isSafeInteger(m["index"]) && m["index"] >= -1 ? (m as RaftMsg) : null;
    default:
      return null;
  }
}
