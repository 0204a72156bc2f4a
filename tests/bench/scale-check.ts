/**
 * Dumps of the scale benchmark and test: GET /v1/dump timed, dumps compared
 * across nodes (their text: keys and lists are sorted, so equal states give
 * equal text), and one checked against the Ledger of what every walk answered.
 */
import type { Ledger } from "../support/walk-load.ts";

export interface Dump {
  url: string;
  ms: number;
  /** the body, when the node answered 200 */
  text?: string;
  error?: string;
}

export async function takeDump(url: string, timeoutMs = 120_000): Promise<Dump> {
  const t = performance.now();
  try {
    const res = await fetch(`${url}/v1/dump`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    const ms = performance.now() - t;
    return res.ok ? { url, ms, text } : { url, ms, error: `HTTP ${res.status} ${text.slice(0, 200)}` };
  } catch (err) {
    return { url, ms: performance.now() - t, error: String(err) };
  }
}

/** Are all these dumps one and the same state? When not, how many rooms differ (and a few of them). */
export function compareDumps(texts: string[]): { equal: boolean; detail: string } {
  if (texts.every((t) => t === texts[0])) return { equal: true, detail: "equal" };
  const parsed = texts.map((t) => JSON.parse(t) as Record<string, string[]>);
  const rooms = new Set(parsed.flatMap((d) => Object.keys(d)));
  const differ: string[] = [];
  for (const r of rooms) {
    const lists = parsed.map((d) => JSON.stringify(d[r] ?? null));
    if (lists.some((l) => l !== lists[0])) differ.push(r);
  }
  const sizes = parsed.map((d) => Object.keys(d).length).join("/");
  return { equal: false, detail: `${differ.length} of ${rooms.size} rooms differ (rooms per dump ${sizes}; e.g. ${differ.slice(0, 3).join(", ")})` };
}

export interface DumpCheck {
  rooms: number;
  people: number;
  /** a person listed in two rooms */
  duplicated: number;
  /** acknowledged in a room (last), found nowhere and not in a room of an unanswered walk */
  missing: number;
  /** found in a room neither their last acknowledged walk nor an unanswered one named */
  misplaced: number;
  /** a name no walk sent (or only refused walks) */
  unexpected: number;
  /** rooms created but absent from the dump */
  roomsMissing: number;
  ok: boolean;
  examples: string[];
}

/** Every acknowledged person exactly once, in the room of their last acknowledged walk (or of one whose answer never came). */
export function checkDump(text: string, ledger: Ledger, created: Uint8Array): DumpCheck {
  const dump = JSON.parse(text) as Record<string, string[]>;
  const seen = new Int32Array(ledger.people).fill(-1);
  const examples: string[] = [];
  const note = (s: string) => {
    if (examples.length < 5) examples.push(s);
  };
  let rooms = 0;
  let people = 0;
  let duplicated = 0;
  let unexpected = 0;
  const roomSeen = new Uint8Array(created.length);
  for (const [room, names] of Object.entries(dump)) {
    rooms++;
    const r = Number(room.slice(1));
    if (room[0] === "r" && Number.isInteger(r) && r >= 0 && r < created.length) roomSeen[r] = 1;
    for (const name of names) {
      people++;
      const p = Number(name.slice(1));
      if (name[0] !== "p" || !Number.isInteger(p) || p < 0 || p >= ledger.people) {
        unexpected++;
        note(`${name} (no such person) in ${room}`);
        continue;
      }
      if (seen[p] !== -1) {
        duplicated++;
        note(`${name} in r${seen[p]} and ${room}`);
      }
      seen[p] = r;
    }
  }
  let missing = 0;
  let misplaced = 0;
  for (let p = 0; p < ledger.people; p++) {
    const at = seen[p]!;
    const acked = ledger.acked[p]!;
    if (at === acked) continue;
    const maybe = ledger.maybe.get(p);
    if (maybe !== undefined && (at === -1 ? acked === -1 : maybe.includes(at))) continue;
    if (at === -1) {
      missing++;
      note(`p${p} acknowledged in r${acked}, in no room`);
    } else if (acked === -1 && maybe === undefined) {
      unexpected++;
      note(`p${p} in r${at}, no walk of theirs was acknowledged or unanswered`);
    } else {
      misplaced++;
      note(`p${p} in r${at}, acknowledged last in r${acked}${maybe === undefined ? "" : ` (unanswered: ${maybe.map((m) => `r${m}`).join(",")})`}`);
    }
  }
  let roomsMissing = 0;
  for (let r = 0; r < created.length; r++) {
    if (created[r] === 1 && roomSeen[r] === 0) {
      roomsMissing++;
      note(`room r${r} created, not in the dump`);
    }
  }
  const ok = duplicated + missing + misplaced + unexpected + roomsMissing === 0;
  return { rooms, people, duplicated, missing, misplaced, unexpected, roomsMissing, ok, examples };
}
