/**
 * The partition tests' checks, over the recorded operations (netns-load.ts)
 * and every node's final dump. Each returns its violations, one readable
 * line each ("p17: last acknowledged walk-into cap-3 ..."): an empty list is
 * a pass. None of them looks at timing except where the promise is about
 * time (the minority's writes during the cut; how soon names are served).
 */
import type { Op, RoomSpec } from "./netns-load.ts";

export interface Run {
  rooms: readonly RoomSpec[];
  ops: readonly Op[];
  /** Every person a write named. */
  people: readonly string[];
  nodeNames: readonly string[];
  /** Date.now() once the cut was in place, and just before the heal began. */
  tCut: number;
  tHeal: number;
  /** Each node's GET /v1/dump after the heal (null: it never answered 200). */
  finalDumps: ReadonlyMap<string, Record<string, string[]> | null>;
  /** One node's raw map after the heal (GET /v1/crdt entries), for the evidence of a lost write; null if unread. */
  crdt: Readonly<Record<string, CrdtEntry>> | null;
  /** Node id (in stamps) -> node name. */
  nodeIds: ReadonlyMap<string, string>;
}

export interface CrdtEntry {
  v?: unknown;
  d?: true;
  ts: { w: number; c: number; n: string };
}

/** Answers that say nothing was written (the node refused before writing). */
const REFUSED = new Set(["room_full", "unknown_room", "bad_request", "invalid_name"]);
/** No answer at all: the request may still be applied later than anything after it. */
const NO_ANSWER = new Set(["timeout", "network"]);

const rel = (run: Run, t: number): string => {
  const s = (t - run.tCut) / 1000;
  return `${s >= 0 ? "+" : ""}${s.toFixed(1)} s from the cut`;
};
const at = (run: Run, op: Op): string => `via ${run.nodeNames[op.node]} at ${rel(run, op.start)}`;
const target = (op: Op): string | null => (op.kind === "walk" ? op.room! : null);
const describeWrite = (op: Op): string => (op.kind === "walk" ? `walk-into ${op.room}` : "leave");

/** person -> rooms listing them, in one dump. */
function placesIn(dump: Record<string, string[]>): Map<string, string[]> {
  const where = new Map<string, string[]>();
  for (const [room, people] of Object.entries(dump)) {
    if (!Array.isArray(people)) continue;
    for (const p of people) where.set(p, [...(where.get(p) ?? []), room]);
  }
  return where;
}

/**
 * No acknowledged write lost: in every node's final dump each person is where
 * their last acknowledged write put them (a room, or none after a leave), or
 * where a later write of theirs whose outcome is unknown (unavailable, no
 * answer) may have put them; a request that got no answer may land at any
 * time, so its target is allowed wherever it was sent.
 */
export function lostWrites(run: Run): string[] {
  const out: string[] = [];
  const byPerson = new Map<string, Op[]>();
  for (const op of run.ops) {
    if ((op.kind === "walk" || op.kind === "leave") && op.person !== undefined) byPerson.set(op.person, [...(byPerson.get(op.person) ?? []), op]);
  }
  for (const p of run.people) {
    const writes = (byPerson.get(p) ?? []).sort((a, b) => a.start - b.start);
    let last = -1;
    for (let j = 0; j < writes.length; j++) if (writes[j]!.code === "ok") last = j;
    if (last < 0) continue; // nothing acknowledged, nothing to lose
    const allowed = new Set<string | null>([target(writes[last]!)]);
    const unknown: Op[] = [];
    writes.forEach((w, j) => {
      if ((j > last && w.code !== "ok" && !REFUSED.has(w.code)) || (j < last && NO_ANSWER.has(w.code))) {
        allowed.add(target(w));
        unknown.push(w);
      }
    });
    const found = new Map<string, string[]>(); // where -> nodes
    for (const [node, dump] of run.finalDumps) {
      if (dump === null) continue;
      const rooms = placesIn(dump).get(p) ?? [];
      const here = rooms.length === 1 ? rooms[0]! : rooms.length === 0 ? null : `${rooms.join("+")}`;
      if (rooms.length <= 1 && allowed.has(here)) continue;
      const k = here ?? "no room";
      found.set(k, [...(found.get(k) ?? []), node]);
    }
    if (found.size === 0) continue;
    const lastOk = writes[last]!;
    const also = unknown.length === 0 ? "" : `; unknown outcomes allowed: ${unknown.map((w) => `${describeWrite(w)} (${w.code})`).join(", ")}`;
    const seen = [...found].map(([where, nodes]) => `in ${where} on ${nodes.join(",")}`).join("; ");
    const e = run.crdt?.[`person/${p}`];
    const stamp = e === undefined ? "" : `; its key holds ${e.d ? "a tombstone" : JSON.stringify(e.v)} stamped ${rel(run, e.ts.w)} by ${run.nodeIds.get(e.ts.n) ?? e.ts.n}`;
    out.push(`${p}: last acknowledged ${describeWrite(lastOk)} ${at(run, lastOk)}, answered ${rel(run, lastOk.end)}${also}; after heal ${seen}${stamp}`);
  }
  return out;
}

/** Every room was created before the load: `unknown_room` is a wrong answer wherever it comes from. */
export function unknownRooms(run: Run): string[] {
  return run.ops.filter((op) => op.code === "unknown_room").map((op) => `${op.kind} ${op.room ?? (op.rooms ?? []).join(",")} ${at(run, op)}: unknown_room (${op.message})`);
}

/** No answer (who-is-in, dump, final dump) shows a capacity room holding more than its capacity. */
export function overCapacity(run: Run): string[] {
  const caps = new Map(run.rooms.filter((r) => r.capacity !== null).map((r) => [r.name, r.capacity!]));
  const out: string[] = [];
  const checkDump = (dump: Record<string, string[]>, where: string): void => {
    for (const [room, cap] of caps) {
      const ps = dump[room];
      if (Array.isArray(ps) && ps.length > cap) out.push(`${where}: ${room} (capacity ${cap}) holds ${ps.length}: ${ps.join(",")}`);
    }
  };
  for (const op of run.ops) {
    if (op.code !== "ok") continue;
    if (op.kind === "who" && caps.has(op.room!) && Array.isArray(op.body) && op.body.length > caps.get(op.room!)!) {
      out.push(`who-is-in ${op.room} ${at(run, op)}: ${op.body.length} people (capacity ${caps.get(op.room!)}): ${op.body.join(",")}`);
    }
    if (op.kind === "dump" && isDump(op.body)) checkDump(op.body, `dump ${at(run, op)}`);
  }
  for (const [node, dump] of run.finalDumps) if (dump !== null) checkDump(dump, `final dump on ${node}`);
  return out;
}

/** No dump answer shows a person in two rooms. */
export function personInTwoRooms(run: Run): string[] {
  const out: string[] = [];
  const check = (dump: Record<string, string[]>, where: string): void => {
    for (const [p, rooms] of placesIn(dump)) if (rooms.length > 1) out.push(`${where}: ${p} in ${rooms.join(" and ")}`);
  };
  for (const op of run.ops) if (op.kind === "dump" && op.code === "ok" && isDump(op.body)) check(op.body, `dump ${at(run, op)}`);
  for (const [node, dump] of run.finalDumps) if (dump !== null) check(dump, `final dump on ${node}`);
  return out;
}

/** A dump answered 200 lists exactly the rooms asked for (every room when none is named), each with a list. */
export function incompleteDumps(run: Run): string[] {
  const all = run.rooms.map((r) => r.name).sort();
  const out: string[] = [];
  const check = (body: unknown, asked: string[], where: string): void => {
    const want = asked.length === 0 ? all : [...asked].sort();
    if (!isDump(body)) {
      out.push(`${where}: answered 200 with ${JSON.stringify(body).slice(0, 200)}`);
      return;
    }
    const got = Object.keys(body).sort();
    const missing = want.filter((r) => !got.includes(r));
    const extra = got.filter((r) => !want.includes(r));
    if (missing.length > 0 || extra.length > 0) out.push(`${where}: missing ${missing.join(",") || "-"}, unexpected ${extra.join(",") || "-"}`);
  };
  for (const op of run.ops) if (op.kind === "dump" && op.code === "ok") check(op.body, op.rooms ?? [], `dump ${at(run, op)}`);
  for (const [node, dump] of run.finalDumps) if (dump !== null) check(dump, [], `final dump on ${node}`);
  return out;
}

/**
 * Writes sent to a minority node once the cut was in place, and answered
 * before the heal began. None may be acknowledged (200): the write concern
 * cannot hold there. Once `leaseMs` has passed since the cut, the minority
 * cannot hold the registry's lease, so every write must answer `unavailable`
 * (a refusal such as room_full, a timeout or anything else is listed).
 * Inside the lease its owners may still refuse from their replica, as they
 * would without a cut: those answers are returned apart (`inLease`), for the
 * report, not as violations.
 */
export function minorityWrites(run: Run, minority: readonly number[], leaseMs: number): { violations: string[]; inLease: string[]; unavailable: number } {
  const out: string[] = [];
  const inLease: string[] = [];
  let unavailable = 0;
  for (const op of run.ops) {
    if ((op.kind !== "walk" && op.kind !== "leave") || !minority.includes(op.node) || op.start < run.tCut || op.end >= run.tHeal) continue;
    if (op.code === "unavailable") {
      unavailable++;
      continue;
    }
    const line = `${op.person}: ${describeWrite(op)} ${at(run, op)} answered ${op.status ?? "nothing"} ${op.code}${op.code === "ok" ? " (acknowledged by a minority)" : ` (${op.message.slice(0, 120)})`}`;
    if (op.code === "ok" || op.start >= run.tCut + leaseMs) out.push(line);
    else inLease.push(line);
  }
  return { violations: out, inLease, unavailable };
}

export interface ServeTimes {
  /** room -> ms from the cut to its first served probe sent after it (null: never before the heal). */
  firstServedMs: Map<string, number | null>;
  violations: string[];
}

/**
 * The side that must serve serves every name within `boundMs` of the cut:
 * each room's first probe sent after the cut that is served (ok, or
 * room_full: an answer from its owner) ends within the bound, and every
 * probe sent from the bound on (and answered before the heal) is served.
 */
export function servedWithin(run: Run, boundMs: number): ServeTimes {
  const firstServedMs = new Map<string, number | null>();
  const out: string[] = [];
  const served = (op: Op): boolean => op.code === "ok" || op.code === "room_full";
  for (const r of run.rooms) {
    const probes = run.ops.filter((op) => op.probe && op.room === r.name && op.start >= run.tCut && op.end < run.tHeal).sort((a, b) => a.start - b.start);
    const first = probes.find(served);
    const ms = first === undefined ? null : first.end - run.tCut;
    firstServedMs.set(r.name, ms);
    if (ms === null) out.push(`${r.name}: not served by the serving side at all before the heal (${probes.length} probes: ${tallyCodes(probes)})`);
    else if (ms > boundMs) out.push(`${r.name}: first served ${(ms / 1000).toFixed(1)} s after the cut (bound ${boundMs / 1000} s); before that: ${tallyCodes(probes.filter((p) => p.start < first!.start))}`);
    for (const op of probes) {
      if (op.start >= run.tCut + boundMs && !served(op)) out.push(`${r.name}: ${at(run, op)} answered ${op.code} past the bound (${op.message.slice(0, 120)})`);
    }
  }
  return { firstServedMs, violations: out };
}

/** Nodes whose final dumps differ from the first node's (or never answered). */
export function divergentDumps(run: Run): string[] {
  const entries = [...run.finalDumps];
  const out: string[] = [];
  for (const [node, d] of entries) if (d === null) out.push(`${node}: no complete dump (200) after the heal`);
  const ref = entries.find(([, d]) => d !== null);
  if (ref === undefined) return out;
  for (const [node, d] of entries) {
    if (d === null || node === ref[0]) continue;
    for (const room of new Set([...Object.keys(ref[1]!), ...Object.keys(d)])) {
      const a = JSON.stringify(ref[1]![room] ?? null);
      const b = JSON.stringify(d[room] ?? null);
      if (a !== b) out.push(`${room}: ${ref[0]} has ${a}, ${node} has ${b}`);
    }
  }
  return out;
}

function isDump(body: unknown): body is Record<string, string[]> {
  return typeof body === "object" && body !== null && !Array.isArray(body) && Object.values(body).every((v) => Array.isArray(v));
}

function tallyCodes(ops: readonly Op[]): string {
  const t = new Map<string, number>();
  for (const op of ops) t.set(op.code, (t.get(op.code) ?? 0) + 1);
  return [...t].map(([c, n]) => `${n} ${c}`).join(", ") || "none";
}
