/**
 * README, "What roomy promises": a read started after a write was
 * acknowledged (to any client, through any node) reflects it, or answers
 * `unavailable`; never `unknown_room` for a room whose creation was
 * acknowledged. The read barrier by covers (mesh/replication/cover-barrier.ts)
 * is what makes where-is, who-is-in and the room list so.
 *
 * Checkers (one client each, sequential, people of their own) walk their
 * people into rooms, have them leave and create rooms, through a random
 * node; right after each acknowledgement they read through the OTHER nodes
 * (where-is of the person, who-is-in of the room, the room list) and flag
 * any 200 that misses the acknowledged write. Meanwhile background walkers
 * keep writes in flight, and a fault runs:
 *  - freeze: a random node SIGSTOPped 0.3-2 s at random moments;
 *  - kill: the node that just acknowledged a leave is kill -9'd at once
 *    (its writes' origin gone: the barrier must fetch them from a peer),
 *    read through the others, restarted, and read from the moment /readyz
 *    says 200 (a new incarnation, an empty cover).
 * Liveness: no read may take past the call timeout (5 s) plus 1 s;
 * `unavailable` answers are counted with their durations.
 *
 * A miss still there once settled is a lost write (hostile-lost-update.test.ts,
 * the write path), reported apart from a stale read (this barrier).
 *
 * Passes at aa27078 (30 s per fault, 4 checkers, 10 background walkers):
 * none 23,852 reads; freeze 11 freezes, 10,032 reads, 19 unavailable (max
 * 1.9 s, all on the frozen node); kill 7 kill -9 + restart, 26,281 reads
 * (81 from a node the moment it was ready again), 12 unavailable (max 28
 * ms); no stale read, no lost write, no read past 2.1 s. At 47127b1 (covers
 * asked of every holder, no write barrier): the same, 123k reads.
 *
 * `HOSTILE_READ_AFTER_ACK=1 npx bun test --timeout 200000 tests/cluster/hostile-read-after-ack.test.ts`
 * (HOSTILE_BIN=path runs that binary; HOSTILE_SECS, default 40, per fault).
 */
import { afterAll, expect, test } from "bun:test";
import { call, HostileCluster, hostileBinary, maybeApplied, settledGet, sleep, type Stamped, Walkers } from "./hostile-kit.ts";
import type { LoopbackNode } from "../support/procs.ts";
import { seeded } from "../support/walk-load.ts";

const RUN = process.env["HOSTILE_READ_AFTER_ACK"] === "1";
const SECS = Number(process.env["HOSTILE_SECS"] ?? 40);
const CHECKERS = 4;
const HANG_MS = 6_000;

let cluster: HostileCluster | undefined;
afterAll(async () => {
  await cluster?.close();
}, 30_000);


interface Miss {
  at: string;
  what: string;
  person?: string;
  want?: string | null;
}

class Checker {
  readonly misses: Miss[] = [];
  readonly counts: Record<string, number> = {};
  readonly durations: number[] = [];
  readonly unavailableMs: number[] = [];
  /** person -> their room (null: none) once acknowledged; undefined: unknown (a write that may have applied) */
  readonly where = new Map<string, string | null | undefined>();
  /** people with a write under way (a read may see it before its answer) */
  readonly busy = new Set<string>();
  stop = false;
  /** set by the kill fault: called after an acknowledged leave through `node` */
  onLeaveAck: ((node: LoopbackNode) => Promise<void>) | null = null;

  constructor(
    readonly c: HostileCluster,
    readonly id: number,
    readonly rooms: string[],
    readonly t0: number,
  ) {
    for (let k = 0; k < 4; k++) this.where.set(`c${id}p${k}`, null);
  }

  count(k: string): void {
    this.counts[k] = (this.counts[k] ?? 0) + 1;
  }
  at(t: number): string {
    return `${((t - this.t0) / 1000).toFixed(2)}s`;
  }

  /** A read: counted, timed, `unavailable` noted; the answer. */
  async read(url: string, kind: string): Promise<Stamped> {
    const r = await call(url, undefined, 9_000);
    const ms = r.done - r.sent;
    this.durations.push(ms);
    this.count(`${kind} ${r.code}`);
    if (r.code === "unavailable") this.unavailableMs.push(ms);
    if (ms > HANG_MS) this.misses.push({ at: this.at(r.sent), what: `${kind} ${url} took ${ms} ms (${r.code})` });
    return r;
  }

  /** Reads through every live node but `via`, right after an acknowledged write. */
  async readBack(via: string, person: string | null, room: string | null, created: string | null): Promise<void> {
    for (const n of this.c.live()) {
      if (n.name === via) continue;
      if (person !== null) {
        const want = this.where.get(person);
        const w = await this.read(`${n.url}/v1/where-is?person=${person}`, "where");
        const got = w.code === "ok" ? (w.body as { room: string | null }).room : undefined;
        if (want !== undefined && got !== undefined && got !== want) {
          this.misses.push({ at: this.at(w.sent), what: `where-is ${person} via ${n.name}: ${got}, acknowledged ${want} via ${via}`, person, want });
        }
        const r = want ?? room;
        if (want !== undefined && r !== null) {
          const who = await this.read(`${n.url}/v1/who-is-in?room=${r}`, "who");
          if (who.code === "unknown_room") this.misses.push({ at: this.at(who.sent), what: `who-is-in ${r} via ${n.name}: unknown_room` });
          if (who.code === "ok") {
            const has = (who.body as string[]).includes(person);
            if (has !== (want === r)) this.misses.push({ at: this.at(who.sent), what: `who-is-in ${r} via ${n.name} ${has ? "lists" : "lacks"} ${person}, acknowledged in ${want} via ${via}`, person, want });
          }
        }
      }
      if (created !== null) {
        const l = await this.read(`${n.url}/v1/rooms`, "rooms");
        if (l.code === "ok" && !(l.body as string[]).includes(created)) this.misses.push({ at: this.at(l.sent), what: `room list via ${n.name} without ${created}, created via ${via}` });
        const who = await this.read(`${n.url}/v1/who-is-in?room=${created}`, "who");
        if (who.code === "unknown_room") this.misses.push({ at: this.at(who.sent), what: `who-is-in ${created} via ${n.name}: unknown_room, created via ${via}` });
      }
    }
  }

  async run(): Promise<void> {
    const rand = seeded(1000 + this.id);
    const people = [...this.where.keys()];
    for (let k = 0; !this.stop && k < 1_000_000; k++) {
      const live = this.c.live();
      if (live.length === 0) {
        await sleep(50);
        continue;
      }
      const node = live[Math.floor(rand() * live.length)]!;
      const person = people[Math.floor(rand() * people.length)]!;
      const roll = rand();
      if (roll < 0.05) {
        const room = `new-c${this.id}-${k}`;
        const r = await call(`${node.url}/v1/rooms`, { rooms: [room] });
        this.count(`create ${r.code}`);
        if (r.code === "ok") {
          this.rooms.push(room);
          await this.readBack(node.name, null, null, room);
        }
      } else if (roll < 0.35) {
        this.busy.add(person);
        const r = await call(`${node.url}/v1/leave`, { people: [person] });
        this.busy.delete(person);
        this.count(`leave ${r.code}`);
        const before = this.where.get(person);
        if (r.code === "ok") {
          this.where.set(person, null);
          if (this.onLeaveAck !== null) await this.onLeaveAck(node);
          await this.readBack(node.name, person, before ?? null, null);
        } else if (maybeApplied(r.code)) this.where.set(person, undefined);
      } else {
        const room = this.rooms[Math.floor(rand() * this.rooms.length)]!;
        this.busy.add(person);
        const r = await call(`${node.url}/v1/walk-into`, { room, people: [person] });
        this.busy.delete(person);
        this.count(`walk ${r.code}`);
        if (r.code === "ok") {
          this.where.set(person, room);
          await this.readBack(node.name, person, room, null);
        } else if (maybeApplied(r.code)) this.where.set(person, undefined);
      }
    }
  }
}

async function scenario(fault: "freeze" | "kill" | "none"): Promise<{ report: string; stale: string[]; lost: string[] }> {
  const c = (cluster = new HostileCluster(await hostileBinary(), ["n1", "n2", "n3"], 26420, []));
  const t0 = Date.now();
  const rand = seeded(fault === "freeze" ? 7 : fault === "kill" ? 11 : 13);
  try {
    await c.start();
    const rooms = Array.from({ length: 24 }, (_, i) => `room-${i}`);
    expect((await call(`${c.nodes[0]!.url}/v1/rooms`, { rooms })).code).toBe("ok");
    const bg = new Walkers(Array.from({ length: 10 }, (_, i) => `bg${i}`), () => rooms, () => c.live(), 5);
    const checkers = Array.from({ length: CHECKERS }, (_, i) => new Checker(c, i, [...rooms], t0));
    const faults: string[] = [];
    let stopFaults = false;
    let killing = false;
    if (fault === "kill") {
      // Once every few seconds: the node that just acknowledged a leave dies at once, then comes back.
      let lastKill = Date.now();
      for (const ch of checkers) {
        ch.onLeaveAck = async (node) => {
          if (killing || Date.now() - lastKill < 4_000 || c.live().length < 3) return;
          killing = true;
          lastKill = Date.now();
          await node.kill();
          faults.push(`${ch.at(Date.now())} kill -9 ${node.name} after a leave it acknowledged`);
          // Restarted in the background; read from the moment it is ready.
          void (async () => {
            await sleep(300);
            await c.restart(node.name);
            const deadline = Date.now() + 30_000;
            while (!(await node.ready(500)) && Date.now() < deadline) await sleep(10);
            faults.push(`${ch.at(Date.now())} ${node.name} ready again`);
            for (const other of checkers) {
              for (const [p, want] of other.where) {
                if (want === undefined || other.busy.has(p)) continue;
                const w = await other.read(`${node.url}/v1/where-is?person=${p}`, "where-fresh");
                const got = w.code === "ok" ? (w.body as { room: string | null }).room : undefined;
                if (got !== undefined && got !== want && other.where.get(p) === want && !other.busy.has(p)) {
                  other.misses.push({ at: other.at(w.sent), what: `where-is ${p} via ${node.name} just ready: ${got}, acknowledged ${want}`, person: p, want });
                }
              }
            }
            killing = false;
          })();
        };
      }
    }
    const freezer = (async () => {
      if (fault !== "freeze") return;
      for (let k = 0; !stopFaults && k < 10_000; k++) {
        await sleep(500 + rand() * 2_000);
        if (stopFaults) break;
        const n = c.nodes[Math.floor(rand() * 3)]!;
        const ms = 300 + rand() * 1_700;
        n.pause();
        faults.push(`freeze ${n.name} ${Math.round(ms)} ms`);
        await sleep(ms);
        n.resume();
      }
    })();
    bg.start();
    const runs = checkers.map((ch) => ch.run());
    await sleep(SECS * 1_000);
    stopFaults = true;
    for (const ch of checkers) ch.stop = true;
    await Promise.all([...runs, freezer, bg.stop()]);
    for (const n of c.nodes) n.resume();
    for (let k = 0; killing && k < 600; k++) await sleep(100);
    for (const n of c.nodes) if (!n.alive) await c.restart(n.name);
    await c.waitReady(c.nodes, 60_000);
    // Settled: a miss still there is a lost write, else a stale read.
    const stale: string[] = [];
    const lost: string[] = [];
    for (const ch of checkers) {
      for (const m of ch.misses) {
        if (m.person === undefined || ch.where.get(m.person) !== m.want) {
          stale.push(`c${ch.id} ${m.at} ${m.what}`);
          continue;
        }
        const w = await settledGet<{ room: string | null }>(`${c.nodes[0]!.url}/v1/where-is?person=${m.person}`);
        (w.room === m.want ? stale : lost).push(`c${ch.id} ${m.at} ${m.what}${w.room === m.want ? "" : ` (settled: ${w.room})`}`);
      }
    }
    const counts: Record<string, number> = {};
    const durations: number[] = [];
    const unav: number[] = [];
    for (const ch of checkers) {
      for (const [k, v] of Object.entries(ch.counts)) counts[k] = (counts[k] ?? 0) + v;
      durations.push(...ch.durations);
      unav.push(...ch.unavailableMs);
    }
    durations.sort((a, b) => a - b);
    unav.sort((a, b) => a - b);
    const q = (xs: number[], f: number): number => xs[Math.min(xs.length - 1, Math.floor(f * xs.length))] ?? 0;
    const report = [
      `fault ${fault}, ${SECS} s: ${faults.length} fault events; ${durations.length} reads, p50 ${q(durations, 0.5)} ms, p99 ${q(durations, 0.99)} ms, max ${q(durations, 1)} ms`,
      `unavailable: ${unav.length} (ms p50 ${q(unav, 0.5)}, max ${q(unav, 1)})`,
      `counts ${JSON.stringify(counts)}`,
      `background walks ${JSON.stringify(bg.codes())}`,
      `faults: ${faults.slice(0, 30).join("; ")}`,
      `stale reads ${stale.length}, lost writes ${lost.length}`,
    ].join("\n");
    return { report, stale, lost };
  } finally {
    await c.close();
    cluster = undefined;
  }
}

for (const fault of ["none", "freeze", "kill"] as const) {
  test.skipIf(!RUN)(`reads right after an acknowledgement, through the other nodes, reflect it (${fault})`, async () => {
    const { report, stale, lost } = await scenario(fault);
    console.log(`${report}\n${[...stale, ...lost].slice(0, 20).join("\n")}`);
    expect(stale.slice(0, 10)).toEqual([]);
  }, SECS * 1_000 + 150_000);
}
