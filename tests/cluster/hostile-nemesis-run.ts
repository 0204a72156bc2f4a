/**
 * One round of hostile-nemesis.test.ts: 5 real `roomy node`s (or 3-9; lan profile)
 * on fixed loopback ports, concurrent clients calling every node at random,
 * and a nemesis drawn from the seed that kill -9s, freezes (SIGSTOP) or
 * drains (SIGTERM) one node or two at once, the Raft leader a third of the
 * time, each brought back (restart under its name and ports, SIGCONT) and
 * waited for before that slot's next fault. Then every node is healed and
 * waited for, the clients stop, and every node is read once more: dumps,
 * room lists, the lot, every person's where-is and every room's who-is-in.
 * Everything called is recorded (hostile-nemesis-check.ts checks it).
 *
 * Writes to `dir`: <node>.log (stderr of every incarnation), history.jsonl,
 * nemesis.jsonl (the faults as injected), meta.json and consensus.json.
 * Every phase has a deadline, so a round ends even on a cluster that never
 * comes back; every node is killed before it returns.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LoopbackNode, request, sleep } from "../support/procs.ts";
import { seeded } from "../support/walk-load.ts";
import { FINAL, type History, type Kind, META, type Op, type Requests, SETUP, type Spec } from "./hostile-nemesis-check.ts";

export interface NemesisOptions {
  seed: number;
  bin: string;
  /** Where the node logs, the history and the nemesis log go. */
  dir: string;
  /** 2 ports a node from here (mesh + HTTP). */
  basePort: number;
  /** How many nodes (3-9; default 5). At most (n - 1) / 2 of them faulty at once, so a majority is always up. */
  nodes?: number;
  /** How long faults are injected. */
  faultMs: number;
  clients: number;
  /** Progress lines (the fault timeline). */
  log: (line: string) => void;
}

export interface NemesisRun {
  history: History;
  /** kill / stop / term injected, and how many began while another node was down or frozen. */
  faults: Record<"kill" | "stop" | "term" | "overlap", number>;
  /** Nodes not ready 40 s after being brought back (the run then leaves them alone). */
  notReady: string[];
  /** What stopped the round early (the cluster never ready, rooms never created, final reads past their deadline). */
  error: string | null;
  wallMs: number;
}

const SPACES = 20;
const GATES = 4;
const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);
/** Bounds of each phase (ms): the round ends even if the cluster never recovers. */
const READY_MS = 60_000;
const CREATE_MS = 40_000;
const BACK_MS = 40_000;
const HEAL_MS = 60_000;
const FINAL_MS = 90_000;
const TERM_MS = 25_000;

const pad = (i: number, w: number): string => String(i).padStart(w, "0");
const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

interface Fault {
  at: number;
  slot: number;
  type: "kill" | "stop" | "term";
  node: number;
  hold: number;
  leader: boolean;
}

/**
 * Slot 0: a fault every 1-6 s, a quarter of them with a second one within 0.3 s on slot 1; slot 1 also every 8-28 s.
 * With 3 nodes only slot 0 (one node faulty at a time); with 7 or more, slot 2 too, every 8-28 s (its own draws, so
 * a seed's first two slots are the same whatever the size).
 */
export function schedule(seed: number, faultMs: number, size = 5): Fault[] {
  const r = seeded(seed * 31 + 5);
  const one = (at: number, slot: number, d = r): Fault => {
    const x = d();
    const type = x < 0.35 ? "kill" : x < 0.75 ? "stop" : "term";
    // Freezes mostly around the lease and election timeouts (1.2-3 s), some up to 8 s.
    const hold = type === "kill" ? 200 + d() * 5_800 : type === "stop" ? (d() < 0.3 ? 1_200 + d() * 1_800 : 500 + d() * 7_500) : 300 + d() * 2_700;
    return { at, slot, type, node: int(d, 0, size - 1), hold, leader: d() < 0.35 };
  };
  const out: Fault[] = [];
  for (let t = 3_000; t < faultMs; t += 1_000 + r() * 5_000) {
    out.push(one(t, 0));
    if (r() < 0.25) out.push(one(t + r() * 300, 1));
  }
  for (let t = 12_000 + r() * 10_000; t < faultMs; t += 8_000 + r() * 20_000) out.push(one(t, 1));
  const r2 = seeded(seed * 37 + 11);
  for (let t = 15_000 + r2() * 10_000; t < faultMs; t += 8_000 + r2() * 20_000) out.push(one(t, 2, r2));
  const slots = Math.max(1, Math.floor((size - 1) / 2));
  return out.filter((f) => f.slot < slots).sort((a, b) => a.at - b.at);
}

/** The rooms, people and plates of a seed: 40 rooms (14 with 2-5 seats), 300 people, 30 plates, 20 spaces. */
export function spec(seed: number, origin: number, size = 5): Spec {
  const rooms = Array.from({ length: 40 }, (_, i) => `r${pad(i, 2)}`);
  const r = seeded(seed * 7 + 1);
  const capacity: Record<string, number> = {};
  for (const room of rooms.slice(0, 14)) capacity[room] = int(r, 2, 5);
  return {
    nodes: names(size),
    rooms,
    capacity,
    people: Array.from({ length: 300 }, (_, i) => `p${pad(i, 3)}`),
    plates: Array.from({ length: 30 }, (_, i) => `CAR ${pad(i, 2)}`),
    spaces: SPACES,
    origin,
  };
}

export async function runNemesis(o: NemesisOptions): Promise<NemesisRun> {
  const origin = Date.now();
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const stamp = (t: number): string => new Date(origin + t).toISOString().slice(11, 23);
  const size = o.nodes ?? 5;
  const NAMES = names(size);
  const s = spec(o.seed, origin, size);
  const args = ["--profile", "lan", "--spaces", String(SPACES), "--gates", String(GATES), "--log-level", "info"];
  const nodes = NAMES.map((n, i) => new LoopbackNode(n, o.basePort + 2 * i, o.basePort + 2 * i + 1, args, { stderrFile: join(o.dir, `${n}.log`) }));
  const joins = (n: LoopbackNode): string[] => nodes.filter((x) => x !== n).map((x) => x.mesh);
  const start = (n: LoopbackNode): Promise<void> => n.start(o.bin, joins(n));

  const ops: Op[] = [];
  let opId = 0;
  /** One call, recorded; never throws. A refused connection is `network` with no effect. */
  const call = async <K extends Kind>(client: string, n: LoopbackNode, kind: K, req: Requests[K], path: string, body: unknown, timeoutMs: number): Promise<Op> => {
    // Cast: with `kind` generic, TypeScript cannot tell which member of the union the literal is.
    const op = { id: ++opId, client, node: n.name, kind, req, start: now(), end: 0, code: "", status: null, noEffect: false, msg: "", body: null } as Op;
    try {
      const res = await fetch(`${n.url}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      op.status = res.status;
      let json: unknown = null;
      try {
        json = text === "" ? null : JSON.parse(text);
      } catch {
        // not JSON: kept in msg
      }
      const err = (json as { error?: { code?: string; message?: string; no_effect?: boolean } } | null)?.error;
      if (res.ok) {
        op.code = "ok";
        op.body = json;
      } else {
        op.code = err?.code ?? `http_${res.status}`;
        op.msg = err?.message ?? text.slice(0, 200);
        op.noEffect = err?.no_effect === true;
      }
    } catch (e) {
      const m = e instanceof Error ? `${e.name} ${e.message} ${String((e as { code?: unknown }).code ?? "")}` : String(e);
      op.msg = m;
      op.code = /timed? ?out|abort/i.test(m) ? "timeout" : "network";
      op.noEffect = op.code === "network" && /ECONNREFUSED|ConnectionRefused|Unable to connect/i.test(m);
    }
    op.end = now();
    ops.push(op);
    return op;
  };
  const waitReady = async (list: LoopbackNode[], ms: number): Promise<boolean> => {
    for (const deadline = now() + ms; now() < deadline; await sleep(200)) {
      if ((await Promise.all(list.map((n) => (n.alive ? n.ready(1_000) : false)))).every(Boolean)) return true;
    }
    return false;
  };

  // ---- the nemesis: one slot per node that may be faulty at once ((size - 1) / 2: a majority always up)
  const events: Record<string, unknown>[] = [];
  const nem = (e: Record<string, unknown>): void => {
    events.push({ t: Math.round(now()), ts: stamp(now()), ...e });
    o.log(`[nemesis] ${stamp(now())} ${JSON.stringify(e)}`);
  };
  const busy = new Set<number>();
  const maxFaulty = Math.max(1, Math.floor((size - 1) / 2));
  const faults = { kill: 0, stop: 0, term: 0, overlap: 0 };
  const notReady: string[] = [];
  const leaderIndex = async (): Promise<number> => {
    const asker = nodes.find((n, i) => !busy.has(i) && n.alive);
    if (asker === undefined) return -1;
    const r = await request<{ leader: string | null }>(`${asker.url}/v1/consensus`, { timeoutMs: 1_000 });
    return NAMES.indexOf(r.body?.leader ?? "");
  };
  const runSlot = async (list: Fault[], from: number): Promise<void> => {
    const until = from + o.faultMs;
    for (const f of list) {
      while (now() < from + f.at && now() < until) await sleep(50);
      if (now() >= until) return;
      let idx = f.node;
      if (f.leader) {
        const li = await leaderIndex();
        if (li >= 0 && !busy.has(li)) idx = li;
      }
      for (let k = 0; k < size && busy.has(idx); k++) idx = (idx + 1) % size;
      if (busy.has(idx) || busy.size >= maxFaulty) continue;
      busy.add(idx);
      if (busy.size >= 2) faults.overlap++;
      faults[f.type]++;
      const n = nodes[idx]!;
      const tag = { slot: f.slot, node: n.name };
      try {
        nem({ ...tag, fault: f.type, leader: f.leader, hold: Math.round(f.hold) });
        if (f.type === "stop") {
          n.pause();
          await sleep(f.hold);
          n.resume();
          nem({ ...tag, fault: "cont" });
        } else {
          if (f.type === "kill") await n.kill();
          else nem({ ...tag, fault: "term-exited", code: await n.terminate(TERM_MS) });
          await sleep(f.hold);
          await start(n);
          nem({ ...tag, fault: "restart" });
        }
        const ok = await waitReady([n], BACK_MS);
        nem({ ...tag, fault: ok ? "ready" : "NOT-READY" });
        if (!ok) return void notReady.push(`${n.name}@${stamp(now())}`); // left faulty: this slot stops
      } catch (err) {
        return nem({ ...tag, fault: "error", err: String(err).slice(0, 300) });
      }
      busy.delete(idx);
    }
  };

  // ---- the clients: each a loop of random calls to random nodes, half of its people from a hot 30
  let stopClients = false;
  const client = async (ci: number): Promise<void> => {
    const r = seeded(o.seed * 1000 + ci * 17 + 3);
    const c = `c${ci}`;
    const person = (): string => (r() < 0.5 ? s.people[int(r, 0, 29)]! : pick(r, s.people));
    const some = (k: number): string[] => [...new Set(Array.from({ length: k }, person))];
    for (let j = 0; j < 1_000_000 && !stopClients; j++) {
      const n = nodes[int(r, 0, size - 1)]!;
      const tmo = int(r, 3_000, 6_000);
      const x = r();
      if (x < 0.3) {
        const req = { room: pick(r, s.rooms), people: some(int(r, 1, 3)) };
        await call(c, n, "walk", req, "/v1/walk-into", req, tmo);
      } else if (x < 0.4) {
        const req = { people: some(int(r, 1, 2)) };
        await call(c, n, "leave", req, "/v1/leave", req, tmo);
      } else if (x < 0.48) {
        const room = pick(r, s.rooms);
        await call(c, n, "who", { room }, `/v1/who-is-in?room=${encodeURIComponent(room)}`, undefined, tmo);
      } else if (x < 0.56) {
        const p = person();
        await call(c, n, "where", { person: p }, `/v1/where-is?person=${encodeURIComponent(p)}`, undefined, tmo);
      } else if (x < 0.62) await call(c, n, "dump", {}, "/v1/dump", undefined, tmo);
      else if (x < 0.65) await call(c, n, "rooms", {}, "/v1/rooms", undefined, tmo);
      else if (x < 0.9) {
        const kind = x < 0.79 ? "park" : "unpark";
        const req = { plate: pick(r, s.plates), gate: int(r, 1, GATES) };
        await call(c, n, kind, req, `/v1/gates/${req.gate}/${kind}`, { plate: req.plate }, tmo);
      } else await call(c, n, "lot", {}, "/v1/lot", undefined, tmo);
      await sleep(int(r, 10, 60));
    }
  };

  let error: string | null = null;
  let healed = false;
  let load: Promise<void>[] = [];
  try {
    o.log(`[nemesis] seed ${o.seed}, ${size} nodes, ${o.faultMs / 1000} s of faults, ${o.clients} clients, ports ${o.basePort}-${o.basePort + 2 * size - 1}, ${o.bin}; capacities ${JSON.stringify(s.capacity)}`);
    await Promise.all(nodes.map(start));
    if (!(await waitReady(nodes, READY_MS))) throw new Error(`the ${size} nodes not ready within ${READY_MS} ms`);
    // Rooms created (and acknowledged) before any fault: from then on each must always exist.
    const groups = new Map<number | null, string[]>();
    for (const room of s.rooms) {
      const k = s.capacity[room] ?? null;
      groups.set(k, [...(groups.get(k) ?? []), room]);
    }
    const createBy = now() + CREATE_MS;
    for (const [capacity, rooms] of groups) {
      for (let k = 0; ; k++) {
        const req = { rooms, capacity };
        const op = await call(SETUP, nodes[k % size]!, "create", req, "/v1/rooms", capacity === null ? { rooms } : req, 10_000);
        if (op.code === "ok") break;
        if (now() > createBy) throw new Error(`rooms not created within ${CREATE_MS} ms: ${op.code} ${op.msg}`);
        await sleep(300);
      }
    }

    const plan = schedule(o.seed, o.faultMs, size);
    writeFileSync(join(o.dir, "schedule.json"), JSON.stringify(plan));
    const from = now();
    load = Array.from({ length: o.clients }, (_, i) => client(i));
    await Promise.all(Array.from({ length: maxFaulty }, (_, slot) => runSlot(plan.filter((f) => f.slot === slot), from)));

    nem({ phase: "heal" });
    for (const n of nodes) {
      if (n.alive) n.resume();
      else await start(n).then(() => nem({ fault: "heal-restart", node: n.name }));
    }
    healed = await waitReady(nodes, HEAL_MS);
    nem({ phase: healed ? "all ready" : `NOT all ready within ${HEAL_MS} ms` });
    stopClients = true;
    await Promise.all(load);
    await sleep(1_500); // the last writes' replication, before the final reads

    // Final reads, with a deadline: on a broken cluster each may wait its 5 s.
    const finalBy = now() + FINAL_MS;
    const fin = async (batch: (() => Promise<Op>)[]): Promise<void> => {
      if (now() < finalBy) await Promise.all(batch.map((f) => f()));
    };
    const summary = (n: LoopbackNode): (() => Promise<Op>)[] => [
      () => call(FINAL, n, "dump", {}, "/v1/dump", undefined, 5_000),
      () => call(FINAL, n, "lot", {}, "/v1/lot", undefined, 5_000),
    ];
    for (const n of nodes) await fin([...summary(n), () => call(FINAL, n, "rooms", {}, "/v1/rooms", undefined, 5_000)]);
    for (let i = 0; i < s.people.length; i += 25) {
      await fin(s.people.slice(i, i + 25).flatMap((p) => nodes.map((n) => () => call(FINAL, n, "where", { person: p }, `/v1/where-is?person=${encodeURIComponent(p)}`, undefined, 5_000))));
    }
    for (const room of s.rooms) await fin(nodes.map((n) => () => call(FINAL, n, "who", { room }, `/v1/who-is-in?room=${encodeURIComponent(room)}`, undefined, 5_000)));
    for (const n of nodes) await fin(summary(n));
    if (now() >= finalBy) throw new Error(`final reads not done within ${FINAL_MS} ms`);
    const cons = await Promise.all(nodes.map((n) => call(META, n, "consensus", {}, "/v1/consensus", undefined, 5_000)));
    writeFileSync(join(o.dir, "consensus.json"), JSON.stringify(cons.map((c) => c.body), null, 1));
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  } finally {
    stopClients = true;
    for (const n of nodes) n.resume();
    await Promise.all(load);
    await Promise.all(nodes.map((n) => n.kill().catch(() => undefined)));
  }
  const history: History = { spec: s, ops, healed };
  const wallMs = Math.round(now());
  writeFileSync(join(o.dir, "history.jsonl"), ops.map((x) => JSON.stringify(x)).join("\n") + "\n");
  writeFileSync(join(o.dir, "nemesis.jsonl"), events.map((x) => JSON.stringify(x)).join("\n") + "\n");
  writeFileSync(join(o.dir, "meta.json"), JSON.stringify({ seed: o.seed, faultMs: o.faultMs, clients: o.clients, spec: s, healed, faults, notReady, error, wallMs }, null, 1));
  return { history, faults, notReady, error, wallMs };
}
