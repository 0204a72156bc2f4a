/**
 * HTTP request metrics: requests counted by method, route pattern and status
 * and timed per route. Routes are the registered patterns
 * ("/v1/rooms/:room/people"), never raw paths: names of rooms and people must
 * not leak into metrics, and the number of series stays bounded. Each route
 * gets its counters once, when it is registered (http/instrument.ts), so a
 * request costs a map lookup by status and a histogram step, no string
 * building. At debug level it also writes one access-log line per request
 * (no headers, so no token).
 */
import type { Logger } from "../mesh/types.ts";
import { PromHistogram, type HistogramSeries, type Sample } from "./prom.ts";
import { monotonicMs } from "../adapter/clock.ts";

/** Seconds; HTTP calls on a node take from tens of microseconds to a write-concern timeout. */
const BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Requests that matched no route (404s, scanners) share one label. */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * Methods counted under their own name; any other (a made-up method, a
 * lower-case one: Deno's server hands them all to the app) is counted as
 * "other", or every new one would add a series forever.
 */
const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"]);
export const OTHER_METHOD = "other";

/** The counters of one method and route pattern. */
export interface RouteStats {
  record(status: number, seconds: number): void;
}

export interface HttpStats {
  /** The counters of `method` + `route` (one object per pair: take it once, at registration). */
  route(method: string, route: string): RouteStats;
  /** Counts one request of `method` + `route` (the slower way, for requests outside a registered route). */
  record(method: string, route: string, status: number, seconds: number): void;
  /** The clock requests are timed with (monotonic milliseconds). */
  now(): number;
  /** roomy_http_requests_total samples. */
  requests(): Sample[];
  /** roomy_http_request_duration_seconds series, one per route. */
  durations(): HistogramSeries[];
}

export interface HttpStatsOptions {
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
  /** When given, one debug line per request. */
  accessLog?: Logger;
}

interface RouteCounters extends RouteStats {
  method: string;
  route: string;
  byStatus: Map<number, number>;
}

export function createHttpStats(opts: HttpStatsOptions = {}): HttpStats {
  const now = opts.now ?? monotonicMs;
  const routes = new Map<string, RouteCounters>();
  const hist = new Map<string, PromHistogram>();
  const log = opts.accessLog;

  const route = (given: string, pattern: string): RouteCounters => {
    const method = METHODS.has(given) ? given : OTHER_METHOD;
    const key = `${method} ${pattern}`;
    const known = routes.get(key);
    if (known !== undefined) return known;
    let h = hist.get(pattern);
    if (h === undefined) hist.set(pattern, (h = new PromHistogram(BOUNDS)));
    const byStatus = new Map<number, number>();
    const histogram = h;
    const counters: RouteCounters = {
      method,
      route: pattern,
      byStatus,
      record(status: number, seconds: number): void {
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
        histogram.observe(seconds);
        log?.debug("http", { method, route: pattern, status, ms: Math.round(seconds * 1e5) / 100 });
      },
    };
    routes.set(key, counters);
    return counters;
  };

  return {
    route,
    record: (method, pattern, status, seconds) => route(method, pattern).record(status, seconds),
    now,
    requests: () => {
      const out: { method: string; route: string; status: number; n: number }[] = [];
      for (const r of routes.values()) for (const [status, n] of r.byStatus) out.push({ method: r.method, route: r.route, status, n });
      return out
        .sort((a, b) => cmp(a.route, b.route) || cmp(a.method, b.method) || a.status - b.status)
        .map((e) => ({ labels: { method: e.method, route: e.route, status: e.status }, value: e.n }));
    },
    durations: () =>
      [...hist.entries()]
        .filter(([, h]) => h.count > 0)
        .sort((a, b) => cmp(a[0], b[0]))
        .map(([pattern, h]) => h.series({ route: pattern })),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
