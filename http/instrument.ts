/**
 * Routes registered with their metrics, errors and (for /v1) the bearer
 * token built in: each handler is wrapped once, at registration, so a
 * request is still a single handler to Hono. Hono runs a lone handler
 * directly and composes a chain only when middleware also matches; a
 * catch-all metrics middleware put every request on that slower path and
 * looked up the route pattern per request.
 */
import type { Context, Hono } from "hono";
import { type HttpStats, UNMATCHED_ROUTE } from "./http-stats.ts";

export type RouteHandler = (c: Context) => Response | Promise<Response>;

export interface Routes {
  get(path: string, handler: RouteHandler): void;
  post(path: string, handler: RouteHandler): void;
}

export interface Guard {
  /** Paths starting with this need `check` to pass. */
  prefix: string;
  /** The refusal for a request without the token, or null to let it through. */
  check(req: Request): Response | null;
}

export interface InstrumentOptions {
  stats: HttpStats;
  /** The answer for an error a handler threw (RoomyError codes, or a 500). */
  onError(err: unknown, method: string, path: string): Response;
  /** Requests no route matched. */
  notFound(method: string, path: string): Response;
  guard?: Guard;
}

export function instrumentedRoutes(app: Hono, o: InstrumentOptions): Routes {
  const { stats, onError, guard } = o;
  const now = stats.now;
  const guardOf = (path: string): Guard["check"] | null => (guard !== undefined && path.startsWith(guard.prefix) ? guard.check : null);
  const add = (method: "GET" | "POST", path: string, h: RouteHandler): void => {
    const counters = stats.route(method, path);
    const check = guardOf(path);
    const wrapped = async (c: Context): Promise<Response> => {
      const t0 = now();
      let res: Response;
      try {
        res = (check === null ? null : check(c.req.raw)) ?? (await h(c));
      } catch (err) {
        res = onError(err, c.req.method, c.req.path);
      }
      counters.record(res.status, (now() - t0) / 1000);
      return res;
    };
    if (method === "GET") app.get(path, wrapped);
    else app.post(path, wrapped);
  };
  app.notFound((c) => {
    const t0 = now();
    const path = c.req.path;
    // Unknown /v1 paths are refused like known ones without the token: the token guards which routes exist too.
    const res = guardOf(path)?.(c.req.raw) ?? o.notFound(c.req.method, path);
    stats.record(c.req.method, UNMATCHED_ROUTE, res.status, (now() - t0) / 1000);
    return res;
  });
  app.onError((err, c) => onError(err, c.req.method, c.req.path));
  return {
    get: (path, handler) => add("GET", path, handler),
    post: (path, handler) => add("POST", path, handler),
  };
}
