/**
 * A mixed load for the hostile real-process tests, checked against the
 * README's promises while a fault schedule runs: people walking between
 * rooms (some with a capacity), cars parking and leaving, and readers
 * (who-is-in, the room list, full dumps, the lot) on every live node.
 *
 * Checked while it runs: no `unknown_room` for a room created before the
 * load began, no answer showing a capacity room over its capacity or the lot
 * over its spaces, no 200 dump missing a room or holding a person twice.
 * Checked once settled (`settle`), on every node: the dump holds everyone
 * where an acknowledged walk put them, the lot every car an acknowledged
 * operation left in it (and none it took out), and all nodes agree.
 */
import { call, HostileCluster, maybeApplied, settledGet, sleep, type Stamped, Walkers } from "./hostile-kit.ts";

export interface LoadSpec {
  rooms: string[];
  /** capacity rooms: name -> seats */
  capRooms: Record<string, number>;
  people: number;
  plates: number;
  spaces: number;
  gates: number;
}

interface LotOp {
  kind: "park" | "unpark";
  r: Stamped;
  node: string;
}

export class MixedLoad {
  readonly violations: string[] = [];
  readonly counts: Record<string, number> = {};
  readonly walkers: Walkers;
  readonly lotHistory = new Map<string, LotOp[]>();
  #stop = false;
  #tasks: Promise<void>[] = [];
  readonly t0 = Date.now();

  constructor(readonly c: HostileCluster, readonly spec: LoadSpec) {
    const all = [...spec.rooms, ...Object.keys(spec.capRooms)];
    this.walkers = new Walkers(Array.from({ length: spec.people }, (_, i) => `p${i}`), () => all, () => c.live(), 20);
    for (let i = 0; i < spec.plates; i++) this.lotHistory.set(`CAR ${i}`, []);
  }

  count(k: string): void {
    this.counts[k] = (this.counts[k] ?? 0) + 1;
  }
  at(t = Date.now()): string {
    return `${((t - this.t0) / 1000).toFixed(1)}s`;
  }
  violate(s: string): void {
    if (this.violations.length < 500) this.violations.push(s);
  }

  /** Creates the rooms through the first node (retrying while the cluster settles). */
  async setUp(): Promise<void> {
    const url = this.c.nodes[0]!.url;
    await settledPost(`${url}/v1/rooms`, { rooms: this.spec.rooms });
    const byCap = new Map<number, string[]>();
    for (const [r, n] of Object.entries(this.spec.capRooms)) byCap.set(n, [...(byCap.get(n) ?? []), r]);
    for (const [n, rooms] of byCap) await settledPost(`${url}/v1/rooms`, { rooms, capacity: n });
  }

  start(): void {
    this.walkers.start();
    const plates = [...this.lotHistory.keys()];
    const perWorker = 3;
    for (let w = 0; w * perWorker < plates.length; w++) this.#tasks.push(this.#parker(w, plates.slice(w * perWorker, (w + 1) * perWorker)));
    for (let w = 0; w < 2; w++) this.#tasks.push(this.#reader(w));
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all([...this.#tasks, this.walkers.stop()]);
    for (const [p, log] of this.walkers.history) for (const w of log) {
      this.count(`walk ${w.r.code}`);
      if (w.r.code === "unknown_room") this.violate(`${this.at(w.r.sent)} ${w.node}: walk ${p} into ${w.room}: unknown_room`);
    }
  }

  async #parker(w: number, plates: string[]): Promise<void> {
    for (let k = 0; !this.#stop && k < 1_000_000; k++) {
      const live = this.c.live();
      if (live.length === 0) {
        await sleep(50);
        continue;
      }
      const node = live[(w + k) % live.length]!;
      const plate = plates[k % plates.length]!;
      const log = this.lotHistory.get(plate)!;
      const parked = log.length > 0 && log[log.length - 1]!.kind === "park";
      const kind = parked && (k + w) % 3 !== 0 ? "unpark" : "park";
      const gate = 1 + ((k + w) % this.spec.gates);
      const r = await call(`${node.url}/v1/gates/${gate}/${kind}`, { plate });
      log.push({ kind, r, node: node.name });
      this.count(`${kind} ${r.code}`);
      await sleep(r.code === "ok" ? 15 : 40);
    }
  }

  async #reader(w: number): Promise<void> {
    const caps = Object.entries(this.spec.capRooms);
    const rooms = [...this.spec.rooms, ...caps.map(([r]) => r)];
    for (let k = 0; !this.#stop && k < 1_000_000; k++) {
      const live = this.c.live();
      if (live.length === 0) {
        await sleep(50);
        continue;
      }
      const node = live[(w + k) % live.length]!;
      const kind = k % 4;
      if (kind === 0) {
        const room = rooms[(k * 31 + w) % rooms.length]!;
        const r = await call(`${node.url}/v1/who-is-in?room=${encodeURIComponent(room)}`);
        this.count(`who ${r.code}`);
        if (r.code === "unknown_room") this.violate(`${this.at(r.sent)} ${node.name}: who-is-in ${room}: unknown_room`);
        const cap = this.spec.capRooms[room];
        if (r.code === "ok" && cap !== undefined && (r.body as string[]).length > cap) this.violate(`${this.at(r.sent)} ${node.name}: who-is-in ${room} holds ${(r.body as string[]).length} > ${cap}`);
      } else if (kind === 1) {
        const r = await call(`${node.url}/v1/dump`, undefined, 10_000);
        this.count(`dump ${r.code}`);
        if (r.code === "ok") this.#checkDump(`${this.at(r.sent)} ${node.name}`, r.body as Record<string, string[]>);
      } else if (kind === 2) {
        const r = await call(`${node.url}/v1/lot`);
        this.count(`lot ${r.code}`);
        if (r.code === "ok") this.#checkLot(`${this.at(r.sent)} ${node.name}`, r.body as LotBody);
      } else {
        const r = await call(`${node.url}/v1/rooms`);
        this.count(`rooms ${r.code}`);
        if (r.code === "ok") {
          const have = new Set(r.body as string[]);
          const missing = rooms.filter((x) => !have.has(x));
          if (missing.length > 0) this.violate(`${this.at(r.sent)} ${node.name}: room list 200 without ${missing.join(",")}`);
        }
      }
      await sleep(40);
    }
  }

  #checkDump(where: string, dump: Record<string, string[]>): void {
    const seen = new Map<string, string>();
    for (const room of [...this.spec.rooms, ...Object.keys(this.spec.capRooms)]) if (!(room in dump)) this.violate(`${where}: dump 200 without room ${room}`);
    for (const [room, ps] of Object.entries(dump)) {
      const cap = this.spec.capRooms[room];
      if (cap !== undefined && ps.length > cap) this.violate(`${where}: dump shows ${room} with ${ps.length} > ${cap}`);
      for (const p of ps) {
        if (seen.has(p)) this.violate(`${where}: dump shows ${p} in both ${seen.get(p)} and ${room}`);
        seen.set(p, room);
      }
    }
  }

  #checkLot(where: string, lot: LotBody): void {
    const n = Object.keys(lot.vehicles).length;
    if (lot.occupied > lot.spaces || n > this.spec.spaces || lot.occupied !== n) this.violate(`${where}: lot occupied ${lot.occupied}, ${n} vehicles, spaces ${lot.spaces} (of ${this.spec.spaces})`);
  }

  /** Whether each plate must be parked (true), must not be (false), or may be either (null), from its history. */
  expectedLot(): Map<string, boolean | null> {
    const out = new Map<string, boolean | null>();
    for (const [plate, log] of this.lotHistory) {
      let state: boolean | null = false;
      for (const op of log) {
        if (op.r.code === "ok") state = op.kind === "park";
        else if (op.r.code === "not_parked" || op.r.code === "lot_full") state = false;
        else if (maybeApplied(op.r.code)) state = null;
      }
      out.set(plate, state);
    }
    return out;
  }

  /** Every node, once settled: dumps and lots equal, each consistent with the acknowledged history. */
  async settle(deadlineMs = 30_000): Promise<void> {
    const dumps: string[] = [];
    const lots: string[] = [];
    const expected = this.expectedLot();
    for (const n of this.c.nodes) {
      if (!n.alive) continue;
      const dump = await settledGet<Record<string, string[]>>(`${n.url}/v1/dump`, deadlineMs);
      this.#checkDump(`settled ${n.name}`, dump);
      for (const v of this.walkers.check(dump)) this.violate(`settled ${n.name}: ${v}`);
      dumps.push(JSON.stringify(dump));
      const lot = await settledGet<LotBody>(`${n.url}/v1/lot`, deadlineMs);
      this.#checkLot(`settled ${n.name}`, lot);
      for (const [plate, must] of expected) {
        const has = plate in lot.vehicles;
        if (must !== null && must !== has) this.violate(`settled ${n.name}: ${plate} ${has ? "parked" : "not parked"}, but its last acknowledged operation left it ${must ? "parked" : "out"} (${this.lotHistory.get(plate)!.slice(-4).map((o) => `${o.kind} ${o.r.code} via ${o.node} at ${this.at(o.r.sent)}`).join("; ")})`);
      }
      lots.push(JSON.stringify(Object.keys(lot.vehicles).sort()));
    }
    if (new Set(dumps).size > 1) this.violate(`settled dumps differ between nodes`);
    if (new Set(lots).size > 1) this.violate(`settled lots differ between nodes: ${lots.join(" | ")}`);
  }
}

interface LotBody {
  spaces: number;
  occupied: number;
  available: number;
  vehicles: Record<string, unknown>;
}

async function settledPost(url: string, body: unknown): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await call(url, body);
    if (r.code === "ok") return;
    if (Date.now() > deadline) throw new Error(`POST ${url}: ${r.code} ${r.message}`);
    await sleep(200);
  }
}
