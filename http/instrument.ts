/**
 * Routes registered with their metrics, errors and (for /v1) the bearer
 * token built in: each handler is wrapped once, at registration, so a
 * request is still a single handler to Hono. Hono runs a lone handler
 * directly and composes a chain only when middleware also matches; a
 * catch-all metrics middleware put every request on that slower path and
 * looked up the route pattern per request.
 *
 * Routes whose path has no parameters are also listed as "static routes"
 * (staticRoutes()): the same wrapped handler, taking a plain Request, for a
 * runtime whose server routes exact paths itself (Bun.serve's `routes`,
 * see serve.ts). Such a request skips Hono's context and router, about a
 * microsecond of a walk-into's ~20; everything else (other methods, other
 * paths) still reaches Hono through the server's fetch handler.
 */
import { type Prebuilt, withPrebuilt } from "../adapter/prebuilt.ts";
import type { Context, Hono } from "hono";
import { getQueryParam, getQueryParams } from "hono/utils/url";
import { RoomyError } from "../core/errors.ts";
import { parseCappedBody, readJson } from "./body.ts";
import { type HttpStats, UNMATCHED_ROUTE } from "./http-stats.ts";
import { JSON_CONTENT_TYPE, orderedJson } from "./json.ts";
import type { ExactRoute } from "../adapter/serve.ts";

/**
 * What a handler sees of its request. Hono's `c.req` is one; a static
 * route served by the runtime gets a small one (StaticRequest).
 */
export interface RouteRequest {
  readonly raw: Request;
  /** A path parameter of the matched route pattern. */
  param(name: string): string | undefined;
  /** The first value of a query parameter, decoded. */
  query(name: string): string | undefined;
  /** Every value of a query parameter, decoded (undefined when absent). */
  queries(name: string): string[] | undefined;
}

export type RouteHandler = (r: RouteRequest) => Response | Promise<Response>;

/** A write: given the request's JSON body; answered `{"ok":true}` once it resolves. */
/** `left`: aborts when the client leaves (closes its connection), where the server can tell. */
export type WriteHandler = (body: Record<string, unknown>, r: RouteRequest, left?: AbortSignal) => unknown;

export interface Routes {
  /** `big`: answers may be megabytes (a dump): see ExactRoute.alone. */
  get(path: string, handler: RouteHandler, big?: boolean): void;
  post(path: string, handler: RouteHandler): void;
  /**
   * A POST taking a JSON object body (read within the size limit, checked as
   * in body.ts) and answering `{"ok":true}`. The body is read here, awaited
   * in the same frame as the write: the two awaits a bare handler has, no
   * more.
   */
  write(path: string, handler: WriteHandler): void;
}

/** How write routes read their bodies (body.ts). */
export interface BodyOptions {
  maxBodyBytes: number;
  /** The server refuses bodies past a hard cap itself: the body is read whole as text (see readJson). */
  serverCapped: boolean;
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
  /**
   * A write whose body could not be read to its end: the client went away
   * (or its connection broke) half-way. Not the server's error; the answer
   * (nobody reads it) is counted under its status.
   */
  clientGone(method: string, path: string, err: unknown): Response;
  /**
   * Writes read while the node's event loop stalls or just did (a SIGSTOP,
   * a long pause): such a request may have sat in its socket while its
   * client gave up, and applied now it could undo a write acknowledged
   * since through another node (tests/cluster/hostile-zombie-write). Then
   * the write waits one turn of the loop that polls its socket (`turn`), so
   * a client that closed the connection shows in its `signal` (also handed
   * to the write), and is dropped (`abandoned`'s answer, which nobody reads)
   * unapplied.
   */
  afterStall?: { behind(): boolean; turn(): Promise<void>; signal(req: Request): AbortSignal; abandoned(method: string, path: string): Response };
  guard?: Guard;
  body: BodyOptions;
}

const STATIC = new WeakMap<Hono, ExactRoute[]>();

/** The routes of `app` without path parameters (an app not built by instrumentedRoutes has none). */
export function staticRoutes(app: Hono): ExactRoute[] {
  return STATIC.get(app) ?? [];
}

export function instrumentedRoutes(app: Hono, o: InstrumentOptions): Routes {
  const { stats, onError, guard, afterStall } = o;
  const now = stats.now;
  const statics: ExactRoute[] = [];
  STATIC.set(app, statics);
  const guardOf = (path: string): Guard["check"] | null => (guard !== undefined && path.startsWith(guard.prefix) ? guard.check : null);
  const { maxBodyBytes, serverCapped } = o.body;
  type Run = (raw: Request, r: RouteRequest, errPath: () => string) => Promise<Response>;
  const add = (method: "GET" | "POST", path: string, h: RouteHandler | null, w: WriteHandler | null = null, big = false): void => {
    const counters = stats.route(method, path);
    const check = guardOf(path);
    // One body for both ways in: `r` is Hono's request or a StaticRequest, `errPath` what an error log names.
    const run: Run = async (raw, r, errPath) => {
      const t0 = now();
      let res: Response;
      try {
        const refused = check === null ? null : check(raw);
        if (refused !== null) res = refused;
        else if (raw.url.includes("%") && !wellEncoded(raw.url)) throw badEncoding();
        else if (w === null) res = await h!(r);
        else {
          let body: Record<string, unknown>;
          try {
            body = serverCapped ? parseCappedBody(await raw.text(), maxBodyBytes) : await readJson(raw, maxBodyBytes);
          } catch (err) {
            // The body's own faults are RoomyErrors (too large, not JSON, ...); anything else is the read failing.
            throw err instanceof RoomyError ? err : new BodyReadError(err);
          }
          const left = afterStall?.signal(raw);
          // Only after a stall: a client that half-closed and still waits is served otherwise.
          let gone = false;
          if (afterStall !== undefined && afterStall.behind()) {
            await afterStall.turn();
            gone = left!.aborted;
          }
          if (gone) res = afterStall!.abandoned(method, errPath());
          else {
            await w(body, r, left);
            res = ok();
          }
        }
      } catch (err) {
        res = err instanceof BodyReadError ? o.clientGone(method, errPath(), err.cause) : onError(err, method, errPath());
      }
      counters.record(res.status, (now() - t0) / 1000);
      return res;
    };
    const wrapped = (c: Context): Promise<Response> => run(c.req.raw, c.req, () => c.req.path);
    if (method === "GET") app.get(path, wrapped);
    else app.post(path, wrapped);
    if (!path.includes(":") && !path.includes("*")) {
      const errPath = () => path;
      statics.push({ method, path, handler: (req) => run(req, new StaticRequest(req), errPath), ...(big ? { alone: true } : {}) });
    }
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
    get: (path, handler, big) => add("GET", path, handler, null, big),
    post: (path, handler) => add("POST", path, handler),
    write: (path, handler) => add("POST", path, null, handler),
  };
}

/**
 * Whether every percent-escape of `url` decodes, as UTF-8, to well-formed
 * text. Hono's decoding keeps an escape it cannot decode as typed, so `%FF`
 * or `%ED%A0%80` (a lone surrogate) would reach the app as the different,
 * valid name "%FF": a name the client never sent.
 */
function wellEncoded(url: string): boolean {
  try {
    decodeURIComponent(url); // throws on a bad escape or bytes that are not UTF-8 (surrogates included)
    return true;
  } catch {
    return false;
  }
}

function badEncoding(): RoomyError {
  return new RoomyError("bad_request", "the URL is not valid percent-encoded UTF-8 (every % must start an escape such as %2F, and the escapes must spell UTF-8 text)");
}

/**
 * A JSON body for a route that reads its own (not a write): its faults are
 * RoomyErrors, and a body that fails to arrive is the client gone (499), as
 * for a write, not a 500.
 */
export async function readRouteBody(raw: Request, limit: number): Promise<Record<string, unknown>> {
  try {
    return await readJson(raw, limit);
  } catch (err) {
    throw err instanceof RoomyError ? err : new BodyReadError(err);
  }
}

/** A request body that failed to arrive (see InstrumentOptions.clientGone). */
class BodyReadError extends Error {
  constructor(override readonly cause: unknown) {
    super("the request body could not be read");
  }
}

const OK_TEXT = orderedJson({ ok: true });
const OK_INIT: ResponseInit = { status: 200, headers: { "content-type": JSON_CONTENT_TYPE } };

const OK_PREBUILT: Prebuilt = { status: 200, headers: `content-type: ${JSON_CONTENT_TYPE}\r\n`, body: new TextEncoder().encode(OK_TEXT) };

/** `{"ok":true}`, the answer of every write: its text and its bytes made once. */
export function ok(): Response {
  return withPrebuilt(new Response(OK_TEXT, OK_INIT), OK_PREBUILT);
}

/** A static route's request: no path parameters; the query read with Hono's own helpers, so both ways decode alike. */
export class StaticRequest implements RouteRequest {
  constructor(readonly raw: Request) {}

  param(_name: string): string | undefined {
    return undefined;
  }

  query(name: string): string | undefined {
    return getQueryParam(this.raw.url, name) as string | undefined;
  }

  queries(name: string): string[] | undefined {
    return getQueryParams(this.raw.url, name) as string[] | undefined;
  }
}
