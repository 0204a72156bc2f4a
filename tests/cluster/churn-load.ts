/**
 * The churn of hostile-churn.test.ts: `clients` concurrent clients, each the
 * only one driving its people (person p belongs to client p % clients), one
 * request at a time, round robin over the live nodes: ~60% move a person in
 * a room to another room (walk-into), ~30% have one leave, ~10% walk one who
 * is out back in. Every answer is recorded in the ChurnLedger; meanwhile a
 * sampler reads where-is and who-is-in and checks them against it. Figures:
 * per operation kind the answer codes and latencies, operations per 5 s
 * window (throughput over time), and everything that breaks a promise.
 */
import { seeded } from "../support/walk-load.ts";
import { takeDump } from "../bench/scale-check.ts";
import { type ChurnLedger, type Ending, OUT } from "./churn-ledger.ts";

/** A node requests may go to. */
export interface ChurnNode {
  readonly name: string;
  readonly url: string;
}

export type Kind = "move" | "leave" | "return" | "where" | "who" | "dump";

export interface Answer {
  code: string;
  noEffect: boolean;
  /** the parsed body of an ok read */
  body: unknown;
  ms: number;
  sentAt: number;
}

/** One request, never throws; error bodies parsed for code and no_effect. */
export async function send(url: string, body: unknown | undefined, timeoutMs: number, parseOk: boolean): Promise<Answer> {
  const sentAt = performance.now();
  try {
    const res = await fetch(url, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const ms = performance.now() - sentAt;
    if (res.ok) return { code: "ok", noEffect: false, body: parseOk ? JSON.parse(text) : null, ms, sentAt };
    let e: { code?: string; no_effect?: boolean } | undefined;
    try {
      e = (JSON.parse(text) as { error?: { code?: string; no_effect?: boolean } }).error;
    } catch {
      // not JSON: the status says it
    }
    return { code: e?.code ?? `http_${res.status}`, noEffect: e?.no_effect === true, body: null, ms, sentAt };
  } catch (err) {
    const m = err instanceof Error ? `${err.name} ${err.message}` : String(err);
    return { code: /timed? ?out|abort/i.test(m) ? "timeout" : "network", noEffect: false, body: null, ms: performance.now() - sentAt, sentAt };
  }
}

/** A promise broken, with when (s since the churn's start) and through which node. */
export interface Violation {
  at: number;
  node: string;
  what: string;
}

export interface KindFigures {
  codes: Record<string, number>;
  ms: number[];
}

export interface ChurnOptions {
  /** the nodes requests may go to now (round robin) */
  nodes: () => readonly ChurnNode[];
  ledger: ChurnLedger;
  /** rooms that exist (created, acknowledged) */
  rooms: number[];
  clients: number;
  seed: number;
  ms: number;
  timeoutMs?: number;
  /** at most this many people a request (default 1) */
  maxBatch?: number;
  /** a few capacity rooms that `hotShare` of the walks go to */
  hot?: number[];
  hotShare?: number;
  /** sequential readers checking answers (default 1) */
  samplers?: number;
  /** a full dump from the next node every this many ms, checked (0: none) */
  dumpEveryMs?: number;
  /** the rooms created (for the dumps' check) */
  created?: Uint8Array;
}

const WINDOW_MS = 5_000;

export class Churn {
  readonly kinds = new Map<Kind, KindFigures>();
  readonly violations: Violation[] = [];
  /** room_full answers though, over the whole request, the room could not have been full by the ledger */
  readonly doubtfulFull: string[] = [];
  /** "second node" -> [writes answered ok or room_full, writes answered otherwise, reads ok, reads otherwise], by the second sent */
  readonly bySecond = new Map<string, number[]>();
  /** answers neither ok nor room_full (unavailable, no answer, ...) by the second their request was sent */
  readonly refusals = new Map<number, number>();
  /** acknowledged operations per 5 s window */
  readonly windows: number[] = [];
  readonly t0 = performance.now();
  #rr = 0;
  /** people in requests under way into each room */
  #towards = new Map<number, number>();
  #touches = new Map<number, number>();
  /** the latest acknowledged write: the sampler reads it back at once */
  #recent: { person: number; room: number } | null = null;
  #stop = false;

  constructor(readonly o: ChurnOptions) {}

  #fig(k: Kind): KindFigures {
    let f = this.kinds.get(k);
    if (f === undefined) this.kinds.set(k, (f = { codes: {}, ms: [] }));
    return f;
  }
  #count(k: Kind, a: Answer, node: string): void {
    const sec = Math.floor((a.sentAt - this.t0) / 1000);
    const key = `${sec} ${node}`;
    let row = this.bySecond.get(key);
    if (row === undefined) this.bySecond.set(key, (row = [0, 0, 0, 0]));
    const write = k === "move" || k === "leave" || k === "return";
    row[(write ? 0 : 2) + (a.code === "ok" || a.code === "room_full" ? 0 : 1)]!++;
    if (a.code !== "ok" && a.code !== "room_full") {
      const sec = Math.floor((a.sentAt - this.t0) / 1000);
      this.refusals.set(sec, (this.refusals.get(sec) ?? 0) + 1);
    }
    const f = this.#fig(k);
    f.codes[a.code] = (f.codes[a.code] ?? 0) + 1;
    f.ms.push(a.ms);
  }
  #node(): ChurnNode | undefined {
    const ns = this.o.nodes();
    return ns.length === 0 ? undefined : ns[this.#rr++ % ns.length];
  }
  #violate(node: string, what: string): void {
    if (this.violations.length < 200) this.violations.push({ at: (performance.now() - this.t0) / 1000, node, what });
  }
  #window(): void {
    const w = Math.floor((performance.now() - this.t0) / WINDOW_MS);
    while (this.windows.length <= w) this.windows.push(0);
    this.windows[w]!++;
  }

  /** One line per second: per node, writes answered (ok or room_full) / not, reads ok / not. */
  timeline(nodes: string[]): string[] {
    const secs = new Set([...this.bySecond.keys()].map((k) => Number(k.split(" ")[0])));
    return [...secs].sort((a, b) => a - b).map((s) => `${String(s).padStart(3)}s ${nodes.map((n) => {
      const r = this.bySecond.get(`${s} ${n}`) ?? [0, 0, 0, 0];
      return `${n} w ${r[0]}/${r[1]} r ${r[2]}/${r[3]}`;
    }).join("  ")}`);
  }

  /** Runs the clients and the sampler for `ms`; resolves when all have stopped. */
  async run(): Promise<void> {
    const deadline = this.t0 + this.o.ms;
    const workers = Array.from({ length: this.o.clients }, (_, c) => this.#client(c, deadline));
    for (let k = 0; k < (this.o.samplers ?? 1); k++) workers.push(this.#sampler(k, deadline));
    if ((this.o.dumpEveryMs ?? 0) > 0 && this.o.created !== undefined) workers.push(this.#dumper(this.o.created, deadline));
    await Promise.all(workers);
  }
  stop(): void {
    this.#stop = true;
  }

  async #client(c: number, deadline: number): Promise<void> {
    const { ledger, rooms, clients } = this.o;
    const hot = this.o.hot ?? [];
    const maxBatch = this.o.maxBatch ?? 1;
    const rand = seeded(this.o.seed * 1009 + c);
    const mine = Math.floor((ledger.people - c + clients - 1) / clients);
    const timeoutMs = this.o.timeoutMs ?? 15_000;
    while (!this.#stop && performance.now() < deadline) {
      const roll = rand();
      const wantOut = roll >= 0.9;
      // A share of the turns play in a few capacity rooms: people in them move among them or leave, others walk in, so their seats turn over.
      const hotTurn = hot.length > 0 && rand() < (this.o.hotShare ?? 0);
      // 1..maxBatch of this client's people, all in a room or all out (moved, left, walked back together)
      const want = 1 + Math.floor(rand() * maxBatch);
      const people: number[] = hotTurn && !wantOut ? this.#inHot(c, want, rand) : [];
      for (let tries = 0; tries < 64 && people.length < want && !(hotTurn && !wantOut && people.length > 0); tries++) {
        const p = c + clients * Math.floor(rand() * mine);
        if (people.includes(p)) continue;
        const out = ledger.acked[p] === OUT;
        if (people.length === 0 ? out === wantOut || tries >= 32 : out === (ledger.acked[people[0]!] === OUT)) people.push(p);
      }
      const out = ledger.acked[people[0]!] === OUT;
      const kind: Kind = out ? "return" : roll < 0.6 || wantOut ? "move" : "leave";
      let target = OUT;
      if (kind !== "leave") {
        const from = hotTurn ? hot : rooms;
        do target = from[Math.floor(rand() * from.length)]!;
        while (people.length === 1 && target === ledger.acked[people[0]!] && from.length > 1);
      }
      const node = this.#node();
      if (node === undefined) {
        await Bun.sleep(20);
        continue;
      }
      for (const p of people) ledger.begin(p);
      const names = people.map((p) => `p${p}`);
      let bound = -1;
      let touched = 0;
      if (target !== OUT) {
        bound = this.#mostIn(target); // before this request counts itself
        touched = this.#touch(target);
        this.#towards.set(target, (this.#towards.get(target) ?? 0) + people.length);
      }
      const a = kind === "leave"
        ? await send(`${node.url}/v1/leave`, { people: names }, timeoutMs, false)
        : await send(`${node.url}/v1/walk-into`, { room: `r${target}`, people: names }, timeoutMs, false);
      this.#count(kind, a, node.name);
      let how: Ending = "maybe";
      const what = `${kind} ${names.join(",")}${target === OUT ? "" : ` into r${target}`}`;
      if (a.code === "ok") how = "ok";
      else if (a.code === "room_full") {
        how = "refused";
        // Decidable only if nothing else went for this room meanwhile: then at most `bound` were in it.
        const newcomers = people.filter((p) => ledger.acked[p] !== target && !(ledger.maybe.get(p) ?? []).includes(target)).length;
        if (this.#touches.get(target) === touched && bound + newcomers <= ledger.capacityOf(target) && this.doubtfulFull.length < 50) {
          this.doubtfulFull.push(`${what} via ${node.name}: room_full, capacity ${ledger.capacityOf(target)}, at most ${bound} in it by the ledger`);
        }
      } else if (a.code === "unavailable" && a.noEffect) how = "refused";
      else if (a.code === "unknown_room" || a.code === "bad_request" || a.code === "invalid_name" || a.code === "not_found") {
        how = "refused";
        this.#violate(node.name, `${what}: ${a.code}`);
      } else if (a.code === "internal") this.#violate(node.name, `${what}: internal`);
      if (target !== OUT) {
        this.#towards.set(target, this.#towards.get(target)! - people.length);
        this.#touch(target);
      }
      for (const p of people) ledger.end(p, target, how);
      if (how === "ok") {
        this.#window();
        this.#recent = { person: people[0]!, room: target };
      }
      if (a.code !== "ok" && a.code !== "room_full" && a.code !== "unavailable") await Bun.sleep(20); // a node down: do not spin
    }
  }

  /** Up to `n` of client c's people now in a hot room (acknowledged), at random. */
  #inHot(c: number, n: number, rand: () => number): number[] {
    const there: number[] = [];
    for (const r of this.o.hot ?? []) for (const p of this.o.ledger.inRoom.get(r) ?? []) if (p % this.o.clients === c) there.push(p);
    const out: number[] = [];
    while (out.length < n && there.length > 0) out.push(there.splice(Math.floor(rand() * there.length), 1)[0]!);
    return out;
  }

  /** One more operation towards `room` begun or ended; the count after. */
  #touch(room: number): number {
    const n = (this.#touches.get(room) ?? 0) + 1;
    this.#touches.set(room, n);
    return n;
  }

  #mostIn(room: number): number {
    return this.o.ledger.mostIn(room) + (this.#towards.get(room) ?? 0);
  }

  /** Full dumps during the churn: a 200 must be whole (every room), nobody twice, no room over capacity, settled people in place. */
  async #dumper(created: Uint8Array, deadline: number): Promise<void> {
    while (!this.#stop && performance.now() + (this.o.dumpEveryMs ?? 0) < deadline) {
      await Bun.sleep(this.o.dumpEveryMs ?? 0);
      const node = this.#node();
      if (node === undefined) continue;
      const sentAt = performance.now();
      const d = await takeDump(node.url, 30_000);
      const code = d.text !== undefined ? "ok" : /HTTP 503/.test(d.error ?? "") ? "unavailable" : (d.error ?? "error").slice(0, 40);
      this.#count("dump", { code, noEffect: false, body: null, ms: d.ms, sentAt }, node.name);
      if (d.text === undefined) continue;
      const c = this.o.ledger.checkDump(d.text, created, sentAt);
      if (!c.ok) this.#violate(node.name, `dump (200, ${c.rooms} rooms, ${c.people} people): ${JSON.stringify({ ...c, examples: undefined, ok: undefined })} e.g. ${c.examples.join("; ")}`);
    }
  }

  /**
   * Reads in turn: where-is of a random person, who-is-in of a random room,
   * then both for the latest acknowledged write (its person, its room): a
   * read sent right after an acknowledgement must reflect it.
   */
  async #sampler(k: number, deadline: number): Promise<void> {
    const { ledger, rooms } = this.o;
    const hot = this.o.hot ?? [];
    const rand = seeded(this.o.seed * 7919 + k);
    for (let i = 0; !this.#stop && performance.now() < deadline; i++) {
      const node = this.#node();
      if (node === undefined) {
        await Bun.sleep(20);
        continue;
      }
      const recent = this.#recent;
      let code: string;
      if (i % 2 === 0) {
        const p = i % 4 === 2 && recent !== null ? recent.person : Math.floor(rand() * ledger.people);
        const a = await send(`${node.url}/v1/where-is?person=p${p}`, undefined, 10_000, true);
        this.#count("where", a, node.name);
        code = a.code;
        if (a.code === "ok") {
          const bad = ledger.checkWhereIs(p, a.sentAt, (a.body as { room: string | null }).room);
          if (bad !== null) this.#violate(node.name, bad);
        } else if (a.code === "internal" || a.code === "bad_request") this.#violate(node.name, `where-is p${p}: ${a.code}`);
      } else {
        let r = rooms[Math.floor(rand() * rooms.length)]!;
        if (i % 4 === 3) r = recent !== null && recent.room !== OUT ? recent.room : hot.length > 0 ? hot[Math.floor(rand() * hot.length)]! : r;
        const a = await send(`${node.url}/v1/who-is-in?room=r${r}`, undefined, 10_000, true);
        this.#count("who", a, node.name);
        code = a.code;
        if (a.code === "ok") for (const bad of ledger.checkWhoIsIn(r, a.sentAt, a.body as string[])) this.#violate(node.name, bad);
        else if (a.code === "unknown_room" || a.code === "internal" || a.code === "bad_request") this.#violate(node.name, `who-is-in r${r}: ${a.code}`);
      }
      if (code === "network" || code === "timeout") await Bun.sleep(20); // a node down: do not spin
    }
  }
}
