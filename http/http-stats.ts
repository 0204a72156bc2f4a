/**
 * HTTP request metrics: a Hono middleware counting requests by method, route
 * pattern and status and timing them per route. Routes are the registered
 * patterns ("/v1/rooms/:room/people"), never raw paths: names of rooms and
 * people must not leak into metrics, and the number of series stays bounded.
 * At debug level it also writes one access-log line per request (no headers,
 * so no token).
 */
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { Logger } from "../mesh/types.ts";
import { Histogram, type HistogramSeries, type Sample } from "./prom.ts";

/** Seconds; HTTP calls on a node take from tens of microseconds to a write-concern timeout. */
const BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Requests that matched no route (404s, scanners) share one label. */
export const UNMATCHED_ROUTE = "unmatched";

export interface HttpStats {
  middleware: MiddlewareHandler;
  /** Counts one request answered outside the router (http/hot-routes.ts), as the middleware would. */
  record(method: string, route: string, status: number, seconds: number): void;
  /** The clock the middleware times with (monotonic milliseconds). */
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

export function createHttpStats(opts: HttpStatsOptions = {}): HttpStats {
  const now = opts.now ?? (() => performance.now());
  const counts = new Map<string, { method: string; route: string; status: number; n: number }>();
  const hist = new Map<string, Histogram>();
  const log = opts.accessLog;

  const record = (method: string, route: string, status: number, seconds: number): void => {
    const key = `${method} ${status} ${route}`;
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { method, route, status, n: 1 });
    else entry.n++;
    let h = hist.get(route);
    if (h === undefined) hist.set(route, (h = new Histogram(BOUNDS)));
    h.observe(seconds);
    log?.debug("http", { method, route, status, ms: Math.round(seconds * 1e5) / 100 });
  };

  const middleware: MiddlewareHandler = async (c, next) => {
    const t0 = now();
    await next();
    record(c.req.method, routeOf(c), c.res.status, (now() - t0) / 1000);
  };

  return {
    middleware,
    record,
    now,
    requests: () =>
      [...counts.values()]
        .sort((a, b) => cmp(a.route, b.route) || cmp(a.method, b.method) || a.status - b.status)
        .map((e) => ({ labels: { method: e.method, route: e.route, status: e.status }, value: e.n })),
    durations: () => [...hist.entries()].sort((a, b) => cmp(a[0], b[0])).map(([route, h]) => h.series({ route })),
  };
}

function routeOf(c: Context): string {
  const p = routePath(c, -1);
  // Only middleware matched ("*", "/v1/*"): no handler, so no route.
  return p === "" || p.endsWith("*") ? UNMATCHED_ROUTE : p;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
