/**
 * The checker of hostile-nemesis.test.ts: README's "What roomy promises" as
 * pure functions over a run's history (hostile-nemesis-run.ts: every call,
 * when it was sent and answered, and what came back). No clock, no I/O, so
 * its own tests (hostile-nemesis-check.test.ts) feed it small histories.
 *
 * A write counts as acknowledged when it answered ok, as maybe-applied when
 * it may have taken effect unseen (no answer, `unavailable`, `internal`, a
 * 5xx; unless `no_effect`), and as nothing otherwise. A person's room and a
 * plate's presence are registers: a read may see the value of an
 * acknowledged write sent before the read ended, unless that write was over
 * before another acknowledged write, itself over before the read began, was
 * sent; the value of any maybe-applied write sent before the read ended; or
 * the initial value if no acknowledged write was over before the read. Old
 * maybe-applied writes stay allowed because README says an `unavailable`
 * write may take effect later, even after a later write of the same person
 * or car: a read explained only that way is noted, not failed. At the end,
 * after every node is back: every node's last dump and lot are equal, and a
 * person whose last acknowledged write has no write after or overlapping it
 * is exactly where that write put them.
 */

export interface Spec {
  nodes: string[];
  rooms: string[];
  /** The rooms created with a capacity, and it. */
  capacity: Record<string, number>;
  people: string[];
  plates: string[];
  /** The lot's spaces (`--spaces`). */
  spaces: number;
  /** Epoch ms of time 0 of the ops' `start` and `end` (only for printing). */
  origin: number;
}

interface OpBase {
  id: number;
  /** `setup` (room creation), `final` (the reads after the heal), `meta`, or a load client `c<i>`. */
  client: string;
  node: string;
  /** ms since `Spec.origin`: sent and answered (or given up). */
  start: number;
  end: number;
  /** `ok`, the node's error code, `http_<status>`, `timeout` or `network`. */
  code: string;
  status: number | null;
  noEffect: boolean;
  msg: string;
  body: unknown;
}

/** What each kind of call asked for. */
export interface Requests {
  create: { rooms: string[]; capacity: number | null };
  walk: { room: string; people: string[] };
  leave: { people: string[] };
  who: { room: string };
  where: { person: string };
  park: { plate: string; gate: number };
  unpark: { plate: string; gate: number };
  dump: Record<string, never>;
  rooms: Record<string, never>;
  lot: Record<string, never>;
  consensus: Record<string, never>;
}
export type Kind = keyof Requests;
export type Op = { [K in Kind]: OpBase & { kind: K; req: Requests[K] } }[Kind];

export interface History {
  spec: Spec;
  ops: Op[];
  /** Every node answered /readyz within the heal deadline after the faults stopped. */
  healed: boolean;
}

export interface Verdict {
  violations: string[];
  /** Reads explained only by a maybe-applied write abandoned before a later acknowledgement; soft refusals. */
  notes: string[];
  /** kind -> code -> how many. */
  counts: Record<string, Record<string, number>>;
  checkedReads: number;
  /** People whose final room the strict final rule pinned. */
  strictFinal: number;
}

type Dump = Record<string, string[]>;
interface Lot {
  spaces: number;
  occupied: number;
  available: number;
  vehicles: Record<string, unknown>;
}

export const SETUP = "setup";
export const FINAL = "final";
export const META = "meta";

/** May have taken effect although not acknowledged. */
export const maybeApplied = (o: Pick<OpBase, "code" | "noEffect">): boolean =>
  !o.noEffect && (o.code === "unavailable" || o.code === "timeout" || o.code === "network" || o.code === "internal" || /^http_5/.test(o.code));

/** Refusals the load runs into on purpose (or that fault windows cause): anything else is a wrong answer. */
const EXPECTED_REFUSALS = new Set(["room_full", "lot_full", "not_parked", "unavailable", "network"]);
const READS = new Set(["dump", "who", "where", "rooms", "lot"]);

/** One write of a register: a person's room ("" = none) or a plate's presence ("in" / "out"). */
export interface Write {
  id: number;
  start: number;
  end: number;
  v: string;
  ok: boolean;
  node: string;
  code: string;
}
const NO_ROOM = "";
const OUT = "out";
const IN = "in";

/**
 * Values the register may hold at some instant of [s, e]. strict: a
 * maybe-applied write abandoned before the last acknowledged write (ending
 * before s) started is no candidate. `exclude`: an op's own write.
 */
export function possible(ws: readonly Write[], init: string, s: number, e: number, strict: boolean, exclude = -1): Set<string> {
  let m = -Infinity;
  for (const w of ws) if (w.ok && w.end < s && w.id !== exclude && w.start > m) m = w.start;
  const out = new Set<string>();
  if (m === -Infinity) out.add(init);
  for (const w of ws) {
    if (w.id === exclude || w.start >= e) continue;
    if (w.ok ? w.end >= m : !strict || w.end >= m) out.add(w.v);
  }
  return out;
}

/** Every acknowledged or maybe-applied write, per person and per plate, in history order. */
export function registers(spec: Spec, ops: readonly Op[]): { people: Map<string, Write[]>; plates: Map<string, Write[]> } {
  const people = new Map<string, Write[]>(spec.people.map((p) => [p, []]));
  const plates = new Map<string, Write[]>(spec.plates.map((p) => [p, []]));
  const at = <K>(m: Map<K, Write[]>, k: K): Write[] => {
    let l = m.get(k);
    if (l === undefined) m.set(k, (l = []));
    return l;
  };
  for (const o of ops) {
    const ok = o.code === "ok";
    if (!ok && !maybeApplied(o)) continue;
    const w = (v: string): Write => ({ id: o.id, start: o.start, end: o.end, v, ok, node: o.node, code: o.code });
    if (o.kind === "walk") for (const p of o.req.people) at(people, p).push(w(o.req.room));
    else if (o.kind === "leave") for (const p of o.req.people) at(people, p).push(w(NO_ROOM));
    else if (o.kind === "park") at(plates, o.req.plate).push(w(IN));
    else if (o.kind === "unpark") at(plates, o.req.plate).push(w(OUT));
  }
  return { people, plates };
}

/** Checks a history; an empty `violations` is a pass. */
export function checkHistory(h: History): Verdict {
  const { spec, ops } = h;
  const stamp = (t: number): string => (Number.isFinite(t) ? new Date(spec.origin + t).toISOString().slice(11, 23) : "end");
  const head = (o: Op): string => `op#${o.id} ${o.client} ${o.kind}@${o.node} [${stamp(o.start)}-${stamp(o.end)}]`;
  const fmt = (ws: readonly Write[], e: number): string =>
    ws.filter((w) => w.start < e + 1).slice(-6).map((w) => `#${w.id}@${w.node}[${stamp(w.start)}-${stamp(w.end)}]${w.code}->${w.v || "none"}`).join(" ");
  const show = (s: Set<string>): string => [...s].map((x) => x || "none").join(",");
  const violations: string[] = [];
  const notes: string[] = [];
  const bad = (rule: string, detail: string): void => void violations.push(`${rule}: ${detail}`);
  const note = (rule: string, detail: string): void => void notes.push(`${rule}: ${detail}`);
  const roomSet = new Set(spec.rooms);
  const cap = (r: string): number | undefined => spec.capacity[r];
  const reg = registers(spec, ops);
  const pw = (p: string): Write[] => reg.people.get(p) ?? [];
  const cw = (pl: string): Write[] => reg.plates.get(pl) ?? [];

  const checkPerson = (o: Op, p: string, seen: string, via: string): void => {
    const ws = pw(p);
    const may = possible(ws, NO_ROOM, o.start, o.end, false);
    if (!may.has(seen)) return bad(`stale or wrong read (${via})`, `${head(o)} ${p} seen in ${seen || "no room"}, allowed {${show(may)}}; writes: ${fmt(ws, o.end)}`);
    if (!possible(ws, NO_ROOM, o.start, o.end, true).has(seen)) note(`read explained only by an abandoned maybe-applied write (${via})`, `${head(o)} ${p} seen in ${seen || "none"}; writes: ${fmt(ws, o.end)}`);
  };
  const checkPlate = (o: Op, plate: string, seen: string): void => {
    const ws = cw(plate);
    const may = possible(ws, OUT, o.start, o.end, false);
    if (!may.has(seen)) return bad("lot read not linearizable", `${head(o)} ${plate} seen ${seen}, allowed {${show(may)}}; writes: ${fmt(ws, o.end)}`);
    if (!possible(ws, OUT, o.start, o.end, true).has(seen)) note("lot read explained only by an abandoned maybe-applied write", `${head(o)} ${plate} seen ${seen}; writes: ${fmt(ws, o.end)}`);
  };
  const surelyIn = (pl: string, o: Op): boolean => {
    const may = possible(cw(pl), OUT, o.start, o.end, false);
    return may.size === 1 && may.has(IN);
  };

  const counts: Record<string, Record<string, number>> = {};
  let checkedReads = 0;
  for (const o of ops) {
    const c = (counts[o.kind] ??= {});
    c[o.code] = (c[o.code] ?? 0) + 1;
    if (o.client === SETUP || o.client === META) continue;
    if (o.code === "unknown_room") bad("unknown_room for a created room", `${head(o)} ${JSON.stringify(o.req)} ${o.msg}`);
    if (o.code === "internal" || (/^http_5/.test(o.code) && o.code !== "http_503")) bad("internal error", `${head(o)} ${o.code} ${o.msg}`);
    else if (o.code !== "ok" && !maybeApplied(o) && !EXPECTED_REFUSALS.has(o.code) && o.code !== "unknown_room") bad("unexpected error code", `${head(o)} ${o.code} ${o.msg}`);
    if (o.code === "ok" && READS.has(o.kind)) checkedReads++;

    switch (o.kind) {
      case "dump": {
        if (o.code !== "ok") break;
        const d = o.body as Dump;
        const missing = spec.rooms.filter((r) => !(r in d));
        if (missing.length > 0) bad("dump missing a created room", `${head(o)} missing ${missing.join(",")}`);
        const extra = Object.keys(d).filter((r) => !roomSet.has(r));
        if (extra.length > 0) bad("dump has a room never created", `${head(o)} ${extra.join(",")}`);
        const where = new Map<string, string>();
        for (const [r, ps] of Object.entries(d)) {
          const k = cap(r);
          if (k !== undefined && ps.length > k) bad("room over capacity", `${head(o)} ${r} holds ${ps.length} > ${k}: ${ps.join(",")}`);
          for (const p of ps) {
            if (where.has(p)) bad("person in two rooms", `${head(o)} ${p} in ${where.get(p)} and ${r}`);
            where.set(p, r);
          }
        }
        for (const p of spec.people) checkPerson(o, p, where.get(p) ?? NO_ROOM, "dump");
        break;
      }
      case "rooms": {
        if (o.code !== "ok") break;
        const listed = new Set(o.body as string[]);
        const missing = spec.rooms.filter((r) => !listed.has(r));
        if (missing.length > 0) bad("room list missing a created room", `${head(o)} missing ${missing.join(",")}`);
        break;
      }
      case "who": {
        if (o.code !== "ok") break;
        const r = o.req.room;
        const ps = new Set(o.body as string[]);
        const k = cap(r);
        if (k !== undefined && ps.size > k) bad("room over capacity", `${head(o)} ${r} holds ${ps.size} > ${k}`);
        for (const p of spec.people) {
          if (ps.has(p)) checkPerson(o, p, r, "who-is-in");
          else {
            const may = possible(pw(p), NO_ROOM, o.start, o.end, false);
            if (may.size === 1 && may.has(r)) bad("stale or wrong read (who-is-in, missing)", `${head(o)} ${p} not in ${r}, but must be; writes: ${fmt(pw(p), o.end)}`);
          }
        }
        break;
      }
      case "where":
        if (o.code === "ok") checkPerson(o, o.req.person, (o.body as { room: string | null }).room ?? NO_ROOM, "where-is");
        break;
      case "lot": {
        if (o.code !== "ok") break;
        const b = o.body as Lot;
        const n = Object.keys(b.vehicles).length;
        if (n > spec.spaces || b.occupied !== n || b.spaces !== spec.spaces) bad("lot over its spaces or inconsistent", `${head(o)} vehicles=${n} occupied=${b.occupied} spaces=${b.spaces}`);
        for (const pl of spec.plates) checkPlate(o, pl, pl in b.vehicles ? IN : OUT);
        break;
      }
      case "park": {
        const plate = o.req.plate;
        if (o.code === "ok" && !possible(cw(plate), OUT, o.start, o.end, false, o.id).has(IN)) {
          // An overfill: this plate surely out, and `spaces` others surely in all along.
          const sure = spec.plates.filter((pl) => pl !== plate && surelyIn(pl, o));
          if (sure.length >= spec.spaces) bad("park acknowledged while the lot was full", `${head(o)} ${plate}; surely parked: ${sure.join(",")}`);
        }
        if (o.code === "lot_full") {
          const maybe = spec.plates.filter((pl) => pl !== plate && possible(cw(pl), OUT, o.start, o.end, false).has(IN));
          if (maybe.length < spec.spaces) bad("lot_full while the lot cannot be full", `${head(o)} ${plate}; at most ${maybe.length} others parked`);
        }
        break;
      }
      case "unpark":
        if (o.code === "not_parked" && !possible(cw(o.req.plate), OUT, o.start, o.end, false).has(OUT)) bad("not_parked for a plate surely parked", `${head(o)} ${o.req.plate}; writes: ${fmt(cw(o.req.plate), o.end)}`);
        break;
      case "walk": {
        if (o.code !== "room_full") break;
        const r = o.req.room;
        const k = cap(r);
        if (k === undefined) {
          bad("room_full for a room without a capacity", head(o));
          break;
        }
        // Soft: the history can only bound who may have been in the room.
        const listed = new Set(o.req.people);
        const others = spec.people.filter((p) => !listed.has(p) && possible(pw(p), NO_ROOM, o.start, o.end, false).has(r)).length;
        if (others + listed.size <= k) note("room_full although the history leaves room", `${head(o)} ${r} cap ${k}: at most ${others} others + ${listed.size} walking in`);
        break;
      }
    }
  }

  const strictFinal = checkFinal(h, pw, bad, head, fmt);
  return { violations, notes, counts, checkedReads, strictFinal };
}

/** The rules for after the heal; returns how many people the strict final rule pinned. */
function checkFinal(
  h: History,
  pw: (p: string) => Write[],
  bad: (rule: string, detail: string) => void,
  head: (o: Op) => string,
  fmt: (ws: readonly Write[], e: number) => string,
): number {
  const { spec, ops } = h;
  if (!h.healed) bad("not every node ready after the faults stopped", "see the nemesis log");
  const lastDump = new Map<string, Dump>();
  const lastLot = new Map<string, Lot>();
  for (const o of ops) {
    if (o.client !== FINAL) continue;
    if (o.code !== "ok") {
      bad("final read failed (after the heal)", `${head(o)} ${o.code} ${o.msg}`);
      continue;
    }
    if (o.kind === "dump") lastDump.set(o.node, o.body as Dump);
    if (o.kind === "lot") lastLot.set(o.node, o.body as Lot);
  }
  for (const n of spec.nodes) if (!lastDump.has(n) || !lastLot.has(n)) bad("no final dump and lot (after the heal)", n);
  // Sorted: equal content is equal whatever order a node lists it in.
  const norm = (d: Dump): string => JSON.stringify(Object.keys(d).sort().map((r) => [r, [...d[r]!].sort()]));
  if (new Set([...lastDump.values()].map(norm)).size > 1) bad("final dumps differ between nodes", [...lastDump.keys()].join(","));
  if (new Set([...lastLot.values()].map((l) => JSON.stringify(Object.keys(l.vehicles).sort()))).size > 1) bad("final lots differ between nodes", [...lastLot.keys()].join(","));

  const fd = lastDump.values().next().value;
  if (fd === undefined) return 0;
  const where = new Map<string, string>();
  for (const [r, ps] of Object.entries(fd)) for (const p of ps) where.set(p, r);
  let pinned = 0;
  for (const p of spec.people) {
    const ws = pw(p);
    if (ws.length === 0) {
      if (where.has(p)) bad("in a room at the end without ever walking in", `${p} in ${where.get(p)}`);
      continue;
    }
    const last = ws.filter((w) => w.ok).sort((a, b) => a.end - b.end).at(-1);
    if (last === undefined || ws.some((w) => w !== last && w.end >= last.start)) continue;
    pinned++;
    if ((where.get(p) ?? NO_ROOM) !== last.v) bad("acknowledged last write lost at the end", `${p} in ${where.get(p) ?? "no room"}, last acknowledged #${last.id}->${last.v || "no room"}; writes: ${fmt(ws, Infinity)}`);
  }
  return pinned;
}

/** The violations of a history (empty: it keeps roomy's promises). */
export const violations = (h: History): string[] => checkHistory(h).violations;
