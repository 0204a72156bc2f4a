/**
 * Shared parts of the hostile real-process tests (hostile-*.test.ts): a
 * cluster of `roomy node` binaries on fixed loopback ports (26300-26399, no
 * other test uses them), requests that never throw and record when they were
 * sent and answered, and per-person walk workers whose record says where a
 * person may be without an acknowledged write having been lost.
 *
 * The binary is HOSTILE_BIN when set (a colleague's build), else an
 * up-to-date dist/roomy (tests/ship/support/binary.ts).
 */
import { ensureBinary } from "../ship/support/binary.ts";
import { LoopbackNode, request, sleep, until, type Reply } from "../support/procs.ts";

export { sleep };

export async function hostileBinary(): Promise<string> {
  const b = process.env["HOSTILE_BIN"];
  return b !== undefined && b !== "" ? b : ensureBinary();
}

/** One answer, stamped: sent and answered in ms since the epoch. */
export interface Stamped {
  code: string;
  status: number | null;
  sent: number;
  done: number;
  message: string;
  body: unknown;
}

export async function call(url: string, body?: unknown, timeoutMs = 8_000): Promise<Stamped> {
  const sent = Date.now();
  const r: Reply = await request(url, { body, timeoutMs });
  return { code: r.code, status: r.status, sent, done: Date.now(), message: r.message, body: r.body };
}

/** Outcomes after which a write may or may not have taken effect. */
export const maybeApplied = (code: string): boolean => code === "unavailable" || code === "timeout" || code === "network" || code === "internal";

export class HostileCluster {
  readonly nodes: LoopbackNode[];
  constructor(
    readonly bin: string,
    names: string[],
    basePort: number,
    readonly args: string[],
  ) {
    this.nodes = names.map((n, i) => new LoopbackNode(n, basePort + 2 * i, basePort + 2 * i + 1, args));
  }

  node(name: string): LoopbackNode {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }
  live(): LoopbackNode[] {
    return this.nodes.filter((n) => n.alive);
  }
  /** Mesh addresses of every node but `name`. */
  seeds(name: string): string[] {
    return this.nodes.filter((n) => n.name !== name).map((n) => n.mesh);
  }

  async start(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.start(this.bin, this.seeds(n.name))));
    await this.waitReady(this.nodes, 60_000);
  }
  async restart(name: string, more: string[] = []): Promise<void> {
    const n = this.node(name);
    await n.start(this.bin, this.seeds(name), more);
  }
  async waitReady(nodes: LoopbackNode[], ms = 30_000): Promise<void> {
    await until(`${nodes.map((n) => n.name).join(",")} ready`, async () => {
      const rs = await Promise.all(nodes.map((n) => n.ready()));
      return rs.every(Boolean) ? true : undefined;
    }, ms, 100);
  }
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }
  logs(): string {
    return this.nodes.map((n) => `==== ${n.name}\n${n.logs().slice(-20_000)}`).join("\n");
  }
}

/** GET a JSON answer from one node, retrying `unavailable` until the deadline. */
export async function settledGet<T>(url: string, deadlineMs = 20_000): Promise<T> {
  return until(`GET ${url}`, async () => {
    const r = await call(url, undefined, 10_000);
    if (r.code === "ok") return r.body as T;
    throw new Error(`${r.code} ${r.message}`);
  }, deadlineMs, 200);
}

export interface Walk {
  room: string;
  node: string;
  r: Stamped;
}

/**
 * One sequential worker per person: walks into the next room through the
 * next live node until stopped. Raw requests (no client retries), so every
 * answer, `unknown_room` included, is seen.
 */
export class Walkers {
  readonly history = new Map<string, Walk[]>();
  #stop = false;
  #workers: Promise<void>[] = [];

  constructor(
    readonly people: string[],
    readonly rooms: () => string[],
    readonly nodes: () => LoopbackNode[],
    readonly paceMs = 10,
  ) {
    for (const p of people) this.history.set(p, []);
  }

  start(): void {
    this.#workers = this.people.map((p, i) => this.#work(p, i));
  }
  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#workers);
  }

  async #work(person: string, i: number): Promise<void> {
    const log = this.history.get(person)!;
    for (let j = 0; !this.#stop && j < 1_000_000; j++) {
      const ns = this.nodes();
      const rs = this.rooms();
      if (ns.length === 0 || rs.length === 0) {
        await sleep(50);
        continue;
      }
      const node = ns[(i + j) % ns.length]!;
      const room = rs[(i * 7 + j * 3) % rs.length]!;
      const r = await call(`${node.url}/v1/walk-into`, { room, people: [person] });
      log.push({ room, node: node.name, r });
      await sleep(r.code === "ok" ? this.paceMs : 30);
    }
  }

  acked(): number {
    let n = 0;
    for (const l of this.history.values()) n += l.filter((w) => w.r.code === "ok").length;
    return n;
  }
  codes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.history.values()) for (const w of l) out[w.r.code] = (out[w.r.code] ?? 0) + 1;
    return out;
  }
  /** Rooms the person may be in: the last acknowledged walk's, or any later one that may have applied; null if none acknowledged. */
  allowed(person: string): Set<string> | null {
    const log = this.history.get(person) ?? [];
    let last = -1;
    for (let j = 0; j < log.length; j++) if (log[j]!.r.code === "ok") last = j;
    if (last < 0) return null;
    return new Set(log.slice(last).filter((w, k) => k === 0 || maybeApplied(w.r.code)).map((w) => w.room));
  }
  /** Problems in a dump: a person in two rooms, or not where an acknowledged walk put them. */
  check(dump: Record<string, string[]>): string[] {
    const where = new Map<string, string>();
    const problems: string[] = [];
    for (const [room, ps] of Object.entries(dump)) {
      for (const p of ps) {
        if (where.has(p)) problems.push(`${p} in both ${where.get(p)} and ${room}`);
        where.set(p, room);
      }
    }
    for (const p of this.people) {
      const ok = this.allowed(p);
      if (ok === null) continue;
      const at = where.get(p);
      if (at === undefined || !ok.has(at)) problems.push(`${p}: in ${at ?? "no room"}, allowed ${[...ok].join("|")}`);
    }
    return problems;
  }
}
