/**
 * What the churn of hostile-churn.test.ts was told, person by person, and
 * the checks of answers against it. Each person is driven by one client, one
 * operation at a time, so the last acknowledged operation is the truth; an
 * operation whose outcome is unknown (`unavailable` without `no_effect`, no
 * answer, `internal`) may have taken effect, so until a later acknowledged
 * one the person may be where it would have put them (README, "Known
 * limits": `unavailable` means "not known to have happened").
 *
 * Rooms and people are numbers (`r<i>`, `p<i>`, walk-load.ts); OUT is "in no
 * room" (never walked in, or left).
 */
import type { Ledger } from "../support/walk-load.ts";

export const OUT = -1;

/** How an operation ended: acknowledged, refused with a definite answer (no effect), or unknown. */
export type Ending = "ok" | "refused" | "maybe";

export class ChurnLedger {
  /** the room of the last acknowledged operation (OUT: left or never in) */
  readonly acked: Int32Array;
  /** rooms (or OUT) of operations with an unknown outcome since the last acknowledged one */
  readonly maybe = new Map<number, number[]>();
  readonly busy: Uint8Array;
  /** performance.now() when the person's last operation ended (answered) */
  readonly lastDone: Float64Array;
  /** acknowledged occupants of each room */
  readonly inRoom = new Map<number, Set<number>>();

  constructor(readonly people: number, readonly capacityOf: (room: number) => number) {
    this.acked = new Int32Array(people).fill(OUT);
    this.busy = new Uint8Array(people);
    this.lastDone = new Float64Array(people);
  }

  /** Takes over what the walk-in load's Ledger recorded (each person walked in at most once). */
  static from(l: Ledger, capacityOf: (room: number) => number): ChurnLedger {
    const c = new ChurnLedger(l.people, capacityOf);
    for (let p = 0; p < l.people; p++) if (l.acked[p]! >= 0) c.#place(p, l.acked[p]!);
    for (const [p, rooms] of l.maybe) if (l.acked[p] === -1) c.maybe.set(p, [...rooms]);
    return c;
  }

  #place(p: number, room: number): void {
    const old = this.acked[p]!;
    if (old !== OUT) this.inRoom.get(old)?.delete(p);
    this.acked[p] = room;
    if (room !== OUT) {
      let s = this.inRoom.get(room);
      if (s === undefined) this.inRoom.set(room, (s = new Set()));
      s.add(p);
    }
  }

  begin(p: number): void {
    if (this.busy[p] === 1) throw new Error(`p${p}: two operations at once (the test's own bug)`);
    this.busy[p] = 1;
  }

  /** `target`: the room walked into, or OUT for a leave. */
  end(p: number, target: number, how: Ending): void {
    this.busy[p] = 0;
    this.lastDone[p] = performance.now();
    if (how === "ok") {
      this.#place(p, target);
      this.maybe.delete(p);
    } else if (how === "maybe") {
      const m = this.maybe.get(p);
      if (m === undefined) this.maybe.set(p, [target]);
      else if (!m.includes(target)) m.push(target);
    }
  }

  /** Known for certain over a read sent at `sentAt` and checked now: nothing in flight, nothing since, nothing unknown. */
  stable(p: number, sentAt: number): boolean {
    return this.busy[p] === 0 && this.lastDone[p]! < sentAt && !this.maybe.has(p);
  }

  /** Rooms (or OUT) the person may be in now. */
  allowed(p: number): number[] {
    return [this.acked[p]!, ...(this.maybe.get(p) ?? [])];
  }

  /** Upper bound of a room's occupants: acknowledged, plus everyone an unknown operation may have put there. */
  mostIn(room: number): number {
    let n = this.inRoom.get(room)?.size ?? 0;
    for (const [p, rooms] of this.maybe) if (this.acked[p] !== room && rooms.includes(room)) n++;
    return n;
  }

  /** A where-is answer (room name or null) for a read sent at `sentAt`: a problem, or null. */
  checkWhereIs(p: number, sentAt: number, room: string | null): string | null {
    if (!this.stable(p, sentAt)) return null;
    const want = this.acked[p]!;
    const got = room === null ? OUT : roomIndex(room);
    return got === want ? null : `where-is p${p}: ${room ?? "null"}, acknowledged ${want === OUT ? "out" : `r${want}`}`;
  }

  /** A who-is-in answer for a read sent at `sentAt`: problems (a stable person listed wrongly or missing, over capacity). */
  checkWhoIsIn(room: number, sentAt: number, names: string[]): string[] {
    const out: string[] = [];
    const listed = new Set<number>();
    for (const n of names) {
      const p = personIndex(n);
      if (p < 0 || p >= this.people) {
        out.push(`who-is-in r${room} lists ${n}, no such person`);
        continue;
      }
      listed.add(p);
      if (this.stable(p, sentAt) && this.acked[p] !== room) out.push(`who-is-in r${room} lists p${p}, acknowledged ${this.acked[p] === OUT ? "out" : `in r${this.acked[p]}`}`);
    }
    for (const p of this.inRoom.get(room) ?? []) {
      if (!listed.has(p) && this.stable(p, sentAt)) out.push(`who-is-in r${room} lacks p${p}, acknowledged there`);
    }
    if (names.length > this.capacityOf(room)) out.push(`who-is-in r${room}: ${names.length} people, capacity ${this.capacityOf(room)}`);
    return out;
  }

  /**
   * A dump against the ledger: every person where allowed, nobody twice, no
   * room over capacity or missing. With `sentAt` (a dump taken during the
   * churn), only people settled before it was sent are placed.
   */
  checkDump(text: string, created: Uint8Array, sentAt?: number): ChurnDumpCheck {
    const dump = JSON.parse(text) as Record<string, string[]>;
    const at = new Int32Array(this.people).fill(OUT);
    const c: ChurnDumpCheck = { rooms: 0, people: 0, duplicated: 0, misplaced: 0, unexpected: 0, overCapacity: 0, roomsMissing: 0, ok: true, examples: [] };
    const note = (s: string): void => {
      if (c.examples.length < 8) c.examples.push(s);
    };
    const seenRoom = new Uint8Array(created.length);
    for (const [name, names] of Object.entries(dump)) {
      c.rooms++;
      const r = roomIndex(name);
      if (r >= 0 && r < created.length) seenRoom[r] = 1;
      if (names.length > this.capacityOf(r)) {
        c.overCapacity++;
        note(`${name}: ${names.length} people, capacity ${this.capacityOf(r)}`);
      }
      for (const n of names) {
        c.people++;
        const p = personIndex(n);
        if (p < 0 || p >= this.people) {
          c.unexpected++;
          note(`${n} (no such person) in ${name}`);
          continue;
        }
        if (at[p] !== OUT) {
          c.duplicated++;
          note(`p${p} in r${at[p]} and ${name}`);
        }
        at[p] = r;
      }
    }
    for (let p = 0; p < this.people; p++) {
      if (sentAt !== undefined && !this.stable(p, sentAt)) continue;
      const ok = this.allowed(p);
      if (ok.includes(at[p]!)) continue;
      c.misplaced++;
      note(`p${p} in ${at[p] === OUT ? "no room" : `r${at[p]}`}, acknowledged ${this.acked[p] === OUT ? "out" : `in r${this.acked[p]}`}${ok.length > 1 ? ` (unknown outcomes: ${ok.slice(1).map((r) => (r === OUT ? "out" : `r${r}`)).join(",")})` : ""}`);
    }
    for (let r = 0; r < created.length; r++) {
      if (created[r] === 1 && seenRoom[r] === 0) {
        c.roomsMissing++;
        note(`r${r} created, not in the dump`);
      }
    }
    c.ok = c.duplicated + c.misplaced + c.unexpected + c.overCapacity + c.roomsMissing === 0;
    return c;
  }
}

export interface ChurnDumpCheck {
  rooms: number;
  people: number;
  duplicated: number;
  /** not in the room of their last acknowledged operation nor of a later unknown one */
  misplaced: number;
  unexpected: number;
  overCapacity: number;
  roomsMissing: number;
  ok: boolean;
  examples: string[];
}

const roomIndex = (name: string): number => (name[0] === "r" ? Number(name.slice(1)) : -2);
const personIndex = (name: string): number => (name[0] === "p" ? Number(name.slice(1)) : -2);
