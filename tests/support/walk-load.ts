/**
 * The walk-into load of the scale benchmark, the scale test and the
 * partition tests: rooms created through POST /v1/rooms in batches, then
 * people walked in through POST /v1/walk-into by concurrent keep-alive
 * clients, round robin over the nodes, each request a few people into one
 * room. Rooms `r0..`, every tenth with a capacity; people `p0..`, distinct.
 * What each request answered is kept in a Ledger, against which a dump is
 * checked (tests/bench/scale-check.ts). Runs repeat: choices come from a
 * seeded PRNG.
 */
import { mulberry32 } from "./linearizability/model.ts";
import { request, sleep } from "./procs.ts";

/** What a request came back with: ok, a node's error code, or no answer (`network`, `timeout`). */
export type Outcome = { ok: true } | { ok: false; code: string; answered: boolean; message?: string };

export const roomName = (i: number): string => `r${i}`;
const personName = (i: number): string => `p${i}`;

/** POST (with a body) or GET; never throws (no answer is `network` or `timeout`). */
export async function call(url: string, body?: unknown, timeoutMs = 30_000): Promise<Outcome> {
  const r = await request(url, { body, timeoutMs, parse: false });
  return r.code === "ok" ? { ok: true } : { ok: false, code: r.code, answered: r.status !== null, message: r.message };
}

/** Outcomes that may or may not have taken effect (the caller cannot tell). */
export const uncertain = (o: Outcome): boolean => !o.ok && (!o.answered || o.code === "unavailable" || o.code === "internal");

/** A small seeded PRNG (mulberry32, the checker's), floats in [0, 1), so that runs are repeatable. */
export function seeded(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

export interface RoomsSpec {
  rooms: number;
  /** every `capEvery`-th room (index % capEvery === 0) has `capacity` seats; the rest none (0: no room has) */
  capEvery: number;
  capacity: number;
}

const capacityOf = (s: RoomsSpec, room: number): number => (s.capEvery > 0 && room % s.capEvery === 0 ? s.capacity : Infinity);

export interface RoomsResult {
  created: Uint8Array;
  createdCount: number;
  requests: number;
  ms: number;
  errors: Record<string, number>;
  capped: boolean;
}

/**
 * Creates the rooms in batches of `batch` (capacity rooms apart, in their own
 * batches), `clients` requests at a time, round robin over `urls`. A batch that
 * fails is tried again (another node) while `retry` and time remain; rooms
 * of a batch never acknowledged are left out of `created`.
 */
export async function createRooms(urls: string[], s: RoomsSpec, opts: { clients: number; batch: number; capMs: number; retry: boolean }): Promise<RoomsResult> {
  const batches: { rooms: number[]; capacity: number | null }[] = [];
  for (const capped of [true, false]) {
    let cur: number[] = [];
    for (let r = 0; r < s.rooms; r++) {
      if ((capacityOf(s, r) !== Infinity) !== capped) continue;
      cur.push(r);
      if (cur.length === opts.batch) {
        batches.push({ rooms: cur, capacity: capped ? s.capacity : null });
        cur = [];
      }
    }
    if (cur.length > 0) batches.push({ rooms: cur, capacity: capped ? s.capacity : null });
  }
  const created = new Uint8Array(s.rooms);
  const errors: Record<string, number> = {};
  const t0 = performance.now();
  const deadline = t0 + opts.capMs;
  let next = 0;
  let rr = 0;
  let requests = 0;
  let createdCount = 0;
  const queue = batches;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (performance.now() > deadline) return;
      const b = queue[next++];
      if (b === undefined) return;
      for (;;) {
        const url = urls[rr++ % urls.length]!;
        requests++;
        const o = await call(`${url}/v1/rooms`, { rooms: b.rooms.map(roomName), capacity: b.capacity });
        if (o.ok) {
          for (const r of b.rooms) created[r] = 1;
          createdCount += b.rooms.length;
          break;
        }
        errors[o.code] = (errors[o.code] ?? 0) + 1;
        if (!opts.retry || performance.now() > deadline) break;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, worker));
  return { created, createdCount, requests, ms: performance.now() - t0, errors, capped: createdCount < s.rooms };
}

/**
 * What every walk answered, person by person: the room of the last
 * acknowledged walk (-1: none), and the rooms of walks whose outcome is
 * unknown (no answer, `unavailable`): such a walk may have taken effect at
 * any time after it was sent, so the person may be in any of those rooms
 * (or nowhere, without an acknowledged walk).
 */
export class Ledger {
  readonly acked: Int32Array;
  readonly maybe = new Map<number, number[]>();
  /** walks refused with a definite answer (e.g. room_full): they took no effect */
  refusedPeople = 0;
  constructor(readonly people: number) {
    this.acked = new Int32Array(people).fill(-1);
  }
  record(people: number[], room: number, o: Outcome): void {
    if (o.ok) {
      for (const p of people) this.acked[p] = room;
    } else if (uncertain(o)) {
      for (const p of people) {
        const m = this.maybe.get(p);
        if (m === undefined) this.maybe.set(p, [room]);
        else m.push(room);
      }
    } else {
      this.refusedPeople += people.length;
    }
  }
  ackedCount(): number {
    let n = 0;
    for (let p = 0; p < this.people; p++) if (this.acked[p]! >= 0) n++;
    return n;
  }
}

export interface Walk {
  room: number;
  people: number[];
  /** moves people already in a room (the test) rather than walking new ones in */
  move?: boolean;
}

export interface WalkLoadOptions {
  /** node URLs, round robin (every request to the next) */
  urls: string[];
  clients: number;
  /** the next walk to send, or undefined when there is none (yet: `done()` says whether for good) */
  next(): Walk | undefined;
  done(): boolean;
  /** a walk answered: `true` sends it again (to the next node) */
  answered(w: Walk, o: Outcome): boolean;
  capMs: number;
  timeoutMs?: number;
  /** requests a second at most over all clients (paced from the start), or none: as fast as answered */
  ratePerS?: number;
}

export interface WalkLoadResult {
  requests: number;
  ms: number;
  /** answers by code (`ok` for acknowledged) */
  codes: Record<string, number>;
  /** the first message of each error code */
  firstErrors: Record<string, string>;
  capped: boolean;
  /** this process's CPU over the load (ms), to tell whether the client was the limit */
  clientCpuMs: number;
}

/** Sends walks until `done()` or the time cap, `clients` requests in flight. */
export async function walkLoad(o: WalkLoadOptions): Promise<WalkLoadResult> {
  const codes: Record<string, number> = {};
  const firstErrors: Record<string, string> = {};
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const deadline = t0 + o.capMs;
  let rr = 0;
  let requests = 0;
  let capped = false;
  let slots = 0;
  /** Waits for the next request's slot when paced: the k-th request leaves no earlier than k / rate after the start. */
  const paced = async (): Promise<void> => {
    if (o.ratePerS === undefined) return;
    const at = t0 + (slots++ * 1000) / o.ratePerS;
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait);
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      if (performance.now() > deadline) {
        capped = !o.done();
        return;
      }
      await paced();
      const w = o.next();
      if (w === undefined) {
        if (o.done()) return;
        await sleep(5);
        continue;
      }
      for (;;) {
        const url = o.urls[rr++ % o.urls.length]!;
        requests++;
        const a = await call(`${url}/v1/walk-into`, { room: roomName(w.room), people: w.people.map(personName) }, o.timeoutMs);
        const k = a.ok ? "ok" : a.code;
        codes[k] = (codes[k] ?? 0) + 1;
        if (!a.ok && firstErrors[k] === undefined) firstErrors[k] = a.message ?? "";
        if (!o.answered(w, a)) break;
        if (performance.now() > deadline) {
          capped = true;
          return;
        }
        if (!a.ok && !a.answered) await sleep(20); // a node down: do not spin
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, worker));
  const cpu = process.cpuUsage(cpu0);
  return { requests, ms: performance.now() - t0, codes, firstErrors, capped, clientCpuMs: (cpu.user + cpu.system) / 1000 };
}

/**
 * Picks rooms at random among the created ones, never more people into a
 * capacity room than it has seats (counted as sent, so a walk whose outcome
 * is unknown keeps its seats: the count can only be high, never low).
 */
export class RoomPicker {
  readonly #rooms: number[];
  readonly #unlimited: number[];
  readonly #seated = new Map<number, number>();
  constructor(readonly spec: RoomsSpec, created: Uint8Array, readonly random: () => number) {
    this.#rooms = [];
    for (let r = 0; r < created.length; r++) if (created[r] === 1) this.#rooms.push(r);
    this.#unlimited = this.#rooms.filter((r) => capacityOf(spec, r) === Infinity);
    if (this.#rooms.length === 0) throw new Error("no room was created");
  }
  /** A room with space for `n` more (any room, or only unlimited ones). */
  pick(n: number, unlimitedOnly = false): number {
    const from = unlimitedOnly || this.#unlimited.length === this.#rooms.length ? this.#unlimited : this.#rooms;
    for (let tries = 0; ; tries++) {
      const r = from[Math.floor(this.random() * from.length)]!;
      const cap = capacityOf(this.spec, r);
      if (cap === Infinity) return r;
      const s = this.#seated.get(r) ?? 0;
      if (s + n <= cap) {
        this.#seated.set(r, s + n);
        return r;
      }
      if (tries > 1_000 && this.#unlimited.length > 0) return this.pick(n, true);
    }
  }
  get count(): number {
    return this.#rooms.length;
  }
  /** A random created room (for reads). */
  any(): number {
    return this.#rooms[Math.floor(this.random() * this.#rooms.length)]!;
  }
}

/** Percentile of sorted values (nearest rank). */
export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** `count` sequential GET /v1/who-is-in to random rooms on one node: latencies in ms (sorted), and the error codes. */
export async function whoIsInLatency(url: string, picker: RoomPicker, count: number): Promise<{ ms: number[]; codes: Record<string, number> }> {
  const ms: number[] = [];
  const codes: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const room = roomName(picker.any());
    const t = performance.now();
    const o = await call(`${url}/v1/who-is-in?room=${encodeURIComponent(room)}`, undefined, 10_000);
    ms.push(performance.now() - t);
    const k = o.ok ? "ok" : o.code;
    codes[k] = (codes[k] ?? 0) + 1;
  }
  return { ms: ms.sort((a, b) => a - b), codes };
}
