/**
 * Where to find the cluster: static `--join host:port` seeds and
 * `--discover dns:SERVICE[:PORT]` (the A records of a Kubernetes headless
 * service), polled. Resolution is injected so the loop can run on the
 * simulator; the real resolver lives in adapter/dns.ts.
 */
import type { Address, Clock, Logger, Timer } from "../types.ts";
import { silentLogger } from "../types.ts";

/** Resolves a host name to IPv4 addresses. */
export type Resolve4 = (host: string) => Promise<string[]>;

export interface DnsTarget {
  host: string;
  port: number;
}

/** Parse `dns:SERVICE[:PORT]`; the port defaults to the mesh port. */
export function parseDiscover(spec: string, defaultPort: number): DnsTarget {
  const m = /^dns:([^:\s]+)(?::(\d+))?$/.exec(spec.trim());
  if (m === null) throw new Error(`--discover must look like dns:SERVICE[:PORT], got ${JSON.stringify(spec)}`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--discover port out of range: ${m[2]}`);
  return { host: m[1]!, port };
}

/** Split repeated and comma-separated `--join` values into addresses. */
export function parseJoin(values: readonly string[]): Address[] {
  const out: Address[] = [];
  for (const v of values) {
    for (const part of v.split(",")) {
      const a = part.trim();
      if (a === "") continue;
      if (!/^.+:\d{1,5}$/.test(a)) throw new Error(`--join expects HOST:PORT, got ${JSON.stringify(a)}`);
      out.push(a);
    }
  }
  return [...new Set(out)];
}

export interface DiscoveryOptions {
  /** Static seeds (from --join). */
  seeds: readonly Address[];
  /** DNS targets (from --discover). */
  dns: readonly DnsTarget[];
  resolve4: Resolve4;
  /** Our own address, never joined. */
  self: Address;
  /** Addresses of members currently alive (not worth joining again). */
  alive: () => ReadonlySet<Address>;
  /** Try to join through these addresses; resolves to how many answered. */
  join: (addresses: Address[]) => Promise<number>;
  clock: Clock;
  /** Poll period once joined (default 5 s); retries sooner before that. */
  intervalMs?: number;
  /** First retry period while nobody answered (default 500 ms, doubling to intervalMs). */
  retryMs?: number;
  logger?: Logger;
}

export interface Discovery {
  /** One round now: resolve, join what is not alive. Returns how many answered. */
  round(): Promise<number>;
  /** Addresses found by the last round. */
  lastFound(): Address[];
  stop(): void;
}

/**
 * Start polling. Seeds that are not alive members are joined again every
 * round, so a side cut off by a partition merges back once it heals, even
 * after both sides declared each other dead.
 */
export function startDiscovery(opts: DiscoveryOptions): Discovery {
  const log = opts.logger ?? silentLogger;
  const interval = opts.intervalMs ?? 5000;
  let retry = opts.retryMs ?? 500;
  let timer: Timer | null = null;
  let stopped = false;
  let found: Address[] = [];
  let joinedOnce = false;

  async function candidates(): Promise<Address[]> {
    const all = new Set<Address>(opts.seeds);
    for (const t of opts.dns) {
      try {
        for (const ip of await opts.resolve4(t.host)) all.add(`${ip}:${t.port}`);
      } catch (err) {
        log.debug("dns lookup failed", { host: t.host, error: String(err) });
      }
    }
    all.delete(opts.self);
    return [...all].sort();
  }

  async function round(): Promise<number> {
    found = await candidates();
    const alive = opts.alive();
    const todo = found.filter((a) => !alive.has(a));
    if (todo.length === 0) return 0;
    const answered = await opts.join(todo);
    if (answered > 0) joinedOnce = true;
    return answered;
  }

  function schedule(): void {
    if (stopped) return;
    const delay = joinedOnce ? interval : retry;
    retry = Math.min(interval, retry * 2);
    timer = opts.clock.setTimer(delay, () => {
      round()
        .catch((err) => log.warn("discovery round failed", { error: String(err) }))
        .finally(schedule);
    });
  }

  if (opts.seeds.length > 0 || opts.dns.length > 0) {
    void round()
      .catch((err) => log.warn("discovery round failed", { error: String(err) }))
      .finally(schedule);
  }

  return {
    round,
    lastFound: () => found.slice(),
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}
