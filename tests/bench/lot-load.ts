/**
 * The load client of the lot benchmark, run as its own process (pinned to a
 * core of its own by lot.bench.ts): `bun tests/bench/lot-load.ts '<json>'`.
 * The same code drives both sides: `clients` concurrent loops, each with
 * fetch over keep-alive HTTP/1.1 and JSON, each admitting distinct plates,
 * spread over every node (and for roomy every gate). It prints `go` when the
 * measured window starts and one JSON line (LoadResult) at the end.
 *
 * The etcd admissions (one v3 transaction each, through the JSON gateway, or
 * for "etcd-grpc-slots" over gRPC with the npm package etcd3):
 * - "etcd-counter", the words: If(value(lot/count) == n && version(car) == 0)
 *   Then(put lot/count n+1, put car) Else(get count, get car); a failed compare
 *   retries with the count the Else branch read. Every admission goes through
 *   the one counter key, so concurrent clients conflict.
 * - "etcd-slots", as roomy's lot does it (a car takes a free slot): If(version(slot i) == 0
 *   && version(car) == 0) Then(put slot i = plate, put car = i) Else(get car). Each client
 *   picks a random slot it believes free; on a taken slot it re-reads the taken slots (a
 *   keys-only range) and tries another; none free, or a count-only range at the spaces, is
 *   `lot_full`. No shared hot key.
 */

import { readFileSync } from "node:fs";

export type LoadKind = "roomy" | "etcd-counter" | "etcd-slots" | "etcd-grpc-slots";

export interface LoadConfig {
  kind: LoadKind;
  urls: string[];
  clients: number;
  /** plates are `${prefix}-${client}-${seq}`: distinct across runs that use distinct prefixes */
  prefix: string;
  /** measured window (time-bounded run) ... */
  durationMs?: number;
  /** ... or this many plates in all (count-bounded run: the filling lot) */
  plates?: number;
  gates: number;
  spaces: number;
  /** etcd: the key prefix of this lot (default "lot/"), so that several lots share one cluster */
  ns?: string;
  /** unmeasured admissions per client before the window, to open connections and warm up */
  warm: number;
}

export interface LoadResult {
  admitted: number;
  refused: number;
  errors: number;
  /** etcd: transactions whose compare failed and were retried */
  conflicts: number;
  elapsedMs: number;
  perSec: number;
  p50ms: number;
  p99ms: number;
  /** this process's CPU (utime + stime, every thread) over the window, clock ticks; -1 without /proc */
  clientTicks: number;
  firstError?: string;
}

type Outcome = "admitted" | "refused";

const enc = (s: string): string => btoa(s);
const dec = (s: string | undefined): string => (s === undefined ? "" : atob(s));
const MAX_TRIES = 10_000;

interface TxnAnswer {
  succeeded?: boolean;
  responses?: { response_range?: { kvs?: { key: string; value?: string }[]; count?: string } }[];
}

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
}

async function txn(url: string, body: unknown): Promise<TxnAnswer> {
  const res = await post(`${url}/v3/kv/txn`, body);
  if (!res.ok) throw new Error(`etcd txn: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as TxnAnswer;
}

const rangeKvs = (a: TxnAnswer, i: number) => a.responses?.[i]?.response_range?.kvs ?? [];

/** One client's admission function: resolves with the outcome, counts retries in `conflicts`. */
type Admit = (plate: string) => Promise<Outcome>;

function roomyClient(cfg: LoadConfig, c: number): Admit {
  const url = cfg.urls[c % cfg.urls.length]!;
  const gate = (c % cfg.gates) + 1;
  return async (plate) => {
    const res = await post(`${url}/v1/gates/${gate}/park`, { plate });
    const text = await res.text();
    if (res.ok) return "admitted";
    if (res.status === 409 && text.includes("lot_full")) return "refused";
    throw new Error(`roomy park: HTTP ${res.status} ${text.slice(0, 200)}`);
  };
}

function counterClient(cfg: LoadConfig, c: number, stats: { conflicts: number }): Admit {
  const url = cfg.urls[c % cfg.urls.length]!;
  const ns = cfg.ns ?? "lot/";
  const countKey = enc(`${ns}count`);
  let n = 0; // this client's belief of the count, corrected by every failed compare
  return async (plate) => {
    const car = enc(`${ns}car/${plate}`);
    for (let i = 0; i < MAX_TRIES; i++) {
      if (n >= cfg.spaces) return "refused";
      const a = await txn(url, {
        compare: [
          { target: "VALUE", key: countKey, result: "EQUAL", value: enc(String(n)) },
          { target: "VERSION", key: car, result: "EQUAL", version: "0" },
        ],
        success: [{ requestPut: { key: countKey, value: enc(String(n + 1)) } }, { requestPut: { key: car, value: enc(String(n + 1)) } }],
        failure: [{ requestRange: { key: countKey } }, { requestRange: { key: car } }],
      });
      if (a.succeeded === true) {
        n++;
        return "admitted";
      }
      if (rangeKvs(a, 1).length > 0) return "admitted"; // already parked: a no-op, as in roomy
      n = Number(dec(rangeKvs(a, 0)[0]?.value));
      stats.conflicts++;
    }
    throw new Error(`etcd-counter: no admission of ${plate} in ${MAX_TRIES} tries`);
  };
}

/** The three etcd requests of a slot admission, over the JSON gateway or over gRPC. */
interface SlotOps {
  /** One transaction: claim `slot` for `plate` if both are free; "parked" if the car already is. */
  claim(slot: string, car: string, plate: string, slotNo: number): Promise<"claimed" | "taken" | "parked">;
  /** The keys under `prefix` (keys only). */
  keys(prefix: string): Promise<string[]>;
  /** How many keys under `prefix` (count only). */
  count(prefix: string): Promise<number>;
}

const rangeEnd = (prefix: string) => prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);

function gatewayOps(url: string): SlotOps {
  const range = (prefix: string, extra: Record<string, boolean>) =>
    txn(url, { compare: [], success: [{ requestRange: { key: enc(prefix), range_end: enc(rangeEnd(prefix)), ...extra } }], failure: [] });
  return {
    async claim(slot, car, plate, slotNo) {
      const a = await txn(url, {
        compare: [
          { target: "VERSION", key: enc(slot), result: "EQUAL", version: "0" },
          { target: "VERSION", key: enc(car), result: "EQUAL", version: "0" },
        ],
        success: [{ requestPut: { key: enc(slot), value: enc(plate) } }, { requestPut: { key: enc(car), value: enc(String(slotNo)) } }],
        failure: [{ requestRange: { key: enc(car) } }],
      });
      return a.succeeded === true ? "claimed" : rangeKvs(a, 0).length > 0 ? "parked" : "taken";
    },
    keys: async (prefix) => rangeKvs(await range(prefix, { keys_only: true }), 0).map((kv) => dec(kv.key)),
    count: async (prefix) => Number((await range(prefix, { count_only: true })).responses?.[0]?.response_range?.count ?? 0),
  };
}

/** The npm package etcd3 (gRPC over HTTP/2, one connection per member shared by its clients). */
interface Etcd3Like {
  if(key: string, column: "Version", cmp: "==", value: number): Etcd3Txn;
  put(key: string): { value(v: string): unknown };
  get(key: string): unknown;
  getAll(): { prefix(p: string): { keys(): Promise<string[]>; count(): Promise<number> } };
}
interface Etcd3Txn {
  and(key: string, column: "Version", cmp: "==", value: number): Etcd3Txn;
  then(...ops: unknown[]): Etcd3Txn;
  else(...ops: unknown[]): Etcd3Txn;
  commit(): Promise<{ succeeded: boolean; responses: { response_range?: { kvs?: unknown[] } }[] }>;
}

function grpcOps(cl: Etcd3Like): SlotOps {
  return {
    async claim(slot, car, plate, slotNo) {
      const a = await cl.if(slot, "Version", "==", 0).and(car, "Version", "==", 0)
        .then(cl.put(slot).value(plate), cl.put(car).value(String(slotNo)))
        .else(cl.get(car))
        .commit();
      return a.succeeded ? "claimed" : (a.responses[0]?.response_range?.kvs?.length ?? 0) > 0 ? "parked" : "taken";
    },
    keys: (prefix) => cl.getAll().prefix(prefix).keys(),
    count: (prefix) => cl.getAll().prefix(prefix).count(),
  };
}

function slotsClient(cfg: LoadConfig, ops: SlotOps, stats: { conflicts: number }): Admit {
  const ns = cfg.ns ?? "lot/";
  const prefix = `${ns}slot/`;
  // A client's view of free slots: only kept for a lot small enough to list;
  // in a huge lot a random slot is as good as free.
  const listable = cfg.spaces <= 100_000;
  let free: number[] | null = null;
  const refresh = async (): Promise<void> => {
    const taken = new Set((await ops.keys(prefix)).map((k) => Number(k.slice(prefix.length))));
    free = [];
    for (let i = 1; i <= cfg.spaces; i++) if (!taken.has(i)) free.push(i);
  };
  const pick = (): number | null => {
    if (!listable) return 1 + Math.floor(Math.random() * cfg.spaces);
    if (free === null || free.length === 0) return null;
    const j = Math.floor(Math.random() * free.length);
    const slot = free[j]!;
    free[j] = free[free.length - 1]!;
    free.pop();
    return slot;
  };
  return async (plate) => {
    const car = `${ns}car/${plate}`;
    if (listable && free === null) await refresh();
    for (let i = 0, fresh = false; i < MAX_TRIES; i++) {
      const slot = pick();
      if (slot === null) {
        // None free in a view just read, or counted full (cheaper than a listing, for a full lot's refusals).
        if (fresh || (await ops.count(prefix)) >= cfg.spaces) return "refused";
        await refresh();
        fresh = true;
        continue;
      }
      const got = await ops.claim(`${prefix}${slot}`, car, plate, slot);
      if (got !== "taken") return "admitted"; // "parked": already in, a no-op as in roomy
      stats.conflicts++;
      // The view is stale: re-read it (a read, where another blind try would be a write through the log).
      await refresh();
      fresh = true;
    }
    throw new Error(`etcd slots: no admission of ${plate} in ${MAX_TRIES} tries`);
  };
}

/** utime + stime of this process from /proc/self/stat (every thread: gRPC and fetch work off the main thread too). */
function selfTicks(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return -1;
  }
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function runLoad(cfg: LoadConfig, onGo: () => void = () => {}): Promise<LoadResult> {
  const stats = { conflicts: 0 };
  let grpc: Etcd3Like[] = [];
  if (cfg.kind === "etcd-grpc-slots") {
    // Loaded only here: the gateway rows need no gRPC.
    const { Etcd3 } = await import("etcd3");
    grpc = cfg.urls.map((u) => new Etcd3({ hosts: u }) as unknown as Etcd3Like);
  }
  const make = (c: number): Admit => {
    const url = cfg.urls[c % cfg.urls.length]!;
    if (cfg.kind === "roomy") return roomyClient(cfg, c);
    if (cfg.kind === "etcd-counter") return counterClient(cfg, c, stats);
    return slotsClient(cfg, cfg.kind === "etcd-slots" ? gatewayOps(url) : grpcOps(grpc[c % grpc.length]!), stats);
  };
  const clients = Array.from({ length: cfg.clients }, (_, c) => make(c));
  if (cfg.kind === "etcd-counter") {
    // The counter must exist for its value to compare: create it once (a no-op if it does).
    const key = enc(`${cfg.ns ?? "lot/"}count`);
    await txn(cfg.urls[0]!, { compare: [{ target: "VERSION", key, result: "EQUAL", version: "0" }], success: [{ requestPut: { key, value: enc("0") } }], failure: [] });
  }
  // Warm-up: unmeasured, plates of their own (they do take spaces: the filling run uses none).
  await Promise.all(clients.map(async (admit, c) => {
    for (let k = 0; k < cfg.warm; k++) await admit(`${cfg.prefix}w-${c}-${k}`);
  }));
  stats.conflicts = 0;
  const lat: number[] = [];
  let admitted = 0;
  let refused = 0;
  let errors = 0;
  let firstError: string | undefined;
  let next = 0; // count-bounded runs: the next plate number
  onGo();
  const ticks0 = selfTicks();
  const t0 = performance.now();
  const until = cfg.durationMs === undefined ? Infinity : t0 + cfg.durationMs;
  await Promise.all(clients.map(async (admit, c) => {
    for (let k = 0; ; k++) {
      let plate: string;
      if (cfg.plates !== undefined) {
        if (next >= cfg.plates) return;
        plate = `${cfg.prefix}-${next++}`;
      } else {
        if (performance.now() >= until) return;
        plate = `${cfg.prefix}-${c}-${k}`;
      }
      const s = performance.now();
      try {
        const o = await admit(plate);
        lat.push(performance.now() - s);
        if (o === "admitted") admitted++;
        else refused++;
      } catch (err) {
        errors++;
        firstError ??= String(err);
        if (errors > 100) return; // a broken server: stop rather than spin
      }
    }
  }));
  const elapsedMs = performance.now() - t0;
  const ticks1 = selfTicks();
  const sorted = Float64Array.from(lat).sort();
  return {
    admitted,
    refused,
    errors,
    conflicts: stats.conflicts,
    elapsedMs,
    perSec: ((admitted + refused) / elapsedMs) * 1000,
    p50ms: quantile(sorted, 0.5),
    p99ms: quantile(sorted, 0.99),
    clientTicks: ticks0 < 0 || ticks1 < 0 ? -1 : ticks1 - ticks0,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

if (import.meta.main) {
  const cfg = JSON.parse(process.argv[2] ?? "{}") as LoadConfig;
  const result = await runLoad(cfg, () => console.log("go"));
  console.log(JSON.stringify(result));
  process.exit(0);
}
