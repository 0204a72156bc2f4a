/**
 * Client load for the partition tests, every request and answer recorded.
 *
 * - Person workers: one sequential worker per person (so a person's writes
 *   are ordered in real time), each step a seeded choice of walk-into (any
 *   room, capacity rooms included), leave, who-is-in, dump (all rooms or a
 *   few named) or where-is (self), through a node chosen at random among all
 *   nodes, whichever side of a partition it is on.
 * - Serve probes: one worker per room walking that room's own person
 *   (`<prefix>svc-<room>`) into it, again and again, through the nodes that
 *   `probeNodes()` names at that moment (the side that must serve during a
 *   partition), so how soon each room is served again is measured.
 *
 * Every loop is bounded (stop flag and a step cap), and paced so five nodes,
 * the load and other work share two cores. Choices come from walk-load.ts's
 * seeded PRNG (SEED replays a run).
 */
import type { Answer, NsCluster } from "./netns-roomy.ts";
import { sleep } from "./procs.ts";
import { seeded } from "./walk-load.ts";

export type OpKind = "walk" | "leave" | "who" | "dump" | "where";

export interface Op {
  kind: OpKind;
  /** Index of the node asked. */
  node: number;
  person?: string;
  /** walk and who: the room. */
  room?: string;
  /** dump: the rooms named (empty: all). */
  rooms?: string[];
  /** Date.now() when sent and when answered. */
  start: number;
  end: number;
  status: number | null;
  code: string;
  body: unknown;
  message: string;
  probe: boolean;
}

export interface RoomSpec {
  name: string;
  capacity: number | null;
}

const REQUEST_TIMEOUT_MS = 10_000; // past the node's 5 s call and write-ack timeouts: we want its answer
const PACE_MS = 40;
const PACE_AFTER_FAILURE_MS = 100;
const PROBE_PACE_MS = 100;
const PROBES_IN_FLIGHT = 64; // more than the probes sent while a cut owner is not yet known to be down (5 s of them)
const MAX_STEPS = 20_000;

export class Load {
  readonly ops: Op[] = [];
  readonly people: string[];
  private stopping = false;
  private workers: Promise<void>[] = [];
  private probers: Promise<void>[] = [];

  constructor(
    private readonly cluster: NsCluster,
    readonly rooms: readonly RoomSpec[],
    readonly prefix: string,
    workers: number,
    private readonly seed: number,
    /** Nodes the serve probes go through now (read before every probe). */
    public probeNodes: () => number[],
  ) {
    this.people = Array.from({ length: workers }, (_, i) => `${prefix}p${String(i).padStart(2, "0")}`);
  }

  svcPerson(room: string): string {
    return `${this.prefix}svc-${room}`;
  }
  /** Every person any write named. */
  everyone(): string[] {
    return [...this.people, ...this.rooms.map((r) => this.svcPerson(r.name))];
  }

  private async send(kind: OpKind, node: number, probe: boolean, fields: Partial<Op>, call: () => Promise<Answer>): Promise<Op> {
    const start = Date.now();
    const a = await call();
    const op: Op = { kind, node, start, end: Date.now(), status: a.status, code: a.code, body: a.body, message: a.message, probe, ...fields };
    this.ops.push(op);
    return op;
  }

  walk(node: number, room: string, person: string, probe = false): Promise<Op> {
    const n = this.cluster.nodes[node]!;
    return this.send("walk", node, probe, { room, person }, () => n.call("POST", "/v1/walk-into", { room, people: [person] }, REQUEST_TIMEOUT_MS));
  }
  private leave(node: number, person: string): Promise<Op> {
    const n = this.cluster.nodes[node]!;
    return this.send("leave", node, false, { person }, () => n.call("POST", "/v1/leave", { people: [person] }, REQUEST_TIMEOUT_MS));
  }
  private who(node: number, room: string): Promise<Op> {
    const n = this.cluster.nodes[node]!;
    return this.send("who", node, false, { room }, () => n.call("GET", `/v1/who-is-in?${new URLSearchParams({ room })}`, undefined, REQUEST_TIMEOUT_MS));
  }
  private dump(node: number, rooms: string[]): Promise<Op> {
    const n = this.cluster.nodes[node]!;
    const q = new URLSearchParams(rooms.map((r) => ["room", r]));
    return this.send("dump", node, false, { rooms }, () => n.call("GET", rooms.length === 0 ? "/v1/dump" : `/v1/dump?${q}`, undefined, REQUEST_TIMEOUT_MS));
  }
  private where(node: number, person: string): Promise<Op> {
    const n = this.cluster.nodes[node]!;
    return this.send("where", node, false, { person }, () => n.call("GET", `/v1/where-is?${new URLSearchParams({ person })}`, undefined, REQUEST_TIMEOUT_MS));
  }

  /** Starts the serve probes and waits until each room's own person is in it once (or throws at the deadline). */
  async startProbes(deadlineMs: number): Promise<void> {
    const firstIn = this.rooms.map(() => {
      let resolve = (): void => {};
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    });
    this.probers = this.rooms.map((r, k) => this.probe(r.name, () => firstIn[k]!.resolve()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`serve probes: not every room took its own person within ${deadlineMs} ms`)), deadlineMs);
    });
    try {
      await Promise.race([Promise.all(firstIn.map((d) => d.promise)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A new probe every PROBE_PACE_MS, not after the last one answered: a probe
   * sent just as its room's owner was cut off keeps its deadline (the owner
   * may only be slow) and answers after the call timeout, and how soon the
   * room is served again is what later probes show. At most PROBES_IN_FLIGHT
   * at once; they all walk the room's own person into it, so their order
   * does not matter.
   */
  private async probe(room: string, firstOk: () => void): Promise<void> {
    const person = this.svcPerson(room);
    const inFlight = new Set<Promise<void>>();
    for (let step = 0; !this.stopping && step < MAX_STEPS; step++) {
      if (inFlight.size >= PROBES_IN_FLIGHT) await Promise.race(inFlight);
      if (this.stopping) break;
      const nodes = this.probeNodes();
      const p: Promise<void> = this.walk(nodes[step % nodes.length]!, room, person, true).then((op) => {
        inFlight.delete(p);
        if (op.code === "ok") firstOk();
      });
      inFlight.add(p);
      await sleep(PROBE_PACE_MS);
    }
    await Promise.all(inFlight);
  }

  /** Starts the person workers. */
  startWorkers(): void {
    this.workers = this.people.map((p, i) => this.work(p, seeded(this.seed * 1000 + i)));
  }

  private async work(person: string, rnd: () => number): Promise<void> {
    const n = this.cluster.nodes.length;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    for (let step = 0; !this.stopping && step < MAX_STEPS; step++) {
      const node = Math.floor(rnd() * n);
      const x = rnd();
      let op: Op;
      if (x < 0.45) op = await this.walk(node, pick(this.rooms).name, person);
      else if (x < 0.55) op = await this.leave(node, person);
      else if (x < 0.72) op = await this.who(node, pick(this.rooms).name);
      else if (x < 0.85) op = await this.dump(node, rnd() < 0.5 ? [] : [pick(this.rooms).name, pick(this.rooms).name].filter((r, i, a) => a.indexOf(r) === i));
      else op = await this.where(node, person);
      await sleep(op.code === "ok" ? PACE_MS : PACE_AFTER_FAILURE_MS);
    }
  }

  /** Stops every worker and probe after its request in flight. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.workers, ...this.probers]);
  }

  /** Answers by code, for the report. */
  tally(filter: (op: Op) => boolean = () => true): Record<string, number> {
    const out: Record<string, number> = {};
    for (const op of this.ops) if (filter(op)) out[`${op.kind}:${op.code}`] = (out[`${op.kind}:${op.code}`] ?? 0) + 1;
    return out;
  }
}
